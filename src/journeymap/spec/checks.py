"""Cross-reference checks of a journey spec that types alone cannot express.

They run on plain data (not on the model) so they still report duplicate ids and
unknown references when some other field has the wrong type: the point of
validation is to show every problem in one pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from journeymap.spec.conditions import regex_problem
from journeymap.spec.document import ID_KINDS
from journeymap.spec.issues import Path, did_you_mean, format_path


@dataclass(frozen=True)
class Problem:
    """A problem located by field path; validation adds file, line and column."""

    path: Path
    code: str
    message: str
    expected: str | None = None
    suggestion: str | None = None
    severity: Literal["error", "warning"] = "error"


KINDS = ID_KINDS


def semantic_problems(data: dict[str, Any]) -> list[Problem]:
    """Every cross-reference problem in ``data`` (a journey.yaml as plain data)."""
    problems: list[Problem] = []
    problems += _duplicate_ids(data)
    stages = _ids(data, "stages")
    touchpoints = _ids(data, "touchpoints")
    tp_stage: dict[str, Any] = {}
    for _, item in _items(data, "touchpoints"):
        if isinstance(item.get("id"), str):
            tp_stage.setdefault(item["id"], item.get("stage"))  # the first definition counts
    for index, item in _items(data, "touchpoints"):
        problems += _reference(("touchpoints", index, "stage"), item.get("stage"), "stage", stages)
    problems += _goal(data, touchpoints)
    for key in ("pain_points", "opportunities"):
        for index, item in _items(data, key):
            problems += _target(key, index, item, stages, touchpoints, tp_stage)
    problems += _empty_stages(data)
    problems += _regexes(data)
    problems += _unmatched_touchpoints(data)
    return problems


def _items(data: dict[str, Any], key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    items = data.get(key)
    if not isinstance(items, list):
        return
    for index, item in enumerate(items):
        if isinstance(item, dict):
            yield index, item


def _ids(data: dict[str, Any], key: str) -> list[str]:
    return [item["id"] for _, item in _items(data, key) if isinstance(item.get("id"), str)]


def _duplicate_ids(data: dict[str, Any]) -> list[Problem]:
    problems = []
    for key, kind in KINDS.items():
        first: dict[str, int] = {}
        for index, item in _items(data, key):
            item_id = item.get("id")
            if not isinstance(item_id, str):
                continue
            if item_id in first:
                problems.append(
                    Problem(
                        (key, index, "id"),
                        "duplicate_id",
                        f"duplicate {kind} id {item_id!r}, first defined at "
                        f"{format_path((key, first[item_id]))}",
                        expected=f"ids unique among {key}",
                        suggestion=f"rename one of them, e.g. {item_id + '_2'!r}",
                    )
                )
            else:
                first[item_id] = index
    return problems


def _reference(path: Path, value: Any, kind: str, known: list[str]) -> list[Problem]:
    if not isinstance(value, str) or value in known:
        return []
    return [
        Problem(
            path,
            "unknown_reference",
            f"{kind} {value!r} is not defined",
            expected=f"the id of one of the {kind}s",
            suggestion=did_you_mean(value, known) or _known_hint(kind, known),
        )
    ]


def _known_hint(kind: str, known: list[str]) -> str:
    if not known:
        return f"no {kind}s are defined yet; add one under {kind}s"
    shown = ", ".join(repr(k) for k in known[:8])
    more = f" and {len(known) - 8} more" if len(known) > 8 else ""
    return f"known {kind}s: {shown}{more}"


def _goal(data: dict[str, Any], touchpoints: list[str]) -> list[Problem]:
    goal = data.get("goal")
    target = goal.get("touchpoint") if isinstance(goal, dict) else None
    if target is None:
        return [
            Problem(
                ("goal",),
                "missing_goal",
                "the goal names no touchpoint",
                expected="goal: {touchpoint: <id of the conversion touchpoint>}",
                suggestion=_known_hint("touchpoint", touchpoints),
            )
        ]
    return _reference(("goal", "touchpoint"), target, "touchpoint", touchpoints)


def _target(
    key: str,
    index: int,
    item: dict[str, Any],
    stages: list[str],
    touchpoints: list[str],
    tp_stage: dict[str, Any],
) -> list[Problem]:
    kind = KINDS[key]
    touchpoint, stage = item.get("touchpoint"), item.get("stage")
    if touchpoint is None and stage is None:
        return [
            Problem(
                (key, index),
                "missing_target",
                f"the {kind} names neither a touchpoint nor a stage",
                expected="touchpoint: <id> or stage: <id>",
            )
        ]
    problems = _reference((key, index, "touchpoint"), touchpoint, "touchpoint", touchpoints)
    problems += _reference((key, index, "stage"), stage, "stage", stages)
    if (
        not problems
        and isinstance(touchpoint, str)
        and isinstance(stage, str)
        and tp_stage.get(touchpoint) != stage
    ):
        problems.append(
            Problem(
                (key, index, "stage"),
                "inconsistent_target",
                f"touchpoint {touchpoint!r} belongs to stage {tp_stage.get(touchpoint)!r}, "
                f"not {stage!r}",
                expected="the stage of the touchpoint, or only one of touchpoint and stage",
                suggestion=f"remove stage, or set it to {tp_stage.get(touchpoint)!r}",
            )
        )
    return problems


def _empty_stages(data: dict[str, Any]) -> list[Problem]:
    used = {item.get("stage") for _, item in _items(data, "touchpoints")}
    return [
        Problem(
            ("stages", index),
            "empty_stage",
            f"stage {item['id']!r} has no touchpoint",
            expected="at least one touchpoint with this stage",
            suggestion=f"add a touchpoint with 'stage: {item['id']}', or remove the stage",
        )
        for index, item in _items(data, "stages")
        if isinstance(item.get("id"), str) and item["id"] not in used
    ]


def _regexes(data: dict[str, Any]) -> list[Problem]:
    problems = []
    for index, item in _items(data, "touchpoints"):
        match = item.get("match")
        if not isinstance(match, dict):
            continue
        event = match.get("event")
        if isinstance(event, dict) and "regex" in event:
            problems += _regex(("touchpoints", index, "match", "event", "regex"), event["regex"])
        problems += _condition_regexes(("touchpoints", index, "match", "where"), match.get("where"))
    for index, item in _items(data, "personas"):
        problems += _condition_regexes(("personas", index, "rule"), item.get("rule"))
    return problems


def _condition_regexes(path: Path, conditions: Any) -> list[Problem]:
    if not isinstance(conditions, dict):
        return []
    problems = []
    for name, condition in conditions.items():
        if isinstance(condition, dict) and "regex" in condition:
            problems += _regex((*path, name, "regex"), condition["regex"])
    return problems


def _regex(path: Path, pattern: Any) -> list[Problem]:
    problem = regex_problem(pattern) if isinstance(pattern, str) else None
    if problem is None:  # a non-text pattern is a type error, reported by the models
        return []
    return [
        Problem(
            path,
            "invalid_regex",
            problem,
            expected="a regular expression (Python re / RE2 syntax)",
            suggestion="escape special characters such as ( ) [ ] . * + ? with a backslash",
        )
    ]


def _unmatched_touchpoints(data: dict[str, Any]) -> list[Problem]:
    """A touchpoint without a match rule is allowed (designed, not yet measured), but no
    event will ever map to it, so it is worth a warning."""
    return [
        Problem(
            ("touchpoints", index),
            "no_match_rule",
            f"touchpoint {item.get('id')!r} has no match rule, so no event maps to it",
            expected="match: {event: ..., channel: ..., where: ...}",
            suggestion="add a match rule once the touchpoint is tracked",
            severity="warning",
        )
        for index, item in _items(data, "touchpoints")
        if item.get("match") is None and "match" not in item
    ]
