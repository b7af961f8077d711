"""Validation of journey.yaml: every problem at once, each with file:line.

Two passes over one parsed file: the pydantic models check types and shapes, and
:mod:`journeymap.spec.checks` checks cross-references. Both report field paths,
which are mapped back to lines through the ruamel.yaml round-trip tree.
"""

from __future__ import annotations

import os
import re
import types
import typing
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from journeymap.spec.checks import Problem, semantic_problems
from journeymap.spec.conditions import OPERATORS
from journeymap.spec.document import SpecDocument, atomic_write_text, position, to_plain
from journeymap.spec.issues import SpecError, SpecIssue, did_you_mean, format_path
from journeymap.spec.models import Condition, JourneySpec


def validate_file(path: str | os.PathLike[str]) -> list[SpecIssue]:
    """Every problem in a journey.yaml file (an empty list when it is valid)."""
    try:
        return SpecDocument.load(path).issues()
    except SpecError as exc:
        return exc.issues


def validate_text(text: str, file: str | None = None) -> list[SpecIssue]:
    """Every problem in journey.yaml text; ``file`` names it in messages."""
    try:
        return SpecDocument.from_text(text, path=file).issues()
    except SpecError as exc:
        return exc.issues


def load_spec(path: str | os.PathLike[str]) -> JourneySpec:
    """Read and validate journey.yaml; raises SpecError listing every problem."""
    return SpecDocument.load(path).spec


def save_spec(spec: JourneySpec | SpecDocument, path: str | os.PathLike[str]) -> FsPath:
    """Write a spec or a document to ``path`` atomically.

    A JourneySpec saved over an existing journey.yaml is merged into it, so the
    comments and key order of the parts it does not change survive.
    """
    target = FsPath(path)
    if isinstance(spec, SpecDocument):
        return spec.save(target)
    document = None
    if target.exists():
        try:
            document = SpecDocument.load(target)
        except SpecError:
            document = None  # unreadable or not YAML: replaced by a fresh file below
    if document is None:
        document = SpecDocument.from_text("", path=target)
    document.update(spec)
    atomic_write_text(target, document.dumps())
    return target


def check_spec(spec: JourneySpec) -> list[SpecIssue]:
    """Cross-reference problems of a spec built in Python (no lines: there is no file)."""
    return [_issue(problem, None, None) for problem in semantic_problems(spec.to_data())]


def validate_tree(tree: Any, file: str | None) -> list[SpecIssue]:
    """Every problem in a parsed round-trip tree, sorted by line."""
    data = to_plain(tree)
    problems = _model_problems(data) + semantic_problems(data)
    issues = [_issue(problem, tree, file) for problem in problems]
    return sorted(issues, key=lambda i: (i.line or 0, i.column or 0))


def spec_from_tree(tree: Any, file: str | None) -> JourneySpec:
    """The model of a parsed tree; raises SpecError when there is any error."""
    issues = validate_tree(tree, file)
    if any(issue.severity == "error" for issue in issues):
        raise SpecError(issues)
    return JourneySpec.model_validate(to_plain(tree))


def _issue(problem: Problem, tree: Any, file: str | None) -> SpecIssue:
    line, column = position(tree, problem.path) if tree is not None else (None, None)
    return SpecIssue(
        code=problem.code,
        path=format_path(problem.path),
        message=problem.message,
        expected=problem.expected,
        suggestion=problem.suggestion,
        file=file,
        line=line,
        column=column,
        severity=problem.severity,
    )


def _model_problems(data: Any) -> list[Problem]:
    try:
        JourneySpec.model_validate(data)
    except ValidationError as exc:
        return [_from_pydantic(error) for error in exc.errors()]
    return []


def _from_pydantic(error: ErrorDetails) -> Problem:
    loc = tuple(error["loc"])
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    name = loc[-1] if loc else "value"
    if kind == "missing":
        return Problem(loc, "missing_field", f"required field {name!r} is missing", f"a {name}")
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        if model is Condition:
            return Problem(
                loc,
                "unknown_operator",
                f"unknown operator {name!r}",
                expected=f"one of {', '.join(OPERATORS)}",
                suggestion=did_you_mean(name, OPERATORS),
            )
        allowed = _field_names(model)
        return Problem(
            loc,
            "unknown_field",
            f"unknown field {name!r}",
            expected=f"one of {', '.join(allowed)}" if allowed else None,
            suggestion=did_you_mean(name, allowed),
        )
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        owner = _model_at(loc[:-1])
        bounds = _bounds(owner.model_fields.get(str(name)) if owner else None)
        return Problem(
            loc,
            "out_of_range",
            f"{name} {given!r} is out of range",
            expected=bounds or error["msg"].replace("Input should be ", "a value "),
        )
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return Problem(
            loc,
            "invalid_choice",
            f"{name} {given!r} is not allowed",
            expected=f"one of {', '.join(choices)}",
            suggestion=did_you_mean(given, choices),
        )
    if kind == "string_pattern_mismatch" and name == "id":
        return Problem(
            loc,
            "invalid_id",
            f"id {given!r} is not lowercase snake_case",
            expected="lowercase letters, digits and _ starting with a letter, e.g. 'product_page'",
            suggestion=f"use {_slug(given)!r}" if _slug(given) else None,
        )
    message = error["msg"].removeprefix("Value error, ")
    if kind == "value_error":
        return Problem(loc, "invalid_value", message)
    expected = message.removeprefix("Input should be ").removesuffix(".")
    return Problem(
        loc, "wrong_type", f"{name} has the wrong type (got {given!r})", expected=expected
    )


def _bounds(field: Any) -> str | None:
    if field is None:
        return None
    low = next((m.ge for m in field.metadata if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in field.metadata if getattr(m, "le", None) is not None), None)
    if low is not None and high is not None:
        kind = "an integer" if field.annotation is int else "a number"
        return f"{kind} from {low} to {high}"
    return None


def _slug(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    slug = re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")
    if slug and not slug[0].isalpha():
        slug = f"x_{slug}"
    return slug


def _field_names(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the value at ``loc`` (for unknown-key messages)."""
    model: type[BaseModel] | None = JourneySpec
    skip_key = False
    for part in loc:
        if skip_key:
            skip_key = False
            continue
        if isinstance(part, int) or model is None:
            continue
        field = next(
            (f for n, f in model.model_fields.items() if part in (n, f.alias)),
            None,
        )
        if field is None:
            return None
        model, skip_key = _unwrap(field.annotation)
    return model


def _unwrap(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(model inside a field's type, whether the model sits under dict keys)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict:
        model, _ = _unwrap(args[1])
        return model, True
    if origin in (list, typing.Union, types.UnionType, typing.Annotated):
        for arg in args:
            model, under_dict = _unwrap(arg)
            if model is not None:
                return model, under_dict
    return None, False
