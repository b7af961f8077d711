"""A small warehouse for audit tests: clean by construction, with each defect plantable.

Clean data: 40 customers over 30 days (2024-03-01 .. 03-30); each day 10 of them (those
with ``i % 4 == day % 4``) visit the web (source web) at 10:00 + i minutes, the app 2
minutes later and the store (source pos) 4 minutes later, so every channel has 10 events
a day, and every event is mapped. Each visit also follows an ad click (source ads,
channel social) 10-119 minutes earlier: a source offset by journey order, not by a wrong
clock. A chat happens every other day: a sparse channel whose empty days are not
outages. Each customer also leaves one attached NPS response.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

DAY0 = pd.Timestamp("2024-03-01", tz="UTC")
DAYS = 30
CUSTOMERS = 40
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
SKEW = pd.Timedelta(hours=3)
GAP_DAYS = (10, 11)  # web has no events on these day numbers when "gap" is planted

DEFECTS = (
    "quarantine",
    "duplicates",
    "future",
    "too_old",
    "skew",
    "one_event",
    "unmapped",
    "unattached",
    "gap",
)

CHANNELS = (("web", "web", "page_view", 0), ("app", "app", "app_open", 2),
            ("store", "pos", "store_visit", 4))  # fmt: skip


def build(defects: set[str]) -> dict[str, list[dict]]:
    """Rows of events, feedback and quarantine with the named defects planted."""
    events: list[dict] = []
    for day in range(DAYS):
        for i in range(CUSTOMERS):
            if i % 4 != day % 4:
                continue
            base = DAY0 + pd.Timedelta(days=day, hours=10, minutes=i)
            # An ad click 10-119 minutes before the visit: journey order, not a wrong
            # clock (median gap about -1 h, but widely spread): must not be flagged.
            lead = 10 + (i * 37 + day * 11) % 110
            events.append(
                {
                    "event_id": f"ads-{day}-{i}",
                    "customer_id": f"c{i}",
                    "ts": base - pd.Timedelta(minutes=lead),
                    "event": "ad_click",
                    "channel": "social",
                    "touchpoint": "tp_ad",
                    "source": "ads",
                    "properties": json.dumps({"day": day}),
                }
            )
            for channel, source, name, offset in CHANNELS:
                if channel == "web" and "gap" in defects and day in GAP_DAYS:
                    continue
                ts = base + pd.Timedelta(minutes=offset)
                if source == "pos" and "skew" in defects:
                    ts += SKEW
                events.append(
                    {
                        "event_id": f"{source}-{day}-{i}",
                        "customer_id": f"c{i}",
                        "ts": ts,
                        "event": name,
                        "channel": channel,
                        "touchpoint": f"tp_{channel}",
                        "source": source,
                        "properties": json.dumps({"day": day}),
                    }
                )
    for day in range(0, DAYS, 2):
        # A sparse channel: one chat every other day. Its empty days are not outages.
        i = day % 4
        events.append(
            {
                "event_id": f"chat-{day}",
                "customer_id": f"c{i}",
                "ts": DAY0 + pd.Timedelta(days=day, hours=10, minutes=i + 1),
                "event": "chat_started",
                "channel": "chat",
                "touchpoint": "tp_chat",
                "source": "chat",
                "properties": json.dumps({"day": day}),
            }
        )
    by_id = {e["event_id"]: e for e in events}
    if "duplicates" in defects:
        # web-0-0 re-sent once, web-1-1 twice: 3 extra rows in 2 groups.
        events.append({**by_id["web-0-0"], "event_id": "dup-a"})
        events.append({**by_id["web-1-1"], "event_id": "dup-b"})
        events.append({**by_id["web-1-1"], "event_id": "dup-c"})
        # Same customer, event and ts but other properties: NOT a duplicate.
        events.append({**by_id["web-2-2"], "event_id": "notdup", "properties": '{"day": 99}'})
    if "future" in defects:
        events.append(_extra("fut", "c3", NOW + dt.timedelta(days=2)))
    if "too_old" in defects:
        events.append(_extra("old1", "c5", pd.Timestamp("1970-01-01", tz="UTC")))
        events.append(_extra("old2", "c6", pd.Timestamp("1999-12-31 23:00", tz="UTC")))
    if "one_event" in defects:
        events.append(_extra("solo", "lonely", DAY0 + pd.Timedelta(days=3, hours=15)))
    if "unmapped" in defects:
        for k in range(3):
            when = DAY0 + pd.Timedelta(days=5 + k, hours=18)
            events.append({**_extra(f"um{k}", f"c{k}", when), "event": "mystery_click",
                           "touchpoint": None})  # fmt: skip
        when = DAY0 + pd.Timedelta(days=9, hours=18)
        events.append({**_extra("um9", "c7", when), "event": "odd_tap", "channel": "app",
                       "source": "app", "touchpoint": None})  # fmt: skip
    feedback = [
        {
            "feedback_id": f"f{i}",
            "customer_id": f"c{i}",
            "ts": DAY0 + pd.Timedelta(days=i % DAYS, hours=20),
            "touchpoint": "tp_web",
            "kind": "nps",
            "score": 9.0,
            "source": "survey",
        }
        for i in range(CUSTOMERS)
    ]
    if "unattached" in defects:
        feedback[0]["touchpoint"] = None
        feedback[1] = {**feedback[1], "touchpoint": None, "kind": "csat", "score": 4.0}
    quarantine = []
    if "quarantine" in defects:
        quarantine = [
            _quarantined(1, "ts", "unparseable timestamp"),
            _quarantined(2, "ts", "unparseable timestamp"),
            _quarantined(7, None, "no identifier"),
        ]
    return {"events": events, "feedback": feedback, "quarantine": quarantine}


def _extra(event_id: str, customer: str, ts: pd.Timestamp | dt.datetime) -> dict:
    """An extra mapped web event (at an hour no clean event uses)."""
    return {
        "event_id": event_id,
        "customer_id": customer,
        "ts": pd.Timestamp(ts),
        "event": "page_view",
        "channel": "web",
        "touchpoint": "tp_web",
        "source": "web",
        "properties": json.dumps({"extra": event_id}),
    }


def _quarantined(row: int, field: str | None, reason: str) -> dict:
    return {
        "table_name": "events",
        "source": "web",
        "file": "web.csv",
        "row_number": row,
        "raw": "{}",
        "field": field,
        "reason": reason,
        "batch_id": 1,
        "quarantined_at": NOW,
    }
