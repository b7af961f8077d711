"""Round-trip editing keeps comments and key order; writes are atomic."""

from __future__ import annotations

import os

import pytest

from journeymap.spec import (
    KPI,
    JourneySpec,
    PainPoint,
    SpecDocument,
    SpecError,
    Touchpoint,
    load_spec,
    save_spec,
    starter_spec_text,
)
from journeymap.spec.document import parse_path
from journeymap.spec.issues import format_path

HAND_WRITTEN = """\
# Our journey map -- edited by hand and by the web editor.
version: 1
name: "Shop"   # quoted on purpose
description: >
  Folded text
  over two lines.

# --- who ---
personas:
- id: saver        # block sequence without indentation
  name: Saver
  rule:
    age: {gte: 18, lt: 35}   # flow style kept

stages:
- id: look
  name: Look
- id: buy
  name: Buy      # renamed below

touchpoints:
- id: view
  name: View
  stage: look
  match: {event: [view, zoom]}
- id: pay
  name: Pay
  stage: buy
  match:
    event: {regex: '^pay_'}    # single quotes kept
    where: {amount: 1.50}

goal: {touchpoint: pay}

opportunities:
- title: Faster pay
  stage: buy
  impact: 4
  effort: 2
  status: idea     # idea planned in_progress done dropped
"""


def comment_lines(text: str) -> list[str]:
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


@pytest.mark.parametrize("text", [HAND_WRITTEN, starter_spec_text()], ids=["hand", "starter"])
def test_unchanged_document_is_written_back_byte_for_byte(text: str) -> None:
    assert SpecDocument.from_text(text).dumps() == text


def test_editing_values_keeps_comments_and_order(tmp_path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    doc = SpecDocument.load(path)
    doc.item("stages", "buy")["name"] = "Purchase"
    doc.set("opportunities[0].status", "planned")
    doc.append(
        "touchpoints",
        {"id": "receipt", "name": "Receipt", "stage": "buy", "match": {"event": "receipt_sent"}},
    )
    doc.save()

    text = path.read_text(encoding="utf-8")
    expected = (
        HAND_WRITTEN.replace("  name: Buy      # renamed below", "  name: Purchase # renamed below")
        .replace("  status: idea     # idea", "  status: planned  # idea")
        .replace(
            "    where: {amount: 1.50}\n",
            "    where: {amount: 1.50}\n"
            "- id: receipt\n  name: Receipt\n  stage: buy\n  match:\n    event: receipt_sent\n",
        )
    )
    assert text == expected
    spec = load_spec(path)
    assert spec.stage("buy").name == "Purchase"
    assert spec.opportunities[0].status == "planned"
    assert [t.id for t in spec.touchpoints_in("buy")] == ["pay", "receipt"]


def test_rename_id_updates_every_reference() -> None:
    doc = SpecDocument.from_text(HAND_WRITTEN)
    assert doc.rename_id("stages", "buy", "purchase") == 3  # stage, touchpoint, opportunity
    assert doc.rename_id("touchpoints", "pay", "checkout") == 2  # touchpoint, goal
    spec = doc.spec
    assert spec.stage_order == ["look", "purchase"]
    assert spec.goal.touchpoint == "checkout"
    assert spec.stage_of("checkout") == "purchase"
    assert spec.opportunities[0].stage == "purchase"
    assert comment_lines(doc.dumps()) == comment_lines(HAND_WRITTEN)


def test_save_spec_merges_a_changed_model_into_the_commented_file(tmp_path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    spec = load_spec(path)
    spec.opportunities[0].status = "done"
    spec.touchpoints.append(
        Touchpoint(id="refund", name="Refund", stage="buy", match={"event": "refund"})
    )
    spec.personas[0].rule["age"].lt = 40
    save_spec(spec, path)

    text = path.read_text(encoding="utf-8")
    assert comment_lines(text) == comment_lines(HAND_WRITTEN)
    assert "  status: done" in text
    assert "age: {gte: 18, lt: 40}   # flow style kept" in text
    assert 'name: "Shop"   # quoted on purpose' in text
    # defaults the file never spelled out are not added
    assert "severity" not in text and "direction" not in text and "kpis" not in text
    again = load_spec(path)
    assert again.model_dump() == spec.model_dump()


def test_save_spec_writes_a_new_file_and_saves_are_atomic(tmp_path) -> None:
    spec = load_spec_text(starter_spec_text(), tmp_path)
    target = tmp_path / "sub" / "copy.yaml"
    save_spec(spec, target)
    assert load_spec(target).model_dump() == spec.model_dump()
    assert sorted(os.listdir(target.parent)) == ["copy.yaml"]  # no temp file left behind


def test_failed_write_leaves_no_partial_file(tmp_path) -> None:
    doc = SpecDocument.from_text(HAND_WRITTEN)
    blocked = tmp_path / "journey.yaml"
    blocked.mkdir()  # a folder in the way: the final rename fails
    with pytest.raises(OSError):
        doc.save(blocked)
    assert os.listdir(tmp_path) == ["journey.yaml"]  # the temp file was removed
    assert blocked.is_dir() and os.listdir(blocked) == []


def test_model_accessors() -> None:
    spec = SpecDocument.from_text(starter_spec_text()).spec
    assert spec.stage_order == [
        "awareness",
        "consideration",
        "decision",
        "purchase",
        "post_purchase",
    ]
    assert [t.id for t in spec.touchpoints_in("purchase")] == ["checkout", "order_confirmed"]
    assert spec.stage_of("reviews") == "decision"
    assert spec.persona("loyal_regular").rule["orders_last_year"].gte == 5
    assert spec.touchpoint("social_ad").match.channels() == ["social"]
    with pytest.raises(KeyError, match="stage 'nope' is not defined"):
        spec.stage("nope")


def test_document_spec_raises_spec_error() -> None:
    doc = SpecDocument.from_text(HAND_WRITTEN.replace("stage: look", "stage: lok"), "j.yaml")
    with pytest.raises(SpecError) as caught:
        _ = doc.spec
    assert [i.code for i in caught.value.issues] == ["empty_stage", "unknown_reference"]


def load_spec_text(text: str, folder) -> JourneySpec:
    path = folder / "source.yaml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path)


def test_appending_to_a_list_the_file_never_had_is_saved(tmp_path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    spec = load_spec(path)
    assert "pain_points" not in HAND_WRITTEN
    spec.pain_points.append(PainPoint(title="Slow", stage="buy", severity="high"))
    spec.touchpoints[0].kpis.append(KPI(metric="conversion", target=0.5))
    save_spec(spec, path)
    again = load_spec(path)
    assert [(p.title, p.stage, p.severity) for p in again.pain_points] == [("Slow", "buy", "high")]
    assert again.touchpoints[0].kpis[0].target == 0.5
    assert comment_lines(path.read_text(encoding="utf-8")) == comment_lines(HAND_WRITTEN)


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        (("touchpoints", 3, "stage"), "touchpoints[3].stage"),
        (
            ("touchpoints", 0, "match", "where", "a.b", "regex"),
            'touchpoints[0].match.where["a.b"].regex',
        ),
        (("personas", 1, "rule", "größe"), "personas[1].rule.größe"),
    ],
)
def test_field_paths_are_written_and_read_back(parts, text) -> None:
    assert format_path(parts) == text
    assert parse_path(text) == parts


def test_position_and_get_follow_a_field_path() -> None:
    doc = SpecDocument.from_text(HAND_WRITTEN)
    lines = HAND_WRITTEN.splitlines()
    where_line = next(n for n, line in enumerate(lines, 1) if "where: {amount: 1.50}" in line)
    assert doc.position("touchpoints[1].match.where") == (where_line, 5)
    assert doc.position("touchpoints[1].match.where.amount") == (where_line, 13)
    assert doc.get("touchpoints[1].match.where.amount") == 1.5
    # a path that goes past the file points at the deepest part that exists
    assert doc.position("touchpoints[1].match.nothing.here") == (where_line - 2, 3)


def test_saving_keeps_the_file_permissions(tmp_path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    path.chmod(0o640)
    doc = SpecDocument.load(path)
    doc.set("name", "Renamed")
    doc.save()
    assert (path.stat().st_mode & 0o777) == 0o640
    assert 'name: "Renamed"' in path.read_text(encoding="utf-8")


def test_items_without_ids_keep_their_comments_when_merged(tmp_path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    spec = load_spec(path)
    spec.opportunities[0].impact = 5
    save_spec(spec, path)
    text = path.read_text(encoding="utf-8")
    assert text == HAND_WRITTEN.replace("  impact: 4\n", "  impact: 5\n")


def test_issues_of_an_item_appended_in_memory_point_at_its_list() -> None:
    """An edit that adds an invalid item is reported, at the nearest line read from disk."""
    from journeymap.spec import starter_spec_text
    from journeymap.spec.document import SpecDocument

    doc = SpecDocument.from_text(starter_spec_text(), "journey.yaml")
    doc.append("touchpoints", {"id": "new_tp", "name": "New", "stage": "purchse"})
    issues = doc.issues()
    bad = [i for i in issues if "purchse" in i.message]
    assert bad, [i.format() for i in issues]
    assert bad[0].line == doc.position("touchpoints")[0]
