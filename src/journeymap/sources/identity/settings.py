"""The ``[identity]`` section of journeymap.toml, with defaults and clear errors.

Read once per stitch so the defaults live in one place (docs/contracts.md, journeymap.toml).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

DEFAULT_HUB_CAP = 20
DEFAULT_PHONE_REGION = "GB"


class IdentitySettingsError(ValueError):
    """An ``[identity]`` setting or argument has a value journeymap cannot use."""


@dataclass(frozen=True)
class IdentitySettings:
    """Resolved identity settings.

    ``hub_cap`` is the largest degree an identifier value may have and still be used for
    merging; ``0`` switches hub protection off (see :mod:`journeymap.sources.identity.stitch`
    for how the degree is counted).
    """

    hub_cap: int = DEFAULT_HUB_CAP
    default_phone_region: str = DEFAULT_PHONE_REGION


def identity_settings(
    settings: Mapping[str, Any] | None,
    *,
    hub_cap: int | None = None,
    default_region: str | None = None,
) -> IdentitySettings:
    """Resolve ``[identity]`` from a workspace settings dict; explicit arguments win."""
    section = dict((settings or {}).get("identity") or {})
    where = "journeymap.toml [identity]"
    cap = section.get("hub_cap", DEFAULT_HUB_CAP) if hub_cap is None else hub_cap
    cap_where = f"{where} hub_cap" if hub_cap is None else "hub_cap argument"
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
        raise IdentitySettingsError(
            f"{cap_where} = {cap!r}: expected a whole number >= 0 (0 switches hub protection off)"
        )
    region = (
        section.get("default_phone_region", DEFAULT_PHONE_REGION)
        if default_region is None
        else default_region
    )
    region_where = f"{where} default_phone_region" if default_region is None else "default_region"
    supported = phonenumbers.SUPPORTED_REGIONS
    if not isinstance(region, str) or region.upper() not in supported:
        raise IdentitySettingsError(
            f"{region_where} = {region!r}: expected a two-letter region code known to "
            "phonenumbers, such as GB, US or DE"
        )
    return IdentitySettings(hub_cap=cap, default_phone_region=region.upper())
