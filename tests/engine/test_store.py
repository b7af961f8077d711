"""The journey store: sessions, and store path == events path for every question."""

from __future__ import annotations

import pandas as pd
import pytest

import journeymap.engine.store as store_module
from engine.logs import make_workspace, sorted_log
from journeymap.engine import Analysis
from journeymap.engine.store import (
    build_store,
    forget_loaded_stores,
    loaded_store,
    store_is_fresh,
)
from journeymap.workspace.customer_ranges import customer_bounds, in_ranges


def _pandas_sessions(events: pd.DataFrame, minutes: float) -> pd.Series:
    """Session ids by the documented rule, computed independently with pandas."""
    ordered = sorted_log(events)
    gap = ordered.groupby("customer_id")["ts"].diff()
    new = gap.isna() | (gap > pd.Timedelta(minutes=minutes))
    number = new.astype(int).groupby(ordered["customer_id"]).cumsum()
    return (ordered["customer_id"] + "#" + number.astype(str)).reindex(events.index)


@pytest.mark.parametrize("minutes", [30, 5])
def test_build_store_fills_sessions(tmp_path, log, minutes):
    ws = make_workspace(tmp_path, log, settings={"sessions": {"inactivity_minutes": minutes}})
    got = ws.con.table("events").select("event_id", "session_id").to_pandas()
    expected = _pandas_sessions(log, minutes)
    assert dict(zip(got.event_id, got.session_id, strict=True)) == dict(
        zip(log.event_id, expected, strict=True)
    )
    # the generated log has gaps of exactly 30 minutes: they stay in one session
    assert store_is_fresh(ws.con)


def test_bad_inactivity_setting_names_the_setting(tmp_path, log):
    with pytest.raises(ValueError, match="inactivity_minutes"):
        make_workspace(tmp_path, log, settings={"sessions": {"inactivity_minutes": "soon"}})


def test_session_level_variants_match_pandas(ws, log):
    analysis = Analysis.from_workspace(ws, sessions=True)
    mapped = sorted_log(log.assign(session_id=_pandas_sessions(log, 30)))
    mapped = mapped[mapped.touchpoint.notna()]
    expected = mapped.groupby("session_id")["touchpoint"].apply(tuple).value_counts()
    got = analysis.variants()
    assert dict(zip(got.path, got.customers, strict=True)) == expected.to_dict()


def test_store_goes_stale_when_events_change(ws, log):
    assert Analysis.from_workspace(ws).store_used()
    extra = log.head(1).assign(event_id="new-1")
    ws.con.insert("events", extra[list(ws.con.table("events").columns)])
    assert not Analysis.from_workspace(ws).store_used()
    build_store(ws)
    assert Analysis.from_workspace(ws).store_used()


FILTERS = [
    {},
    {"level": "stage"},
    {"level": "event"},
    {"sessions": True},
    {"start": "2024-03-03", "end": "2024-03-07"},
    {"channel": ["web", "app"]},
    {"persona": "loyal"},
    {"where": {"segment": "vip", "age": {"gte": 30}}},
    {"channel": "email", "level": "event", "sessions": True},
]


def _answers(a: Analysis) -> dict:
    level_steps = sorted(set(map(str, a.journeys().step_names)))[:3]
    return {
        "transitions": a.transitions(markers=True),
        "variants": a.variants(collapse_repeats=True),
        "funnel": a.funnel(level_steps, window="2d"),
        "funnel_strict": a.funnel(level_steps, order="strict", breakdown="channel"),
        "funnel_open": a.funnel(level_steps, open=True, window="1d"),
        "flows": a.flows(steps=4),
        "tp": a.touchpoint_metrics(),
        "stage": a.stage_metrics(),
        "conformance": a.conformance(by_persona=True),
    }


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_store_and_events_paths_agree(ws, filters):
    via_store = Analysis.from_workspace(ws, **filters)
    via_events = via_store.filtered(use_store=False)
    assert via_store.store_used() and not via_events.store_used()
    a, b = _answers(via_store), _answers(via_events)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    assert len(a["transitions"]) > 0


def test_store_read_back_equals_what_the_build_kept(ws):
    """The build keeps its journeys in memory; reading the tables back gives the same."""
    build_store(ws)
    kept = loaded_store(ws.con)
    forget_loaded_stores()
    read = loaded_store(ws.con)
    assert read is not kept and loaded_store(ws.con) is read
    assert read.customers.tolist() == kept.customers.tolist()
    for name in ("offsets", "ts", "session"):
        assert getattr(read, name).tolist() == getattr(kept, name).tolist(), name
    for kind, codes in kept.codes.items():
        assert read.codes[kind].tolist() == codes.tolist(), kind
        assert read.names[kind].tolist() == kept.names[kind].tolist(), kind
    via_events = Analysis.from_workspace(ws, sessions=True).filtered(use_store=False)
    a, b = _answers(Analysis.from_workspace(ws, sessions=True)), _answers(via_events)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def test_mapped_scope_holds_only_mapped_events(tmp_path, log, monkeypatch):
    """``loaded_store(scope="mapped")`` holds, in tie-rule order, each customer's events
    that have a touchpoint or a stage, and only the customers with one (checked against
    pandas); questions read it and answer as the events path does; a question on every
    event (conformance counts the unmapped ones) widens the process' copy to "all"."""
    log = log.copy()
    pings = log.index[log["event"] == "debug_ping"]
    log.loc[pings[::3], "stage"] = "awareness"  # a stage without a touchpoint: mapped
    lone = log[log["event"] == "debug_ping"].head(3).copy()
    lone["customer_id"], lone["stage"] = "only_unmapped", None
    lone["event_id"] = ["z1", "z2", "z3"]
    log = pd.concat([log, lone], ignore_index=True)
    ws = make_workspace(tmp_path, log)
    forget_loaded_stores()
    monkeypatch.setattr(store_module, "LOAD_BATCH_CUSTOMERS", 11)  # many batches
    j = loaded_store(ws.con, "mapped")
    expected = sorted_log(log[log["touchpoint"].notna() | log["stage"].notna()])
    assert "only_unmapped" not in set(j.customers) and len(j) == expected.customer_id.nunique()
    assert j.customers.tolist() == sorted(expected.customer_id.unique())
    assert j.n_events == len(expected) < len(log)
    micros = expected["ts"].astype("int64") // 1000  # (pandas stores ns)
    assert j.ts.tolist() == micros.tolist()
    names = j.names["stage"]
    stages = [None if c < 0 else names[c] for c in j.codes["stage"]]
    assert stages == [None if pd.isna(s) else s for s in expected["stage"]]
    a = Analysis.from_workspace(ws, level="stage")
    b = a.filtered(use_store=False)
    for question in ("transitions", "variants", "stage_metrics", "touchpoint_metrics"):
        pd.testing.assert_frame_equal(getattr(a, question)(), getattr(b, question)())
    assert loaded_store(ws.con, "mapped") is j  # nothing read again
    pd.testing.assert_frame_equal(a.conformance(), b.conformance())
    widened = store_module._LOADED[id(ws.con)]
    assert widened[1] == "all" and widened[2].n_events == len(log)
    assert loaded_store(ws.con, "mapped") is widened[2]  # "all" serves both scopes
    with pytest.raises(ValueError, match="scope must be one of all, mapped"):
        loaded_store(ws.con, "some")


def _arrays(j) -> dict:
    out = {"customers": j.customers.tolist(), "offsets": j.offsets.tolist()}
    out.update(ts=j.ts.tolist(), session=j.session.tolist())
    out.update({f"code_{k}": v.tolist() for k, v in j.codes.items()})
    out.update({f"names_{k}": v.tolist() for k, v in j.names.items()})
    return out


@pytest.mark.parametrize("keep", [True, False], ids=["kept", "streamed"])
def test_store_built_in_customer_slices_equals_one_slice(ws, log, keep, monkeypatch):
    """The build sorts one range of customers at a time; the result must not change,
    whether the build keeps its journeys in the process or (above ``KEEP_BUILT_ROWS``,
    a 100M-event log) writes each slice's store rows at once and reads them back."""
    build_store(ws, partition_rows=10**9)
    whole = _arrays(loaded_store(ws.con))
    events_whole = ws.con.table("events").to_pandas().sort_values("event_id")
    events = ws.con.table("events")
    ranges = list(in_ranges(events, customer_bounds(ws.con, events, len(log), 37)))
    assert len(ranges) > 10  # really sliced
    sizes = [r.count().to_pyarrow().as_py() for r in ranges]
    assert sum(sizes) == len(log) and max(sizes) < 37 + 14  # a range ends after a customer
    sessions = build_store(ws, partition_rows=10**9).sessions
    if not keep:
        monkeypatch.setattr(store_module, "KEEP_BUILT_ROWS", 40)
        monkeypatch.setattr(store_module, "STREAMED_SLICE_ROWS", 23)
    report = build_store(ws, partition_rows=37)
    assert (report.events, report.customers) == (len(log), log.customer_id.nunique())
    assert report.sessions == sessions
    assert _arrays(loaded_store(ws.con)) == whole
    forget_loaded_stores()
    monkeypatch.setattr(store_module, "LOAD_BATCH_CUSTOMERS", 7)  # read back in batches
    assert _arrays(loaded_store(ws.con)) == whole
    pd.testing.assert_frame_equal(
        ws.con.table("events").to_pandas().sort_values("event_id"), events_whole
    )
    a = _answers(Analysis.from_workspace(ws))
    b = _answers(Analysis.from_workspace(ws).filtered(use_store=False))
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def test_filters_select_the_right_events(ws, log):
    a = Analysis.from_workspace(ws, start="2024-03-03", end="2024-03-07", channel="web")
    got = a.journeys()
    inside = log[
        (log.ts >= pd.Timestamp("2024-03-03", tz="UTC"))
        & (log.ts < pd.Timestamp("2024-03-07", tz="UTC"))
        & (log.channel == "web")
    ]
    assert got.n_events == len(inside)
    assert set(got.customers) == set(inside.customer_id)
    assert a.events().count().to_pyarrow().as_py() == len(inside)


def test_where_on_unknown_column_is_a_clear_error(ws):
    with pytest.raises(ValueError, match="customers table has no column 'colour'"):
        Analysis.from_workspace(ws, where={"colour": "red"}).transitions()


def test_where_operator_errors_and_list_form(ws, log):
    with pytest.raises(ValueError, match="where age"):
        Analysis.from_workspace(ws, where={"age": {"around": 3}}).transitions()
    a = Analysis.from_workspace(ws, where={"segment": ["vip"]})
    b = Analysis.from_workspace(ws, where={"segment": "vip"})
    assert a.journeys().n_events == b.journeys().n_events > 0


def test_funnel_breakdown_distribution_and_reference(ws, log):
    a = Analysis.from_workspace(ws)
    steps = ["home_page", "cart", "checkout"]
    total = a.funnel(steps, window="3d")
    by_persona = a.funnel(steps, window="3d", breakdown="persona")
    # a customer attribute gives each customer one value: blocks add up to the total
    assert by_persona.groupby("step")["customers"].sum().tolist() == total["customers"].tolist()
    customers = ws.con.table("customers").to_pandas()
    personas = dict(zip(customers.customer_id, customers.persona.fillna("(none)"), strict=True))
    dist = a.funnel(steps, window="3d", distribution=True)
    for k in range(1, 4):
        assert (dist.furthest_step >= k).sum() == total.customers.iloc[k - 1]
    first_block = by_persona[by_persona.breakdown == "loyal"]
    loyal = {c for c, p in personas.items() if p == "loyal"}
    assert first_block.customers.iloc[0] == dist.customer_id.isin(loyal).sum()
    prev = a.funnel(steps, window="3d", reference="previous")
    assert prev["conversion"].tolist() == pytest.approx(total["conversion_previous"].tolist())
    by_channel = a.funnel(steps, window="3d", breakdown="channel", attribution="all_events")
    assert (by_channel.groupby("step")["customers"].sum() >= total["customers"].to_numpy()).all()


def test_customer_ids_are_compact_strings_and_never_none(monkeypatch):
    """Ids are numpy StringDType (16 bytes each up to 15 characters, not a Python str
    object each); a null id is an error, never the text "None"."""
    import numpy as np
    import pyarrow as pa

    import journeymap.engine.journeys as journeys_module
    from journeymap.engine.journeys import ID_DTYPE, as_ids, ids_to_arrow

    monkeypatch.setattr(journeys_module, "IDS_TO_ARROW_CHUNK", 2)  # converted in pieces

    ids = as_ids(pa.chunked_array([["cüst_1", "c2"], ["c3"]]))
    assert ids.dtype == ID_DTYPE and ids.nbytes == 3 * 16 and ids.tolist() == ["cüst_1", "c2", "c3"]
    assert ids_to_arrow(ids).to_pylist() == ["cüst_1", "c2", "c3"]
    assert as_ids(np.array(["a", "b"], dtype=object)).tolist() == ["a", "b"]
    with pytest.raises(ValueError, match="1 events have no customer_id"):
        as_ids(pa.array(["a", None]))
