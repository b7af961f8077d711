"""Edits of journey.yaml from the web app: validated, conflict-checked, versioned.

Every edit goes through :class:`journeymap.spec.SpecDocument`, so the comments and
formatting a person wrote by hand survive. An edit names the version it was made
against (an ETag, the hash of the file's text); if the file changed since, the edit is
refused with :class:`EditConflict` (HTTP 409) instead of overwriting someone's work.
Each saved edit is recorded as a version in the app database, so it can be restored.
"""

from __future__ import annotations

import difflib
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journeymap.spec import SpecDocument, SpecError, SpecIssue
from journeymap.spec.document import ID_KINDS, atomic_write_text
from journeymap.web.state import AppState
from journeymap.workspace.workspace import HISTORY_DIR

EDITABLE: dict[str, tuple[str, ...]] = {
    "personas": ("name", "description", "goals", "frustrations", "rule"),
    "stages": ("name", "goal", "owner", "description"),
    "touchpoints": (
        "name",
        "stage",
        "channel",
        "owner",
        "expectation",
        "description",
        "match",
        "kpis",
    ),
    "pain_points": ("title", "touchpoint", "stage", "description", "severity"),
    "opportunities": (
        "title",
        "touchpoint",
        "stage",
        "description",
        "impact",
        "effort",
        "owner",
        "status",
    ),
}
"""Which fields of each kind the editor may set (ids change only through a rename)."""

_write_lock = threading.Lock()


class EditConflict(Exception):
    """The file changed since the version the edit was made against."""

    def __init__(self, expected: str | None, current: str) -> None:
        self.expected, self.current = expected, current
        super().__init__(
            f"journey.yaml changed since version {expected!r} (now {current!r}): "
            "reload, re-apply your change and save again"
        )


class EditRejected(ValueError):
    """The edit would leave journey.yaml invalid, or names something that does not exist."""

    def __init__(self, message: str, issues: list[SpecIssue] | None = None) -> None:
        self.issues = issues or []
        super().__init__(message)

    def to_dict(self) -> dict[str, Any]:
        return {"detail": str(self), "issues": [i.to_dict() for i in self.issues]}


@dataclass
class EditResult:
    etag: str
    version_id: int
    message: str


def etag_of(text: str) -> str:
    """The version token of a journey.yaml text (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def current(spec_path: Path) -> tuple[str, str]:
    """(text, etag) of journey.yaml as it is on disk now."""
    text = Path(spec_path).read_text(encoding="utf-8")
    return text, etag_of(text)


def archive(spec_path: Path, version_id: int, text: str) -> Path:
    """Copy of a version beside the warehouse (``.journeymap/history/00012.yaml``), so
    the history survives without the app database and can be read with any editor."""
    target = Path(spec_path).parent / HISTORY_DIR / f"{version_id:05d}.yaml"
    atomic_write_text(target, text)
    return target


def record(state: AppState, spec_path: Path, text: str, etag: str, author: str, message: str):
    """Add a version to the app database and its copy to the history folder."""
    version = state.add_version(text, etag, author, message)
    archive(spec_path, version.id, text)
    return version


def ensure_baseline(state: AppState, spec_path: Path) -> None:
    """Record the file as first seen, so the first web edit can be undone too."""
    text, etag = current(spec_path)
    latest = state.latest_version()
    if latest is None or latest.etag != etag:
        record(state, spec_path, text, etag, "journeymap", "as found on disk")


def _clean(kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    if kind not in EDITABLE:
        raise EditRejected(f"kind {kind!r}: expected one of {', '.join(EDITABLE)}")
    unknown = sorted(set(fields) - set(EDITABLE[kind]) - {"id"})
    if unknown:
        raise EditRejected(
            f"{kind}: field(s) {', '.join(unknown)} cannot be edited here "
            f"(expected some of {', '.join(EDITABLE[kind])})"
        )
    return dict(fields)


def _locate(doc: SpecDocument, kind: str, key: str) -> int:
    """Index of the item addressed by id, or by ``#N`` (1-based) for items without an id."""
    if key.startswith("#") and key[1:].isdigit():
        index = int(key[1:]) - 1
        if 0 <= index < len(doc.tree.get(kind) or []):
            return index
        raise EditRejected(f"{ID_KINDS.get(kind, kind)} {key}: no such item")
    try:
        return doc.index_of(kind, key)
    except KeyError as exc:
        raise EditRejected(str(exc.args[0])) from exc


def _save(
    state: AppState, spec_path: Path, if_match: str | None, author: str, message: str, change
) -> EditResult:
    with _write_lock:
        text, etag = current(spec_path)
        if if_match is None or if_match.strip('"') != etag:
            raise EditConflict(if_match, etag)
        try:
            doc = SpecDocument.from_text(text, path=spec_path)
        except SpecError as exc:
            raise EditRejected("journey.yaml cannot be read", exc.issues) from exc
        change(doc)
        # validate the text that would be written: its issues then carry the line numbers
        # of that text (and nodes added in memory have no position of their own)
        doc = SpecDocument.from_text(doc.dumps(), path=spec_path)
        errors = [i for i in doc.issues() if i.severity == "error"]
        if errors:
            raise EditRejected(
                f"the edit was not saved: it would leave {len(errors)} problem(s) in journey.yaml",
                errors,
            )
        new_text = doc.dumps()
        atomic_write_text(spec_path, new_text)
        new_etag = etag_of(new_text)
        version = record(state, spec_path, new_text, new_etag, author, message)
        return EditResult(new_etag, version.id, message)


def update_item(
    state: AppState,
    spec_path: Path,
    kind: str,
    key: str,
    fields: Mapping[str, Any],
    *,
    if_match: str | None,
    author: str,
) -> EditResult:
    """Set fields of one persona/stage/touchpoint/pain point/opportunity (None removes)."""
    fields = _clean(kind, fields)
    fields.pop("id", None)

    def change(doc: SpecDocument) -> None:
        item = doc.tree[kind][_locate(doc, kind, key)]
        for name, value in fields.items():
            if value is None or value == "":
                item.pop(name, None)
            else:
                item[name] = value

    return _save(state, spec_path, if_match, author, f"edit {kind} {key}", change)


def add_item(
    state: AppState,
    spec_path: Path,
    kind: str,
    item: Mapping[str, Any],
    *,
    if_match: str | None,
    author: str,
) -> EditResult:
    """Append a new item to its list (validated like any edit)."""
    item = _clean(kind, item)

    def change(doc: SpecDocument) -> None:
        doc.append(kind, {k: v for k, v in item.items() if v not in (None, "")})

    label = item.get("id") or item.get("title") or item.get("name") or "item"
    return _save(state, spec_path, if_match, author, f"add {kind} {label}", change)


def delete_item(
    state: AppState, spec_path: Path, kind: str, key: str, *, if_match: str | None, author: str
) -> EditResult:
    """Remove an item; refused (with the issues) when something still refers to it."""
    _clean(kind, {})

    def change(doc: SpecDocument) -> None:
        del doc.tree[kind][_locate(doc, kind, key)]

    return _save(state, spec_path, if_match, author, f"delete {kind} {key}", change)


def rename_item(
    state: AppState,
    spec_path: Path,
    kind: str,
    old: str,
    new: str,
    *,
    if_match: str | None,
    author: str,
) -> EditResult:
    """Change an id and every reference to it."""
    _clean(kind, {})

    def change(doc: SpecDocument) -> None:
        _locate(doc, kind, old)
        doc.rename_id(kind, old, new)

    return _save(state, spec_path, if_match, author, f"rename {kind} {old} -> {new}", change)


def restore_version(
    state: AppState, spec_path: Path, version_id: int, *, if_match: str | None, author: str
) -> EditResult:
    """Write an earlier version back as the newest (history is never rewritten)."""
    version = state.version(version_id)
    if version is None:
        raise EditRejected(f"version {version_id}: no such version")
    with _write_lock:
        text, etag = current(spec_path)
        if if_match is None or if_match.strip('"') != etag:
            raise EditConflict(if_match, etag)
        atomic_write_text(spec_path, version.text)
        new = record(
            state, spec_path, version.text, version.etag, author, f"restore version {version_id}"
        )
        return EditResult(version.etag, new.id, new.message)


def version_diff(state: AppState, version_id: int) -> str:
    """Unified diff from the version before ``version_id`` to it."""
    versions = {v.id: v for v in state.versions()}
    if version_id not in versions:
        raise EditRejected(f"version {version_id}: no such version")
    earlier = [v for v in versions if v < version_id]
    before = versions[max(earlier)].text if earlier else ""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            versions[version_id].text.splitlines(keepends=True),
            fromfile="before",
            tofile=f"version {version_id}",
        )
    )
