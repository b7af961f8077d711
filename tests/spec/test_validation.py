"""Each kind of problem is reported with its line, field path and suggestion; all at once."""

from __future__ import annotations

import pytest

from journeymap.spec import SpecError, load_spec, starter_spec_text, validate_file, validate_text

BASE = starter_spec_text()


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based number of the line holding the n-th occurrence of ``needle`` (the oracle)."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def line_starting(text: str, prefix: str) -> int:
    """1-based number of the first line that starts with ``prefix``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(prefix))


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)


def only_issue(text: str):
    issues = validate_text(text, "journey.yaml")
    assert len(issues) == 1, [i.format() for i in issues]
    return issues[0]


def test_starter_is_valid() -> None:
    assert validate_text(BASE, "journey.yaml") == []


def test_unknown_stage_reference_with_suggestion() -> None:
    text = replace_once(BASE, "    stage: purchase\n", "    stage: purchse\n")
    issue = only_issue(text)
    assert issue.code == "unknown_reference"
    assert issue.line == line_of(text, "stage: purchse")
    assert issue.path == "touchpoints[3].stage"
    assert issue.message == "stage 'purchse' is not defined"
    assert issue.suggestion == "did you mean 'purchase'?"
    assert issue.format() == (
        f"journey.yaml:{issue.line}: touchpoints[3].stage: stage 'purchse' is not defined "
        "(expected the id of one of the stages; did you mean 'purchase'?)"
    )


def test_unknown_reference_without_close_match_lists_known_ids() -> None:
    text = replace_once(BASE, "  touchpoint: order_confirmed", "  touchpoint: zzz")
    issue = only_issue(text)
    assert (issue.code, issue.path) == ("unknown_reference", "goal.touchpoint")
    assert issue.line == line_of(text, "touchpoint: zzz")
    assert issue.suggestion.startswith("known touchpoints: 'social_ad', 'product_page'")


@pytest.mark.parametrize(
    ("old", "new", "path", "suggested"),
    [
        (
            "    touchpoint: checkout          #",
            "    touchpoint: chekout  #",
            "pain_points[0].touchpoint",
            "checkout",
        ),
        (
            "    touchpoint: product_page\n    impact",
            "    touchpoint: product_pag\n    impact",
            "opportunities[0].touchpoint",
            "product_page",
        ),
        (
            "    touchpoint: product_page\n    impact",
            "    stage: consideratoin\n    impact",
            "opportunities[0].stage",
            "consideration",
        ),
    ],
)
def test_pain_point_and_opportunity_references(old, new, path, suggested) -> None:
    text = replace_once(BASE, old, new)
    issue = only_issue(text)
    assert issue.code == "unknown_reference"
    assert issue.path == path
    assert issue.line == line_of(text, new.strip().split("\n")[0])
    assert issue.suggestion == f"did you mean {suggested!r}?"


def test_duplicate_ids_per_kind() -> None:
    text = replace_once(BASE, "  - id: loyal_regular", "  - id: bargain_hunter")
    text = replace_once(text, "  - id: reviews", "  - id: product_page")
    text = replace_once(text, "    stage: decision\n", "    stage: consideration\n")
    text = replace_once(text, "  - id: decision\n", "  - id: consideration\n")
    issues = validate_text(text, "journey.yaml")
    got = sorted((i.code, i.path, i.line) for i in issues)
    assert got == sorted(
        [
            ("duplicate_id", "personas[1].id", line_of(text, "- id: bargain_hunter", 2)),
            ("duplicate_id", "stages[2].id", line_of(text, "- id: consideration", 2)),
            ("duplicate_id", "touchpoints[2].id", line_of(text, "- id: product_page", 2)),
        ]
    )
    assert "first defined at personas[0]" in issues[0].message


def test_invalid_regexes_in_event_and_conditions() -> None:
    text = replace_once(BASE, 'event: {regex: "^review_"}', 'event: {regex: "^review_("}')
    text = replace_once(text, "segment: price_sensitive", 'segment: {regex: "[a-"}')
    text = replace_once(text, "where: {step: {lte: 3}}", 'where: {step: {regex: "(?=x)"}}')
    issues = validate_text(text, "journey.yaml")
    assert [(i.code, i.path, i.line) for i in issues] == [
        ("invalid_regex", "personas[0].rule.segment.regex", line_of(text, 'regex: "[a-"')),
        ("invalid_regex", "touchpoints[2].match.event.regex", line_of(text, "^review_(")),
        ("invalid_regex", "touchpoints[3].match.where.step.regex", line_of(text, "(?=x)")),
    ]
    assert "RE2" in issues[2].message


def test_stage_with_no_touchpoint() -> None:
    text = replace_once(
        BASE, "\ntouchpoints:", "\n  - id: loyalty\n    name: Loyalty\n\ntouchpoints:"
    )
    issue = only_issue(text)
    assert (issue.code, issue.path) == ("empty_stage", "stages[5]")
    assert issue.line == line_of(text, "- id: loyalty")
    assert issue.message == "stage 'loyalty' has no touchpoint"


def test_missing_goal_is_reported_at_the_top_of_the_file() -> None:
    text = replace_once(BASE, "goal:\n  touchpoint: order_confirmed ", "  ")
    text = replace_once(text, "    # reaching it counts as converting\n", "\n")
    issue = only_issue(text)
    first_key = line_starting(text, "version:")  # the document starts after the comments
    assert (issue.code, issue.path, issue.line) == ("missing_goal", "goal", first_key)
    assert issue.message == "the goal names no touchpoint"


def test_goal_without_touchpoint_is_reported_at_the_goal() -> None:
    text = replace_once(
        BASE, "  touchpoint: order_confirmed     # reaching", "  note: x  # reaching"
    )
    issues = validate_text(text, "journey.yaml")
    assert [(i.code, i.path, i.line) for i in issues] == [
        ("missing_goal", "goal", line_starting(text, "goal:")),
        ("unknown_field", "goal.note", line_of(text, "note: x")),
    ]
    assert issues[1].expected == "one of touchpoint"


def test_yaml_syntax_error_has_line_and_column() -> None:
    text = replace_once(BASE, "goals: [Find the best price]", "goals: [Find the best price")
    issue = only_issue(text)
    assert issue.code == "yaml_syntax"
    # the parser notices the missing ']' at the next line's ':'
    assert issue.line == line_of(text, "goals: [Find the best price") + 1
    assert issue.column is not None and issue.column > 1


def test_duplicate_yaml_key_is_a_syntax_error_at_the_second_key() -> None:
    text = replace_once(
        BASE,
        "    owner: Marketing              # owning department\n",
        "    owner: Marketing\n    owner: Sales\n",
    )
    issue = only_issue(text)
    assert issue.code == "yaml_syntax"
    assert issue.line == line_of(text, "owner: Sales")
    assert 'duplicate key "owner"' in issue.message


def test_unknown_operator_field_and_choice_suggestions() -> None:
    text = replace_once(BASE, "orders_last_year: {gte: 5}", "orders_last_year:\n        gtee: 5")
    text = replace_once(text, "    expectation: Relevant, not pushy", "    expectaton: Relevant")
    text = replace_once(text, "severity: high", "severity: hgh")
    text = replace_once(text, "status: idea ", "status: someday ")
    issues = validate_text(text, "journey.yaml")
    got = [(i.code, i.path, i.line, i.suggestion) for i in issues]
    assert got == [
        (
            "unknown_operator",
            "personas[1].rule.orders_last_year.gtee",
            line_of(text, "gtee: 5"),
            "did you mean 'gte'?",
        ),
        (
            "unknown_field",
            "touchpoints[0].expectaton",
            line_of(text, "expectaton:"),
            "did you mean 'expectation'?",
        ),
        (
            "invalid_choice",
            "pain_points[0].severity",
            line_of(text, "severity: hgh"),
            "did you mean 'high'?",
        ),
        ("invalid_choice", "opportunities[0].status", line_of(text, "status: someday"), None),
    ]
    assert issues[0].expected.startswith("one of eq, ne, in, not_in")


def test_impact_and_effort_out_of_range() -> None:
    text = replace_once(BASE, "impact: 4 ", "impact: 7 ")
    text = replace_once(text, "effort: 2 ", "effort: 0 ")
    issues = validate_text(text, "journey.yaml")
    assert [(i.code, i.path, i.line, i.expected) for i in issues] == [
        (
            "out_of_range",
            "opportunities[0].impact",
            line_of(text, "impact: 7"),
            "an integer from 1 to 5",
        ),
        (
            "out_of_range",
            "opportunities[0].effort",
            line_of(text, "effort: 0"),
            "an integer from 1 to 5",
        ),
    ]


def test_type_errors_and_missing_fields_point_at_their_lines() -> None:
    text = replace_once(BASE, "    name: Social ad\n", "")
    text = replace_once(text, "target: 0.3", "target: high")
    text = replace_once(text, "  - id: bargain_hunter ", "  - id: Bargain-Hunter ")
    issues = validate_text(text, "journey.yaml")
    got = [(i.code, i.path, i.line) for i in issues]
    assert got == [
        ("invalid_id", "personas[0].id", line_of(text, "id: Bargain-Hunter")),
        ("missing_field", "touchpoints[0].name", line_of(text, "- id: social_ad")),
        ("wrong_type", "touchpoints[1].kpis[0].target", line_of(text, "target: high")),
    ]
    assert issues[0].suggestion == "use 'bargain_hunter'"


def test_every_problem_is_reported_at_once_in_line_order(tmp_path) -> None:
    text = replace_once(BASE, "    stage: purchase\n", "    stage: purchse\n")
    text = replace_once(text, "impact: 4 ", "impact: 9 ")
    text = replace_once(text, 'event: {regex: "^review_"}', 'event: {regex: "("}')
    text = replace_once(text, "  - id: reviews", "  - id: social_ad")
    path = tmp_path / "journey.yaml"
    path.write_text(text, encoding="utf-8")
    issues = validate_file(path)
    assert [i.code for i in issues] == [
        "duplicate_id",
        "invalid_regex",
        "unknown_reference",
        "out_of_range",
    ]
    assert [i.line for i in issues] == sorted(i.line for i in issues)
    assert all(i.file == str(path) for i in issues)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    report = str(caught.value)
    assert report.splitlines()[0] == f"{path}: 4 problems"
    assert f"{path}:{line_of(text, 'stage: purchse')}: touchpoints[3].stage:" in report
    assert len(caught.value.issues) == 4


def test_not_a_mapping_and_missing_file(tmp_path) -> None:
    issues = validate_text("- just\n- a list\n", "journey.yaml")
    assert [(i.code, i.line) for i in issues] == [("not_a_mapping", 1)]
    missing = validate_file(tmp_path / "nope.yaml")
    assert [i.code for i in missing] == ["unreadable"]
    assert "nope.yaml" in missing[0].file


def test_malformed_conditions_and_match_rules() -> None:
    text = replace_once(BASE, "segment: price_sensitive", "segment: [a, b]")
    text = replace_once(text, "orders_last_year: {gte: 5}", "orders_last_year:")
    text = replace_once(text, "      event: order_completed\n", "      {}\n")
    text = text.replace("    match:\n      {}\n", "    match: {}\n")
    issues = validate_text(text, "journey.yaml")
    got = [(i.code, i.path, i.line) for i in issues]
    assert got == [
        ("invalid_value", "personas[0].rule.segment", line_of(text, "segment: [a, b]")),
        ("invalid_value", "personas[1].rule.orders_last_year", line_of(text, "orders_last_year:")),
        ("invalid_value", "touchpoints[4].match", line_of(text, "match: {}")),
    ]
    assert "write {in: [...]}" in issues[0].message
    assert "{exists: false}" in issues[1].message
    assert "at least one of: event, channel, where" in issues[2].message


def test_target_stage_must_agree_with_its_touchpoint() -> None:
    text = replace_once(
        BASE,
        "    touchpoint: checkout          # or stage: purchase\n",
        "    touchpoint: checkout\n    stage: decision\n",
    )
    issue = only_issue(text)
    assert (issue.code, issue.path) == ("inconsistent_target", "pain_points[0].stage")
    assert issue.line == line_of(text, "stage: decision", 2)
    assert issue.message == "touchpoint 'checkout' belongs to stage 'purchase', not 'decision'"


def test_touchpoint_without_match_rule_is_only_a_warning(tmp_path) -> None:
    text = replace_once(BASE, "    match:\n      event: order_completed\n", "")
    issue = only_issue(text)
    assert (issue.code, issue.severity) == ("no_match_rule", "warning")
    assert issue.line == line_of(text, "- id: order_confirmed")
    path = tmp_path / "journey.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_spec(path).touchpoint("order_confirmed").match is None
