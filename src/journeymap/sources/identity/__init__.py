"""Identity stitching: one customer across cookies, devices, emails, phones and CRM ids.

``stitch(ws)`` is step 1 of the workspace refresh pipeline (docs/contracts.md). How the
graph is built, how ids are chosen and how hubs are counted: :mod:`.stitch`.
"""

from __future__ import annotations

from journeymap.sources.identity.normalize import ID_TYPES, e164, normalise_email, phone_map
from journeymap.sources.identity.propagate import StitchConvergenceError, component_labels
from journeymap.sources.identity.report import Component, Hub, StitchReport
from journeymap.sources.identity.settings import (
    IdentitySettings,
    IdentitySettingsError,
    identity_settings,
)
from journeymap.sources.identity.stitch import stitch, stitch_in

__all__ = [
    "ID_TYPES",
    "Component",
    "Hub",
    "IdentitySettings",
    "IdentitySettingsError",
    "StitchConvergenceError",
    "StitchReport",
    "component_labels",
    "e164",
    "identity_settings",
    "normalise_email",
    "phone_map",
    "stitch",
    "stitch_in",
]
