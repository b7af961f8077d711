"""Problems found in a journey.yaml, and the error that carries all of them.

Validation never stops at the first problem: it collects :class:`SpecIssue` objects
so a person fixing the file sees everything in one pass, each with file:line, the
field path, what was expected and, for a misspelt id, the closest known one.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

PathPart = str | int
_PLAIN_KEY = re.compile(r"^[^\W\d]\w*$")
Path = tuple[PathPart, ...]


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a journey spec."""

    code: str
    path: str
    message: str
    expected: str | None = None
    suggestion: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    severity: Literal["error", "warning"] = "error"

    def location(self) -> str:
        """``file:line`` (or as much of it as is known)."""
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
        return where

    def format(self) -> str:
        """``file:line: field: message (expected ...; did you mean ...?)``."""
        text = f"{self.location()}: {self.path or '<root>'}: {self.message}"
        extra = [part for part in (_expected(self.expected), self.suggestion) if part]
        if extra:
            text += f" ({'; '.join(extra)})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for ``journeymap validate --format json`` and the web app."""
        return asdict(self)


def _expected(expected: str | None) -> str | None:
    return f"expected {expected}" if expected else None


class SpecError(ValueError):
    """A journey spec with problems; ``.issues`` lists every one of them."""

    def __init__(self, issues: Sequence[SpecIssue]):
        self.issues = list(issues)
        super().__init__(self.report())

    def report(self) -> str:
        """A readable multi-line report, one problem per line."""
        errors = [i for i in self.issues if i.severity == "error"]
        source = next((i.file for i in self.issues if i.file), "journey spec")
        noun = "problem" if len(errors) == 1 else "problems"
        lines = [f"{source}: {len(errors)} {noun}"]
        lines += [f"  {issue.format()}" for issue in self.issues]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def format_path(path: Iterable[PathPart]) -> str:
    """``("touchpoints", 3, "stage")`` -> ``touchpoints[3].stage``.

    Keys that are not plain names (a property called ``a.b``) are written ``["a.b"]``.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _PLAIN_KEY.match(str(part)):
            text += f"[{json.dumps(str(part), ensure_ascii=False)}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def did_you_mean(value: Any, known: Iterable[str]) -> str | None:
    """``did you mean 'purchase'?`` for the closest known name, or None."""
    if not isinstance(value, str):
        return None
    close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
