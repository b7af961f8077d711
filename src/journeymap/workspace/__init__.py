"""The workspace folder: journey.yaml, journeymap.toml and the warehouse (.journeymap/).

``journeymap.Workspace.create(path)`` makes one, ``journeymap.open(path)`` opens one.
"""

from journeymap.workspace.settings import SettingsError
from journeymap.workspace.workspace import Workspace, WorkspaceError, open

__all__ = ["SettingsError", "Workspace", "WorkspaceError", "open"]
