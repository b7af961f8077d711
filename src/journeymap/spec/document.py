"""journey.yaml as an editable document that keeps comments and key order.

A person edits journey.yaml by hand and the web editor edits the same file; neither
may lose the other's comments. :class:`SpecDocument` holds the ruamel.yaml round-trip
tree (the source of truth for formatting) and derives the pydantic model from it on
demand. Edits go to the tree; untouched parts are written back as they were read.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from journeymap.spec.issues import Path, SpecError, SpecIssue

if TYPE_CHECKING:
    from journeymap.spec.models import JourneySpec

ID_KINDS: dict[str, str] = {
    "personas": "persona",
    "stages": "stage",
    "touchpoints": "touchpoint",
    "pain_points": "pain point",
    "opportunities": "opportunity",
}
"""The lists whose items carry an ``id`` (YAML key -> name used in messages)."""

REFERENCES: dict[str, list[tuple[str, str]]] = {
    "stages": [("touchpoints", "stage"), ("pain_points", "stage"), ("opportunities", "stage")],
    "touchpoints": [
        ("pain_points", "touchpoint"),
        ("opportunities", "touchpoint"),
        ("goal", "touchpoint"),
    ],
}
"""Where ids are referred to: kind -> (top-level key, field) pairs naming that kind."""


def new_yaml(mapping: int = 2, sequence: int = 4, offset: int = 2) -> YAML:
    """A round-trip YAML instance; long lines are never re-wrapped."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation used by ``text``, so writes match it."""
    mapping, sequence, offset = 2, 4, 2
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for before, after in zip(lines, lines[1:], strict=False):
        if not re.match(r"^\s*[^\s#-][^#]*:\s*(#.*)?$", before):
            continue
        base = len(before) - len(before.lstrip())
        inner = len(after) - len(after.lstrip())
        dash = re.match(r"^(\s*)-(\s+)\S", after)
        if dash and inner >= base:
            offset = inner - base
            sequence = offset + len(dash.group(2)) + 1
            break
    for before, after in zip(lines, lines[1:], strict=False):
        if re.match(r"^\s*[^\s#-][^#]*:\s*(#.*)?$", before) and not after.lstrip().startswith("-"):
            step = (len(after) - len(after.lstrip())) - (len(before) - len(before.lstrip()))
            if step > 0:
                mapping = step
                break
    return mapping, sequence, offset


def to_plain(node: Any) -> Any:
    """Plain Python data from a ruamel tree (dict, list, str, int, float, bool, None).

    ruamel's scalar subclasses would otherwise leak into the models; dates become
    their ISO text because every date-like field in the spec is free text.
    """
    if isinstance(node, Mapping):
        return {to_plain(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, dt.date | dt.datetime):
        return node.isoformat()
    return node


def yaml_error_issue(exc: YAMLError, file: str | None) -> SpecIssue:
    """A YAML syntax error (or duplicate key) as an issue with its line and column."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if isinstance(exc, MarkedYAMLError):
        problem = exc.problem or exc.context or "invalid YAML"
    else:
        problem = str(exc).splitlines()[0]
    problem = " ".join(str(problem).split())
    return SpecIssue(
        code="yaml_syntax",
        path="",
        message=f"YAML syntax error: {problem}",
        expected="valid YAML (check indentation, colons, quotes and brackets)",
        file=file,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )


def position(tree: Any, path: Path) -> tuple[int | None, int | None]:
    """1-based (line, column) of the deepest node of ``path`` present in ``tree``.

    For a mapping key the key's own position is given, so an error about a value
    points at the line that names it; a missing key points at its parent.
    """
    line: int | None = getattr(getattr(tree, "lc", None), "line", None)
    column: int | None = getattr(getattr(tree, "lc", None), "col", None)
    node = tree
    for part in path:
        try:
            if isinstance(node, CommentedMap) and part in node:
                line, column = node.lc.key(part)
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line, column = node.lc.item(part)
            else:
                break
        except (KeyError, IndexError, TypeError):
            # Added in memory by an edit, so not read from the file: it has no line yet;
            # the nearest ancestor that was read is the best place to point at.
            break
        node = node[part]
    if line is None:
        return None, None
    return line + 1, (column or 0) + 1


def parse_path(text: str) -> Path:
    """``touchpoints[3].where["a.b"]`` -> ``("touchpoints", 3, "where", "a.b")``."""
    parts: list[str | int] = []
    for name, index, quoted in re.findall(r'([^.\[\]"]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]', text):
        if index:
            parts.append(int(index))
        elif name:
            parts.append(name)
        else:
            parts.append(json.loads(f'"{quoted}"'))
    return tuple(parts)


def atomic_write_text(path: FsPath, text: str) -> None:
    """Write ``text`` to ``path`` so a reader never sees a half-written file.

    The text goes to a temporary file in the same folder, is flushed to disk and then
    renamed over the target (an atomic step on POSIX and Windows).
    """
    path = FsPath(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, mode)  # mkstemp makes 0600 files; keep the file's own permissions
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class SpecDocument:
    """An editable journey.yaml: the round-trip tree plus the model derived from it."""

    def __init__(self, tree: CommentedMap, path: FsPath | None = None, text: str = ""):
        self.tree = tree
        self.path = path
        self._indent = guess_indent(text) if text else (2, 4, 2)

    # ---- reading -------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SpecDocument:
        """Read a file; raises SpecError (with line) when it is not a YAML mapping."""
        path = FsPath(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(
                [
                    SpecIssue(
                        "unreadable", "", f"cannot read file: {exc.strerror or exc}", file=str(path)
                    )
                ]
            ) from exc
        return cls.from_text(text, path=path)

    @classmethod
    def from_text(cls, text: str, path: str | os.PathLike[str] | None = None) -> SpecDocument:
        """Parse YAML text; ``path`` is used for messages and as the default save target."""
        file = str(path) if path is not None else None
        try:
            tree = new_yaml().load(text)
        except YAMLError as exc:
            raise SpecError([yaml_error_issue(exc, file)]) from exc
        if tree is None:
            tree = CommentedMap()
        if not isinstance(tree, CommentedMap):
            raise SpecError(
                [
                    SpecIssue(
                        "not_a_mapping",
                        "",
                        f"the file holds a {type(tree).__name__}, not a journey map",
                        expected="a mapping with keys version, name, personas, stages, ...",
                        file=file,
                        line=1,
                    )
                ]
            )
        return cls(tree, FsPath(path) if path is not None else None, text)

    @property
    def file(self) -> str | None:
        """The file name used in messages."""
        return str(self.path) if self.path is not None else None

    def data(self) -> dict[str, Any]:
        """The document as plain Python data."""
        return to_plain(self.tree)

    def issues(self) -> list[SpecIssue]:
        """Every problem in the document (empty when valid)."""
        from journeymap.spec.validate import validate_tree

        return validate_tree(self.tree, self.file)

    @property
    def spec(self) -> JourneySpec:
        """The validated model; raises SpecError listing every problem."""
        from journeymap.spec.validate import spec_from_tree

        return spec_from_tree(self.tree, self.file)

    def position(self, path: Path | str) -> tuple[int | None, int | None]:
        """1-based (line, column) of a field path such as ``touchpoints[3].stage``."""
        return position(self.tree, parse_path(path) if isinstance(path, str) else path)

    # ---- editing ------------------------------------------------------------------
    def get(self, path: Path | str) -> Any:
        """The node at ``path`` (KeyError/IndexError when absent)."""
        node: Any = self.tree
        for part in parse_path(path) if isinstance(path, str) else path:
            node = node[part]
        return node

    def set(self, path: Path | str, value: Any) -> None:
        """Set a value; a new key is added at the end of its mapping."""
        parts = parse_path(path) if isinstance(path, str) else path
        parent = self.get(parts[:-1])
        parent[parts[-1]] = value

    def delete(self, path: Path | str) -> None:
        """Remove a key or a list item."""
        parts = parse_path(path) if isinstance(path, str) else path
        del self.get(parts[:-1])[parts[-1]]

    def append(self, kind: str, item: Mapping[str, Any]) -> None:
        """Add an item (persona, stage, touchpoint, ...) at the end of its list."""
        if kind not in self.tree or self.tree[kind] is None:
            self.tree[kind] = CommentedSeq()
        self.tree[kind].append(_to_tree(dict(item)))

    def index_of(self, kind: str, item_id: str) -> int:
        """Position of the item with ``id`` in list ``kind`` (KeyError when absent)."""
        for index, item in enumerate(self.tree.get(kind) or []):
            if isinstance(item, Mapping) and item.get("id") == item_id:
                return index
        raise KeyError(f"{ID_KINDS.get(kind, kind)} {item_id!r} is not defined")

    def item(self, kind: str, item_id: str) -> CommentedMap:
        """The mapping of one item, to edit in place: ``doc.item("stages", "purchase")``."""
        return self.tree[kind][self.index_of(kind, item_id)]

    def rename_id(self, kind: str, old: str, new: str) -> int:
        """Rename a stage or touchpoint id and every reference to it; returns the count."""
        self.item(kind, old)["id"] = new
        changed = 1
        for key, field in REFERENCES.get(kind, []):
            entries = self.tree.get(key)
            for entry in [entries] if isinstance(entries, Mapping) else entries or []:
                if isinstance(entry, Mapping) and entry.get(field) == old:
                    entry[field] = new
                    changed += 1
        return changed

    def update(self, spec: JourneySpec) -> None:
        """Make the document say what ``spec`` (a JourneySpec) says, keeping comments.

        Values that did not change keep their original text (quotes, number format);
        list items with an ``id`` are matched by id, other items by position.
        """
        _merge_mapping(self.tree, spec.to_data())

    # ---- writing ------------------------------------------------------------------
    def dumps(self) -> str:
        """The document as YAML text."""
        buffer = io.StringIO()
        new_yaml(*self._indent).dump(self.tree, buffer)
        return buffer.getvalue()

    def save(self, path: str | os.PathLike[str] | None = None) -> FsPath:
        """Write atomically to ``path`` (default: where it was loaded from)."""
        target = FsPath(path) if path is not None else self.path
        if target is None:
            raise ValueError("this document was not loaded from a file; give a path to save to")
        atomic_write_text(target, self.dumps())
        return target


def _to_tree(value: Any) -> Any:
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            node[key] = _to_tree(item)
        return node
    if isinstance(value, list):
        return CommentedSeq([_to_tree(v) for v in value])
    return value


def _same_scalar(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool) and bool(old) == bool(new)
    if isinstance(old, str) or isinstance(new, str):
        return isinstance(old, str) and isinstance(new, str) and str(old) == str(new)
    return old == new


def _merge_value(old: Any, new: Any) -> Any:
    if isinstance(old, CommentedMap) and isinstance(new, Mapping):
        _merge_mapping(old, new)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        _merge_sequence(old, new)
        return old
    if not isinstance(new, Mapping | list) and _same_scalar(old, new):
        return old
    return _to_tree(new)


def _merge_mapping(node: CommentedMap, new: Mapping[str, Any]) -> None:
    for key in [k for k in node if k not in new]:
        del node[key]
    for key, value in new.items():
        if key in node:
            merged = _merge_value(node[key], value)
            if merged is not node[key]:
                node[key] = merged
        elif value not in ([], {}):
            node[key] = _to_tree(value)


def _has_id(item: Any) -> bool:
    return isinstance(item, Mapping) and item.get("id") is not None


def _merge_sequence(node: CommentedSeq, new: list[Any]) -> None:
    by_id = {
        item.get("id"): item
        for item in node
        if isinstance(item, CommentedMap) and item.get("id") is not None
    }
    merged = []
    for index, value in enumerate(new):
        old = None
        if isinstance(value, Mapping) and value.get("id") in by_id:
            old = by_id[value["id"]]
        elif index < len(node) and not _has_id(node[index]) and not _has_id(value):
            old = node[index]  # items without ids (pain points, say) pair up by position
        merged.append(_merge_value(old, value) if old is not None else _to_tree(value))
    if len(merged) == len(node) and all(a is b for a, b in zip(merged, node, strict=True)):
        return
    for index, value in enumerate(merged):
        if index < len(node):
            if node[index] is not value:
                node[index] = value
        else:
            node.append(value)
    del node[len(merged) :]
