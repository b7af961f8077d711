"""The spec commands: validate (exit codes, text and JSON), schema, init."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import journeymap.cli.spec_commands  # noqa: F401  (registers the commands)
from journeymap.cli.app import app
from journeymap.spec import JourneySpec, starter_spec_text, validate_file

runner = CliRunner()


def test_validate_valid_file_exits_0(tmp_path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(starter_spec_text(), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output
    in_folder = runner.invoke(app, ["validate", str(tmp_path)])  # a workspace folder
    assert in_folder.exit_code == 0 and str(path) in in_folder.output


def test_validate_invalid_file_prints_every_problem_and_exits_1(tmp_path) -> None:
    text = starter_spec_text().replace("    stage: purchase\n", "    stage: purchse\n", 1)
    text = text.replace("impact: 4 ", "impact: 6 ")
    path = tmp_path / "journey.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    lines = text.splitlines()
    stage_line = next(n for n, line in enumerate(lines, 1) if "stage: purchse" in line)
    assert (
        f"{path}:{stage_line}: touchpoints[3].stage: stage 'purchse' is not defined "
        "(expected the id of one of the stages; did you mean 'purchase'?)"
    ) in result.output
    assert "opportunities[0].impact: impact 6 is out of range" in result.output
    assert "2 problems" in result.output


def test_validate_json_format(tmp_path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text("name: x\nstages: [\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["valid"] is False
    assert [i["code"] for i in payload["issues"]] == ["yaml_syntax"]
    assert payload["issues"][0]["line"] == 3
    assert payload["issues"][0]["file"] == str(path)


def test_validate_missing_file_exits_1(tmp_path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1
    assert "cannot read file" in result.output


def test_schema_is_json_schema_of_the_spec() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {
        "version",
        "name",
        "description",
        "personas",
        "stages",
        "touchpoints",
        "goal",
        "pain_points",
        "opportunities",
    }
    assert schema["required"] == ["name"]
    assert set(schema["properties"]) == set(JourneySpec.model_fields)
    condition = schema["$defs"]["Condition"]["anyOf"][1]
    assert "in" in condition["properties"] and "in_" not in condition["properties"]


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(tmp_path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "journey.yaml"
    assert path.read_text(encoding="utf-8") == starter_spec_text()
    assert validate_file(path) == []

    path.write_text("name: mine\n", encoding="utf-8")
    refused = runner.invoke(app, ["init", str(path)])
    assert refused.exit_code == 1
    assert path.read_text(encoding="utf-8") == "name: mine\n"
    forced = runner.invoke(app, ["init", str(path), "--force"])
    assert forced.exit_code == 0
    assert path.read_text(encoding="utf-8") == starter_spec_text()


def test_starter_has_the_five_classic_stages_and_a_touchpoint_in_each(tmp_path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(starter_spec_text(), encoding="utf-8")
    from journeymap.spec import load_spec

    spec = load_spec(path)
    assert spec.stage_order == [
        "awareness",
        "consideration",
        "decision",
        "purchase",
        "post_purchase",
    ]
    assert all(spec.touchpoints_in(stage) for stage in spec.stage_order)
    assert len(spec.personas) == 2
    assert starter_spec_text().count("#") >= 10  # it is commented


def test_schema_accepts_the_starter_and_rejects_a_wrong_type() -> None:
    import jsonschema

    from journeymap.spec import spec_json_schema
    from journeymap.spec.document import SpecDocument

    schema = spec_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    data = SpecDocument.from_text(starter_spec_text()).data()
    jsonschema.validate(data, schema)
    data["opportunities"][0]["impact"] = 9
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_validate_exits_0_with_only_warnings(tmp_path) -> None:
    text = starter_spec_text().replace("    match:\n      event: order_completed\n", "", 1)
    path = tmp_path / "journey.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "has no match rule" in result.output and "is valid" in result.output
