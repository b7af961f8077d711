"""journeymap.toml: the workspace settings, read with :mod:`tomllib`.

The defaults below are the contract's example file; a workspace's toml overrides them
key by key, so an older workspace keeps working when a new setting appears.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SETTINGS_FILE = "journeymap.toml"

DEFAULT_TOML = """\
[workspace]
timezone = "UTC"                 # for naive timestamps in input

[warehouse]
backend = "duckdb"
path = ".journeymap/warehouse.duckdb"

[sessions]
inactivity_minutes = 30

[identity]
default_phone_region = "GB"
hub_cap = 20

[voice]
csat_mode = "mean"               # or top2box
attach_window_hours = 72
min_n = 30
"""

DEFAULTS: dict[str, Any] = tomllib.loads(DEFAULT_TOML)


class SettingsError(ValueError):
    """journeymap.toml cannot be read or holds a value journeymap cannot use."""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(path: Path) -> dict[str, Any]:
    """Settings of the workspace at ``path`` (a folder or the toml file), defaults filled in.

    Raises :class:`SettingsError` naming the file (and line for syntax errors) when the
    toml is broken, the backend is not duckdb or the time zone is unknown.
    """
    file = path / SETTINGS_FILE if path.is_dir() else path
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{file}: not found; is this a journeymap workspace?") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{file}: invalid TOML: {exc}") from None
    settings = _merge(DEFAULTS, data)
    backend = settings["warehouse"].get("backend")
    if backend != "duckdb":
        raise SettingsError(
            f"{file}: [warehouse] backend = {backend!r}: only 'duckdb' is supported so far"
        )
    timezone(settings, file)
    return settings


def timezone(settings: dict[str, Any], where: Path | str = SETTINGS_FILE) -> str:
    """The IANA zone naive input timestamps are read in (``[workspace] timezone``)."""
    name = settings.get("workspace", {}).get("timezone", "UTC")
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"{where}: [workspace] timezone = {name!r} is not an IANA time zone "
            "(expected e.g. 'UTC' or 'Europe/London')"
        ) from None
    return str(name)
