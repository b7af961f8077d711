"""Scores and the emotion curve on a random feedback table, against a pandas oracle."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from journeymap.voice.emotions import emotion_table
from journeymap.voice.scores import score_table

from .helpers import customers_frame, feedback_frame, spec, warehouse

SPEC = spec({"aware": ["ad"], "buy": ["cart", "checkout"], "after": ["delivery", "support"]})
STAGE = {"ad": "aware", "cart": "buy", "checkout": "buy", "delivery": "after", "support": "after"}
SCALE = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(3)
    rows = []
    # "support" gets no feedback at all: the curve must still show it with n = 0
    for i in range(600):
        kind = ["nps", "csat", "ces", "ticket"][i % 4]
        low, high = SCALE.get(kind, (None, None))
        score = None if kind == "ticket" or i % 17 == 0 else float(rng.integers(low, high + 1))
        rows.append(
            {
                "feedback_id": f"f{i}",
                "customer_id": f"c{i % 150}",
                "ts": "2024-01-01",
                "touchpoint": [None, "ad", "cart", "checkout", "delivery"][i % 5],
                "kind": kind,
                "score": score,
                "sentiment": None if i % 3 == 0 else float(rng.uniform(-1, 1)),
            }
        )
    fb = feedback_frame(rows)
    cust = customers_frame(
        [{"customer_id": f"c{i}", "persona": ["p1", "p2", None][i % 3]} for i in range(150)]
    )
    con = warehouse(tmp_path, feedback=fb, customers=cust)
    return con, fb, cust


def _oracle_metric(scores: pd.Series, kind: str, mode: str) -> float:
    s = scores.dropna()
    if kind == "nps":
        return 100 * ((s >= 9).mean() - (s <= 6).mean())
    if kind == "csat" and mode == "top2box":
        return 100 * (s >= 4).mean()
    return s.mean()


@pytest.mark.parametrize("mode", ["mean", "top2box"])
@pytest.mark.parametrize("by", [None, "touchpoint", "stage", "persona"])
def test_scores_match_pandas(data, by, mode):
    con, fb, cust = data
    settings = {"voice": {"csat_mode": mode, "min_n": 40}}
    got = score_table(
        con.table("feedback"), by=by, spec=SPEC, customers=con.table("customers"),
        settings=settings,
    )  # fmt: skip
    frame = fb.assign(stage=fb["touchpoint"].map(STAGE)).merge(cust, on="customer_id", how="left")
    frame = frame[frame["kind"].isin(["nps", "csat", "ces"])]
    keys = [by, "kind"] if by else ["kind"]
    expected = 0
    for key, part in frame.groupby(keys, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        kind = key[-1]
        sel = got["kind"] == kind
        if by:
            g = key[0]
            sel &= got[by].isna() if pd.isna(g) else got[by] == g
        row = got[sel]
        assert len(row) == 1, (key, got)
        row = row.iloc[0]
        n = int(part["score"].notna().sum())
        assert row["n"] == n and row["missing"] == int(part["score"].isna().sum())
        assert row["out_of_scale"] == 0
        assert row["value"] == pytest.approx(_oracle_metric(part["score"], kind, mode))
        assert row["low_n"] == (n < 40)
        s = part["score"].dropna()
        if kind == "nps":
            p, d = (s >= 9).mean(), (s <= 6).mean()
            half = 100 * 1.959964 * math.sqrt((p + d - (p - d) ** 2) / n)
            assert row["ci_low"] == pytest.approx(max(-100, row["value"] - half), abs=1e-3)
        elif kind == "csat" and mode == "top2box":
            assert row["metric"] == "csat_top2box"
            ci = stats.binomtest(int((s >= 4).sum()), n).proportion_ci(method="wilson")
            assert row["ci_low"] == pytest.approx(100 * ci.low, abs=1e-6)
            assert row["ci_high"] == pytest.approx(100 * ci.high, abs=1e-6)
        else:
            ci = stats.t.interval(0.95, n - 1, loc=s.mean(), scale=stats.sem(s))
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(ci)
        expected += 1
    assert len(got) == expected
    if by == "stage":  # spec order, unattached last
        assert got["stage"].drop_duplicates().tolist()[:3] == ["aware", "buy", "after"]
        assert got["stage"].iloc[-1] is None or pd.isna(got["stage"].iloc[-1])


def _oracle_emotion(fb: pd.DataFrame) -> pd.Series:
    def one(r):
        parts = []
        if r["kind"] in SCALE and pd.notna(r["score"]):
            low, high = SCALE[r["kind"]]
            parts.append(2 * (r["score"] - low) / (high - low) - 1)
        if pd.notna(r["sentiment"]):
            parts.append(r["sentiment"])
        return 2 * sum(parts) / len(parts) if parts else np.nan

    return fb.apply(one, axis=1)


@pytest.mark.parametrize("by", ["stage", "touchpoint"])
def test_emotion_curve_matches_pandas(data, by):
    con, fb, _ = data
    got = emotion_table(con.table("feedback"), by=by, spec=SPEC, settings=None)
    frame = fb.assign(emotion=_oracle_emotion(fb), stage=fb["touchpoint"].map(STAGE))
    frame = frame.dropna(subset=["emotion"])
    if by == "stage":
        assert got["stage"].tolist()[:3] == ["aware", "buy", "after"]
    else:
        assert got["touchpoint"].tolist()[:5] == ["ad", "cart", "checkout", "delivery", "support"]
        support = got[got["touchpoint"] == "support"].iloc[0]
        assert support["n"] == 0 and math.isnan(support["emotion"])
    last = got.iloc[-1]
    assert pd.isna(last[by])  # unattached feedback is its own row, not dropped
    assert got["n"].sum() == len(frame)
    for value, part in frame.groupby(frame[by].fillna("<none>")):
        row = got[got[by].fillna("<none>") == value].iloc[0]
        assert row["n"] == len(part)
        assert row["emotion"] == pytest.approx(part["emotion"].mean())
        ci = stats.t.interval(0.95, len(part) - 1, loc=part["emotion"].mean(),
                              scale=stats.sem(part["emotion"]))  # fmt: skip
        assert row["ci_low"] == pytest.approx(max(-2, ci[0]))
        assert row["ci_high"] == pytest.approx(min(2, ci[1]))
        assert -2 <= row["emotion"] <= 2


def test_emotion_by_persona_and_filter(data):
    con, fb, cust = data
    frame = fb.merge(cust, on="customer_id", how="left")
    frame = frame.assign(emotion=_oracle_emotion(frame), stage=frame["touchpoint"].map(STAGE))
    frame = frame.dropna(subset=["emotion"])
    one = emotion_table(con.table("feedback"), by="stage", spec=SPEC,
                        customers=con.table("customers"), persona="p1")  # fmt: skip
    p1 = frame[frame["persona"] == "p1"]
    assert one["n"].sum() == len(p1)
    buy = one[one["stage"] == "buy"].iloc[0]
    assert buy["emotion"] == pytest.approx(p1[p1["stage"] == "buy"]["emotion"].mean())
    every = emotion_table(con.table("feedback"), by="stage", spec=SPEC,
                          customers=con.table("customers"), by_persona=True)  # fmt: skip
    assert every["n"].sum() == len(frame)
    assert set(every["persona"].dropna()) == {"p1", "p2"}


def test_out_of_scale_scores_are_counted_not_used(tmp_path):
    fb = feedback_frame(
        [{"customer_id": "a", "ts": "2024-01-01", "kind": "nps", "score": s}
         for s in [10, 9, 0, 11, -1, None]]
    )  # fmt: skip
    con = warehouse(tmp_path, feedback=fb)
    row = score_table(con.table("feedback"), kind="nps").iloc[0]
    # in scale: 10, 9 (promoters), 0 (detractor): NPS = 100·(2 - 1)/3
    assert (row["n"], row["out_of_scale"], row["missing"]) == (3, 2, 1)
    assert row["value"] == pytest.approx(100 / 3)


def test_bad_arguments_are_named(data):
    con, _, _ = data
    with pytest.raises(ValueError, match="by='channel'"):
        score_table(con.table("feedback"), by="channel")
    with pytest.raises(ValueError, match="kind='review'"):
        score_table(con.table("feedback"), kind="review")
    with pytest.raises(ValueError, match="by='persona'"):
        emotion_table(con.table("feedback"), by="persona")
