"""Deterministic ids: unchanged components keep their id; on a merge the strongest survives."""

from __future__ import annotations

import contextlib
import hashlib

import pytest

from journeymap.sources.identity import stitch_in

from .tables import append, connect, pre_stitch_id, write


def cid(id_type: str, value: str) -> str:
    """The documented id of a component whose strongest identifier is type:value."""
    return "c_" + hashlib.md5(f"{id_type}:{value}".encode()).hexdigest()[:16]


def _event(i: str, **ids: str | None) -> dict:
    return {"event_id": i, "customer_id": pre_stitch_id(ids), **ids}


FIRST = [
    _event("a1", email="amy@example.com", anonymous_id="ck1"),
    _event("a2", anonymous_id="ck1", device_id="dev1"),
    _event("b1", crm_id="B-1", phone="+447700900001"),
    _event("c1", anonymous_id="ck9"),
    _event("n1"),  # no identifier at all: keeps its (NULL) customer_id
]


def _ids_by_event(con) -> dict[str, str | None]:
    events = con.table("events").to_pandas()
    return dict(zip(events.event_id, events.customer_id, strict=True))


def test_ids_follow_the_strongest_identifier(tmp_path):
    con = connect(tmp_path)
    write(con, "events", FIRST)
    stitch_in(con)
    assert _ids_by_event(con) == {
        "a1": cid("email", "amy@example.com"),
        "a2": cid("email", "amy@example.com"),
        "b1": cid("crm_id", "B-1"),
        "c1": cid("anonymous_id", "ck9"),
        "n1": None,
    }


def test_restitching_changes_nothing(tmp_path):
    con = connect(tmp_path)
    write(con, "events", FIRST)
    stitch_in(con)
    before = con.table("events").to_pandas().sort_values("event_id", ignore_index=True)
    identities = con.table("identities").to_pandas()
    report = stitch_in(con)
    after = con.table("events").to_pandas().sort_values("event_id", ignore_index=True)
    assert after.equals(before)
    assert con.table("identities").to_pandas().equals(identities)
    assert report.customers_before == report.customers_after == 3


def test_unrelated_new_data_keeps_existing_ids(tmp_path):
    con = connect(tmp_path)
    write(con, "events", FIRST)
    stitch_in(con)
    old = _ids_by_event(con)
    append(con, "events", [_event("z1", email="zed@example.com", anonymous_id="ck77"),
                           _event("z2", anonymous_id="ck77")])  # fmt: skip
    report = stitch_in(con)
    new = _ids_by_event(con)
    assert {k: new[k] for k in old} == old
    assert new["z1"] == new["z2"] == cid("email", "zed@example.com")
    assert report.customers_before == 5  # 3 stitched + 2 pre-stitch ids of the new rows
    assert report.customers_after == 4


def test_merge_keeps_the_id_of_the_strongest_identifier(tmp_path):
    con = connect(tmp_path)
    write(con, "events", FIRST)
    stitch_in(con)
    amy_before = _ids_by_event(con)["a1"]
    # Amy logs in on the CRM: her email meets crm_id B-1, joining two components.
    append(con, "events", [_event("m1", crm_id="B-1", email="AMY@example.com")])
    report = stitch_in(con)
    new = _ids_by_event(con)
    assert amy_before == cid("email", "amy@example.com")
    for event in ("a1", "a2", "b1", "m1"):
        assert new[event] == cid("crm_id", "B-1")
    assert new["c1"] == cid("anonymous_id", "ck9")
    assert report.merges_by_type["email"] == 1
    assert report.largest[0].customer_id == cid("crm_id", "B-1")
    assert report.largest[0].size == 5  # crm, phone, email, cookie, device


def test_feedback_and_customers_are_rewritten_together(tmp_path):
    con = connect(tmp_path)
    write(con, "events", FIRST)
    write(con, "feedback", [{"feedback_id": "f1", "customer_id": "device_id:dev1",
                             "device_id": "dev1", "kind": "nps", "score": 9.0}])  # fmt: skip
    write(con, "customers", [{"customer_id": "crm-given-7", "email": "amy@example.com"},
                             {"customer_id": "lonely", "persona": "p"}])  # fmt: skip
    report = stitch_in(con)
    ids = _ids_by_event(con)
    # The customer record's given id outranks the email, so it names Amy now.
    amy = cid("customer_id", "crm-given-7")
    assert ids["a1"] == ids["a2"] == amy
    assert con.table("feedback").to_pandas().customer_id.tolist() == [amy]
    customers = con.table("customers").to_pandas().set_index("customer_id_given")
    assert customers.loc["crm-given-7", "customer_id"] == amy
    assert customers.loc["lonely", "customer_id"] == cid("customer_id", "lonely")
    assert report.rows == {"events": 5, "feedback": 1, "customers": 2}
    assert report.rows_without_identifier == {"events": 1, "feedback": 0, "customers": 0}


def test_all_writes_happen_inside_the_transaction(tmp_path):
    """A transaction that fails at commit leaves every table exactly as it was."""
    con = connect(tmp_path)
    write(con, "events", FIRST)
    write(con, "customers", [{"customer_id": "K1", "email": "amy@example.com"}])
    before = {t: con.table(t).to_pandas() for t in ("events", "customers")}

    @contextlib.contextmanager
    def failing_transaction():
        con.raw_sql("BEGIN TRANSACTION")
        yield
        con.raw_sql("ROLLBACK")
        raise RuntimeError("commit failed")

    with pytest.raises(RuntimeError, match="commit failed"):
        stitch_in(con, transaction=failing_transaction)
    for name, frame in before.items():
        assert con.table(name).to_pandas().equals(frame), name
    assert "identities" not in con.list_tables()
    assert not [t for t in con.list_tables() if t.startswith("_jm_identity")]
