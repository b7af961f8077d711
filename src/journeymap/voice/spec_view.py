"""The few facts voice needs from a JourneySpec, read in one place.

Voice uses only touchpoint ids, each touchpoint's stage, the stage order and the goal
touchpoint. Reading them here keeps the rest of the package indifferent to how the spec
model nests them, and lets a missing spec (``None``) mean "no touchpoints".
"""

from __future__ import annotations

from typing import Any


def touchpoint_ids(spec: Any | None) -> list[str]:
    """Touchpoint ids in file order (empty without a spec)."""
    return [tp.id for tp in getattr(spec, "touchpoints", None) or []]


def stage_of(spec: Any | None) -> dict[str, str]:
    """Touchpoint id -> its stage id."""
    return {tp.id: tp.stage for tp in getattr(spec, "touchpoints", None) or []}


def stage_order(spec: Any | None) -> list[str]:
    """Stage ids in journey order."""
    order = getattr(spec, "stage_order", None)
    if order is not None:
        return list(order)
    return [st.id for st in getattr(spec, "stages", None) or []]


def goal_touchpoint(spec: Any | None) -> str | None:
    """The conversion goal's touchpoint id, or None when the spec names none."""
    goal = getattr(spec, "goal", None)
    return getattr(goal, "touchpoint", None) if goal is not None else None
