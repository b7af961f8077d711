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

#: Warehouse backends: DuckDB (the workspace file holds everything) or PySpark (events,
#: feedback and customers are Spark tables; see journeymap.workspace.spark, docs/spark.md).
BACKENDS: tuple[str, ...] = ("duckdb", "pyspark")


class SettingsError(ValueError):
    """journeymap.toml cannot be read or holds a value journeymap cannot use."""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise SettingsError(f"{SETTINGS_FILE}: cannot write {value!r}: expected text, a number or bool")


def settings_text(values: dict[str, dict[str, Any]] | None = None, header: str = "") -> str:
    """The text of a journeymap.toml: the default file (with its comments) with ``values``
    (``{section: {key: value}}``) put in, after an optional ``header`` comment.

    The one writer of the file, so a workspace and the demo only differ where they mean to.
    A section or key the defaults do not have is an error (a typo would otherwise be lost).
    """
    wanted = {
        (section, key): v for section, keys in (values or {}).items() for key, v in keys.items()
    }
    unknown = [f"[{s}] {k}" for s, k in wanted if k not in DEFAULTS.get(s, {})]
    if unknown:
        raise SettingsError(f"{SETTINGS_FILE}: unknown setting(s) {', '.join(unknown)}")
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    section = ""
    for line in DEFAULT_TOML.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        key, sep, rest = line.partition(" = ")
        if sep and (section, key) in wanted:
            value, _, comment = rest.partition("  ")
            text = f"{key} = {_toml_value(wanted[(section, key)])}"
            line = f"{text:<32} {comment.strip()}".rstrip() if comment.strip() else text
        lines.append(line)
    return "\n".join(lines) + "\n"


def write_settings(
    folder: Path, values: dict[str, dict[str, Any]] | None = None, header: str = ""
) -> Path:
    """Write journeymap.toml into ``folder`` (see :func:`settings_text`); returns its path."""
    file = Path(folder) / SETTINGS_FILE
    file.write_text(settings_text(values, header), encoding="utf-8")
    return file


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
    toml is broken, the backend is unknown or the time zone is unknown.
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
    if backend not in BACKENDS:
        raise SettingsError(
            f"{file}: [warehouse] backend = {backend!r}: expected one of "
            f"{', '.join(map(repr, BACKENDS))}"
        )
    for key in ("tables", "spark_conf"):
        if not isinstance(settings["warehouse"].get(key, {}), dict):
            raise SettingsError(
                f"{file}: [warehouse] {key}: expected a table ([warehouse.{key}]) of names"
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
