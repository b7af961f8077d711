"""The ``[voice]`` section of journeymap.toml, with defaults and clear errors.

Every voice function takes the plain settings dict (as the workspace reads it from the
toml) and calls :func:`voice_settings` once, so defaults live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Score scales per feedback kind as (lowest, highest). CES follows CES 2.0: "the company
#: made it easy for me", 1 = strongly disagree .. 7 = strongly agree, so higher is better
#: for every kind. Override per workspace with ``[voice.scales] ces = [1, 5]``.
DEFAULT_SCALES: dict[str, tuple[float, float]] = {
    "nps": (0.0, 10.0),
    "csat": (1.0, 5.0),
    "ces": (1.0, 7.0),
    "review": (1.0, 5.0),
}

CSAT_MODES = ("mean", "top2box")


class VoiceSettingsError(ValueError):
    """A ``[voice]`` setting has a value journeymap cannot use."""


@dataclass(frozen=True)
class VoiceSettings:
    """Resolved ``[voice]`` settings (see docs/contracts.md, journeymap.toml)."""

    csat_mode: str = "mean"
    attach_window_hours: float = 72.0
    min_n: int = 30
    scales: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_SCALES))

    def scale(self, kind: str) -> tuple[float, float] | None:
        """The (lowest, highest) score of ``kind``, or None when that kind has no score."""
        return self.scales.get(kind)


def voice_settings(settings: Mapping[str, Any] | None) -> VoiceSettings:
    """Read the ``voice`` section of a workspace settings dict, filling defaults.

    Accepts the whole settings dict (``{"voice": {...}, ...}``), ``None`` or an already
    resolved :class:`VoiceSettings`.
    """
    if isinstance(settings, VoiceSettings):
        return settings
    section = dict((settings or {}).get("voice") or {})
    where = "journeymap.toml [voice]"
    mode = str(section.get("csat_mode", "mean"))
    if mode not in CSAT_MODES:
        raise VoiceSettingsError(
            f"{where} csat_mode = {mode!r}: expected one of {', '.join(CSAT_MODES)}"
        )
    try:
        window = float(section.get("attach_window_hours", 72))
    except (TypeError, ValueError):
        window = -1.0
    if window < 0:
        raise VoiceSettingsError(
            f"{where} attach_window_hours = {section.get('attach_window_hours')!r}: "
            "expected a number of hours >= 0"
        )
    min_n = section.get("min_n", 30)
    if not isinstance(min_n, int) or isinstance(min_n, bool) or min_n < 1:
        raise VoiceSettingsError(f"{where} min_n = {min_n!r}: expected a whole number >= 1")
    scales = dict(DEFAULT_SCALES)
    for kind, pair in dict(section.get("scales") or {}).items():
        ok = isinstance(pair, list | tuple) and len(pair) == 2
        if ok:
            try:
                low, high = float(pair[0]), float(pair[1])
                ok = low < high
            except (TypeError, ValueError):
                ok = False
        if not ok:
            raise VoiceSettingsError(
                f"{where} scales.{kind} = {pair!r}: "
                "expected [lowest, highest] with lowest < highest"
            )
        scales[str(kind)] = (low, high)
    return VoiceSettings(csat_mode=mode, attach_window_hours=window, min_n=min_n, scales=scales)
