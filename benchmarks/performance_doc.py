"""One way for every benchmark to write its own section of docs/performance.md.

Each benchmark owns one ``## `` section; rewriting it must leave every other section as
it was, whatever order they stand in.
"""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def write_section(text: str, doc: Path = DOC) -> None:
    """Replace the section whose heading is ``text``'s first line, or append it.

    The section runs from its heading to the next ``## `` heading (or the end).
    """
    heading = text.lstrip().splitlines()[0].strip()
    if not heading.startswith("## "):
        raise ValueError(f"a section starts with a '## ' heading, got {heading!r}")
    old = doc.read_text(encoding="utf-8") if doc.exists() else "# Performance\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    section = text.strip("\n") + "\n"
    if start is None:
        new = old.rstrip("\n") + "\n\n" + section
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        rest = "".join(lines[end:])
        new = "".join(lines[:start]) + section + ("\n" + rest if rest else "")
    doc.write_text(new.rstrip("\n") + "\n", encoding="utf-8")
