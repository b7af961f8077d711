"""The one CLI printer: a DataFrame as a Rich table, CSV or JSON, the same way everywhere."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import typer

from journeymap.cli.output import (
    OutputFormat,
    error_exit,
    print_frame,
    records,
    rich_table,
    stdout_console,
)


def test_print_frame_formats(capsys):
    df = pd.DataFrame(
        {
            "touchpoint": ["cart", None],
            "score": [1.23456, float("nan")],
            "quotes": [[{"feedback_id": "f1", "text": "slow, cart"}], []],
        }
    )
    print_frame(df, OutputFormat.csv, "t")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "touchpoint,score,quotes"
    assert lines[1] == 'cart,1.235,"f1: slow, cart"'
    print_frame(df, OutputFormat.json, "t")
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["quotes"] == [{"feedback_id": "f1", "text": "slow, cart"}]
    assert rows[1]["score"] is None and rows[1]["touchpoint"] is None
    print_frame(df, OutputFormat.table, "Themes")
    assert "f1: slow, cart" in capsys.readouterr().out


def test_paths_shares_and_numbers_print_readably(capsys):
    df = pd.DataFrame(
        {
            "path": [("home", "cart", "pay"), ()],
            "split": [{"web": 0.25, "app": 3}, {}],
            "n": [np.int64(1234567), np.int64(2)],
            "x": [12345.678, 0.000123456],
        }
    )
    print_frame(df, OutputFormat.csv)
    got = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str, keep_default_na=False)
    assert got["path"].tolist() == ["home > cart > pay", ""]
    assert got["split"].tolist() == ["web 25%, app 3", ""]
    assert got["n"].tolist() == ["1234567", "2"]
    assert got["x"].tolist() == ["12,346", "0.0001235"]


def test_json_records_are_plain_values():
    ts = pd.Timestamp("2024-05-01T10:00:00Z")
    df = pd.DataFrame(
        {"n": np.array([1, 2], dtype=np.int64), "path": [("a", "b"), ("c",)], "ts": [ts, pd.NaT]}
    )
    rows = records(df)
    assert rows[0]["n"] == 1 and type(rows[0]["n"]) is int
    assert rows[0]["path"] == ["a", "b"] and rows[1]["ts"] is None
    assert json.loads(json.dumps(rows, default=str))[0]["ts"] == str(ts)


def test_table_limit_counts_the_rows_left_out():
    table = rich_table(pd.DataFrame({"a": range(25)}), "t", limit=20)
    assert table.row_count == 20
    assert table.caption == "5 more rows (use --format json for all)"
    console = stdout_console()
    with console.capture() as out:
        console.print(table)
    shown = [line.strip("│ ") for line in out.get().splitlines()]
    assert "19" in shown and "20" not in shown and "0" in shown


def test_error_exit_prints_to_stderr_and_returns_the_code(capsys):
    exc = error_exit("bad --where 'x'", code=2)
    assert isinstance(exc, typer.Exit) and exc.exit_code == 2
    captured = capsys.readouterr()
    assert "bad --where 'x'" in captured.err and captured.out == ""
    with pytest.raises(typer.Exit):
        raise error_exit("again")
