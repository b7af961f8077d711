"""journeymap.toml is written by one function; what it writes reads back as asked."""

from __future__ import annotations

import tomllib

import pytest

from journeymap.workspace.settings import (
    SettingsError,
    load_settings,
    settings_text,
    write_settings,
)

CONTRACT_DEFAULTS = {  # docs/contracts.md, journeymap.toml
    "workspace": {"timezone": "UTC"},
    "warehouse": {"backend": "duckdb", "path": ".journeymap/warehouse.duckdb"},
    "sessions": {"inactivity_minutes": 30},
    "identity": {"default_phone_region": "GB", "hub_cap": 20},
    "voice": {"csat_mode": "mean", "attach_window_hours": 72, "min_n": 30},
}


def test_defaults_are_the_contract_file():
    text = settings_text()
    assert tomllib.loads(text) == CONTRACT_DEFAULTS
    assert "# or top2box" in text  # the comments explaining the choices stay


def test_values_replace_only_their_keys_and_keep_comments(tmp_path):
    values = {"workspace": {"timezone": 'Europe/"London'}, "voice": {"min_n": 5}}
    file = write_settings(tmp_path, values, header="line one\nline two")
    text = file.read_text(encoding="utf-8")
    expected = {k: dict(v) for k, v in CONTRACT_DEFAULTS.items()}
    expected["workspace"]["timezone"] = 'Europe/"London'
    expected["voice"]["min_n"] = 5
    assert tomllib.loads(text) == expected
    assert text.startswith("# line one\n# line two\n[workspace]\n")
    assert "# for naive timestamps in input" in text


def test_written_settings_load(tmp_path):
    write_settings(tmp_path, {"workspace": {"timezone": "Asia/Tokyo"}})
    assert load_settings(tmp_path)["workspace"]["timezone"] == "Asia/Tokyo"


def test_unknown_setting_is_an_error_naming_it():
    with pytest.raises(SettingsError, match=r"unknown setting\(s\) \[voice\] min_m"):
        settings_text({"voice": {"min_m": 5}})
    with pytest.raises(SettingsError, match="expected text, a number or bool"):
        settings_text({"voice": {"min_n": [1]}})
