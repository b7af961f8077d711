"""Email and phone normalisation before matching."""

from __future__ import annotations

import pytest

from journeymap.sources.identity import e164, phone_map, stitch_in

from .tables import connect, pre_stitch_id, write


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("07700 900123", "GB", "+447700900123"),
        ("+44 (0)7700-900123", "GB", "+447700900123"),
        ("0044 7700 900123", "GB", "+447700900123"),
        ("(202) 555-0142", "US", "+12025550142"),
        ("+1 202 555 0142", "GB", "+12025550142"),
        ("not a phone", "GB", None),
        ("12", "GB", None),
    ],
)
def test_e164(raw, region, expected):
    assert e164(raw, region) == expected


def test_phone_map_keeps_unparseable_values():
    frame = phone_map(["07700 900123", "n/a", "07700 900123"], "GB")
    assert frame.to_dict("records") == [
        {"_phone_raw": "07700 900123", "_phone_norm": "+447700900123", "_phone_parsed": True},
        {"_phone_raw": "n/a", "_phone_norm": "n/a", "_phone_parsed": False},
    ]


def _event(i: int, **ids: str | None) -> dict:
    return {"event_id": f"e{i}", "customer_id": pre_stitch_id(ids), **ids}


def test_variants_of_one_email_and_phone_link(tmp_path):
    con = connect(tmp_path)
    write(
        con,
        "events",
        [
            _event(1, email="  Ann@Example.COM ", anonymous_id="a1"),
            _event(2, email="ann@example.com", device_id="d1"),
            _event(3, phone="07700 900123", device_id="d1"),
            _event(4, phone="+44 7700 900123", crm_id="CRM-9"),
            _event(5, phone=" n/a ", order_id="o1"),
            _event(6, phone="n/a", order_id="o2"),
            _event(7, email="   ", anonymous_id="a2"),
        ],
    )
    write(
        con, "customers", [{"customer_id": "CRM-9", "crm_id": "CRM-9", "email": "ANN@example.com"}]
    )
    report = stitch_in(con, default_region="GB")

    ids = con.table("identities").to_pandas()
    by_value = dict(
        zip(
            zip(ids.identifier_type, ids.identifier_value, strict=True),
            ids.customer_id,
            strict=True,
        )
    )
    ann = by_value[("crm_id", "CRM-9")]
    for key in [("email", "ann@example.com"), ("phone", "+447700900123"), ("anonymous_id", "a1"),
                ("device_id", "d1"), ("customer_id", "CRM-9")]:  # fmt: skip
        assert by_value[key] == ann
    # Unparseable phones match as trimmed text: o1 and o2 are one customer via "n/a".
    assert (
        by_value[("phone", "n/a")] == by_value[("order_id", "o1")] == by_value[("order_id", "o2")]
    )
    assert report.phones_unparseable == 1
    # A blank email is absent, not a value everyone shares.
    assert ("email", "") not in by_value
    assert by_value[("anonymous_id", "a2")] != ann
    customers = con.table("customers").to_pandas()
    assert customers.customer_id.tolist() == [ann]
    assert customers.customer_id_given.tolist() == ["CRM-9"]
