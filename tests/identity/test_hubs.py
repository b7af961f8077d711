"""Hub protection: a value shared by too many customers is flagged and not merged on."""

from __future__ import annotations

import pytest

from journeymap.sources.identity import IdentitySettingsError, stitch_in

from .tables import connect, pre_stitch_id, write


def _rows(n_emails: int, shared_phone: str) -> list[dict]:
    rows = []
    for i in range(n_emails):
        ids = {"email": f"person{i}@example.com", "phone": shared_phone}
        rows.append({"event_id": f"p{i}", "customer_id": pre_stitch_id(ids), **ids})
    # One person with 30 cookies: the email is the strongest identifier of those rows,
    # so its degree is 0 and it must stay usable (30 > cap would flag a naive count).
    for j in range(30):
        ids = {"email": "loyal@example.com", "anonymous_id": f"cookie{j}"}
        rows.append({"event_id": f"l{j}", "customer_id": pre_stitch_id(ids), **ids})
    return rows


def test_shared_phone_is_flagged_and_not_merged(tmp_path):
    con = connect(tmp_path)
    write(con, "events", _rows(25, "+44 20 7946 0000"))
    report = stitch_in(con, hub_cap=20)

    assert report.hubs_total == 1
    hub = report.hubs[0]
    assert (hub.identifier_type, hub.identifier_value, hub.degree) == ("phone", "+442079460000", 25)
    hubs = con.table("identity_hubs").to_pandas()
    assert hubs.to_dict("records") == [
        {"identifier_type": "phone", "identifier_value": "+442079460000", "degree": 25}
    ]
    events = con.table("events").to_pandas()
    # 25 separate people, plus the loyal customer whose 30 cookies are merged into one.
    assert events[events.event_id.str.startswith("p")].customer_id.nunique() == 25
    assert events[events.event_id.str.startswith("l")].customer_id.nunique() == 1
    assert report.customers_after == 26
    identities = con.table("identities").to_pandas()
    assert "+442079460000" not in set(identities.identifier_value)
    assert len(identities) == 25 + 1 + 30


def test_value_at_the_cap_is_used_for_merging(tmp_path):
    con = connect(tmp_path)
    write(con, "events", _rows(20, "+44 20 7946 0000"))
    report = stitch_in(con, hub_cap=20)
    assert report.hubs_total == 0
    events = con.table("events").to_pandas()
    assert events[events.event_id.str.startswith("p")].customer_id.nunique() == 1


def test_cap_zero_switches_protection_off(tmp_path):
    con = connect(tmp_path)
    write(con, "events", _rows(25, "+44 20 7946 0000"))
    report = stitch_in(con, hub_cap=0)
    assert report.hubs_total == 0
    assert report.customers_after == 2


def test_cap_comes_from_settings(tmp_path):
    con = connect(tmp_path)
    write(con, "events", _rows(25, "+44 20 7946 0000"))
    report = stitch_in(con, {"identity": {"hub_cap": 30}})
    assert report.hub_cap == 30 and report.hubs_total == 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"identity": {"hub_cap": "many"}}, "journeymap.toml [identity] hub_cap = 'many'"),
        ({"identity": {"hub_cap": -1}}, "hub_cap = -1: expected a whole number >= 0"),
        (
            {"identity": {"default_phone_region": "XX"}},
            "journeymap.toml [identity] default_phone_region = 'XX'",
        ),
    ],
)
def test_bad_settings_name_the_setting(tmp_path, settings, message):
    con = connect(tmp_path)
    write(con, "events", _rows(2, "1"))
    with pytest.raises(
        IdentitySettingsError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        stitch_in(con, settings)


def test_switchboard_phone_seen_only_with_order_ids_is_a_hub(tmp_path):
    """The phone is the strongest identifier on its own rows; the people are one hop away."""
    rows = []
    for i in range(26):
        # The call-centre row: the shared switchboard number and the caller's order.
        call = {"phone": "020 7946 0000", "order_id": f"O{i}"}
        # The web shop knows who placed the order.
        shop = {"email": f"buyer{i}@example.com", "order_id": f"O{i}"}
        for n, ids in enumerate((call, shop)):
            rows.append({"event_id": f"e{i}-{n}", "customer_id": pre_stitch_id(ids), **ids})
    con = connect(tmp_path)
    write(con, "events", rows)
    report = stitch_in(con, hub_cap=20)
    assert [(h.identifier_value, h.degree) for h in report.hubs] == [("+442079460000", 26)]
    events = con.table("events").to_pandas()
    assert events.customer_id.nunique() == 26
    # Oracle: the people are the emails; each order joins exactly its own buyer.
    by_event = dict(zip(events.event_id, events.customer_id, strict=True))
    for i in range(26):
        assert by_event[f"e{i}-0"] == by_event[f"e{i}-1"]
