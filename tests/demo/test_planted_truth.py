"""Each planted finding is visible in the raw files, by an independent pandas computation."""

from __future__ import annotations

import pandas as pd

from .frames import DemoFiles


def _planted(demo: DemoFiles, kind: str) -> dict:
    [finding] = [p for p in demo.truth["planted"].values() if p["type"] == kind]
    return finding


def test_ground_truth_lists_every_planted_kind_with_its_details(demo: DemoFiles) -> None:
    kinds = {p["type"] for p in demo.truth["planted"].values()}
    assert kinds == {
        "dropoff",
        "slow_step",
        "loop",
        "complaint",
        "channel_switch",
        "support_calls_after",
    }
    for key, p in demo.truth["planted"].items():
        assert p["id"] == key
        assert {"id", "type", "stage", "touchpoint", "persona", "channel", "events"} <= set(p)
        assert p["magnitude"] and p["events"]


def test_app_payment_dropoff_is_far_higher_for_the_planted_persona(demo: DemoFiles) -> None:
    planted = _planted(demo, "dropoff")
    ev = demo.events
    last_order = ev[ev.event == "order_completed"].groupby("true_customer_id").ts.max()
    pay = ev[(ev.event == "payment_submitted") & (ev.channel == planted["channel"])].copy()
    pay["dropped"] = ~(pay.true_customer_id.map(last_order) > pay.ts)
    is_planted = pay.persona == planted["persona"]
    rate_planted = pay[is_planted].dropped.mean()
    rate_others = pay[~is_planted].dropped.mean()
    assert is_planted.sum() >= 50 and (~is_planted).sum() >= 50
    assert rate_planted > 0.4
    assert rate_planted > 4 * rate_others
    # The web payment step of the same persona is not affected.
    web = ev[(ev.event == "payment_submitted") & (ev.channel == "web")].copy()
    web["dropped"] = ~(web.true_customer_id.map(last_order) > web.ts)
    assert web[web.persona == planted["persona"]].dropped.mean() < 0.25


def test_account_verification_is_the_slow_step(visits: pd.DataFrame, demo: DemoFiles) -> None:
    planted = _planted(demo, "slow_step")
    medians = visits.dropna(subset=["gap_s"]).groupby("true_touchpoint").gap_s.median()
    slow = medians[planted["touchpoint"]]
    others = medians.drop(planted["touchpoint"])
    assert slow > 48 * 3600
    assert slow > 3 * others.max()
    step = visits[
        (visits.true_touchpoint == planted["touchpoint"])
        & (visits.prev_touchpoint == planted["from_touchpoint"])
    ]
    assert abs(step.gap_s.median() / 3600 - planted["magnitude"]["median_hours"]) < 24


def _repeat_rate(visits: pd.DataFrame, a: str, b: str) -> float:
    """Share of customers who saw b that went b -> a -> b at least once."""
    v = visits
    same = v.true_customer_id.eq(v.true_customer_id.shift(1)) & v.true_customer_id.eq(
        v.true_customer_id.shift(2)
    )
    loop = same & (v.true_touchpoint.shift(2) == b) & (v.true_touchpoint.shift(1) == a)
    loop &= v.true_touchpoint == b
    users = v[v.true_touchpoint == b].true_customer_id.nunique()
    return v[loop].true_customer_id.nunique() / users


def test_size_guide_loop_repeats_far_more_than_a_comparable_detour(
    visits: pd.DataFrame, demo: DemoFiles
) -> None:
    planted = _planted(demo, "loop")
    a, b = planted["loop"]
    loop_rate = _repeat_rate(visits, a, b)
    control = _repeat_rate(visits, a, "reviews")
    assert loop_rate > 0.2
    assert loop_rate > 3 * control


def _negative(fb: pd.DataFrame) -> pd.Series:
    limit = fb.kind.map({"nps": 6, "csat": 2, "ces": 3})
    return fb.score <= limit


def test_checkout_complaints_repeat_the_planted_phrase(demo: DemoFiles) -> None:
    planted = _planted(demo, "complaint")
    fb = demo.feedback
    phrase = planted["phrase"]
    english = fb.text.fillna("").str.len().gt(0) & fb.text.fillna("").map(str.isascii)
    neg = fb[_negative(fb) & english]
    at_tp = neg[neg.true_touchpoint == planted["touchpoint"]]
    elsewhere = neg[neg.true_touchpoint != planted["touchpoint"]]
    assert len(at_tp) >= 30
    share = at_tp.text.str.lower().str.contains(phrase, regex=False).mean()
    assert share > 0.6
    assert not elsewhere.text.str.lower().str.contains(phrase, regex=False).any()
    csat = fb[fb.kind == "csat"].groupby("true_touchpoint").score.mean()
    assert csat[planted["touchpoint"]] < csat.drop(planted["touchpoint"]).min()


def test_customers_who_chat_convert_much_more(demo: DemoFiles) -> None:
    planted = _planted(demo, "channel_switch")
    ev = demo.events
    chatted = set(ev[ev.event.isin(planted["events"])].true_customer_id)
    converted = set(ev[ev.event == "order_completed"].true_customer_id)
    everyone = demo.truth_customers.true_customer_id
    is_chat = everyone.isin(chatted)
    conv = everyone.isin(converted)
    assert is_chat.sum() >= 100
    assert conv[is_chat].mean() > 2 * conv[~is_chat].mean()


def test_support_calls_follow_order_tracking(demo: DemoFiles) -> None:
    ev = demo.events
    calls = ev[ev.system == "callcentre"][["true_customer_id", "ts"]].rename(
        columns={"ts": "call_ts"}
    )

    def share_followed_by_call(event: str) -> float:
        src = ev[ev.event == event][["event_id", "true_customer_id", "ts"]]
        pairs = src.merge(calls, on="true_customer_id")
        hit = (pairs.call_ts > pairs.ts) & (pairs.call_ts <= pairs.ts + pd.Timedelta(hours=24))
        return pairs[hit].event_id.nunique() / len(src)

    tracking = share_followed_by_call("order_tracking_viewed")
    assert tracking > 0.25
    for other in ("order_completed", "return_requested", "review_submitted"):
        assert share_followed_by_call(other) < tracking / 2.5, other


def test_comments_follow_the_experience(demo: DemoFiles, visits: pd.DataFrame) -> None:
    fb = demo.feedback
    # Mobile payments that ended the journey get angrier answers than those that went on.
    last = visits.groupby("true_customer_id").event_id.last()
    pay_fb = fb[fb.true_touchpoint == "app_payment"]
    ended = pay_fb.event_id.isin(set(last))
    assert ended.sum() >= 10 and (~ended).sum() >= 10
    assert pay_fb[ended].score.mean() < pay_fb[~ended].score.mean() - 1
    chat = fb[(fb.true_touchpoint == "chat_question") & fb.text.notna()]
    assert (~_negative(chat)).mean() > 0.8
