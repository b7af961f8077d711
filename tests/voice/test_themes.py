"""Themes find a planted phrase, quote it traceably, and survive odd text."""

from __future__ import annotations

import random

import pandas as pd

from journeymap.voice import themes as themes_mod
from journeymap.voice.text import ngrams, tokens
from journeymap.voice.themes import theme_table

from .helpers import feedback_frame, spec, warehouse

SPEC = spec({"buy": ["checkout", "product"], "after": ["delivery"]})
FILLER = [
    "the website was fine", "nice colours on the page", "prices are ok", "staff friendly",
    "good choice of sizes", "quick answer from the team", "easy to find what I wanted",
]  # fmt: skip


def _corpus(seed: int = 5) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(900):
        tp = ["checkout", "product", "delivery"][i % 3]
        planted = tp == "delivery" and i % 2 == 0
        if planted:
            text = f"{rng.choice(FILLER)}, but the parcel arrived damaged again"
            score = rng.choice([0.0, 1.0, 2.0])
        else:
            text = rng.choice(FILLER) + rng.choice(["", " and ok", " but slow", "!"])
            score = rng.choice([3.0, 7.0, 9.0, 10.0]) if i % 7 else 2.0
        rows.append({"feedback_id": f"fb{i:04d}", "customer_id": f"c{i}", "ts": "2024-05-01",
                     "touchpoint": tp, "kind": "nps", "score": score, "text": text,
                     "sentiment": 0.0})  # fmt: skip
    # odd texts: empty, NULL, emoji only, non-English, digits only
    for j, text in enumerate(
        ["", None, "😡😡😡", "配送がとても遅い", "Lieferung kam zu spät", "12345"]
    ):
        rows.append({"feedback_id": f"odd{j}", "customer_id": "x", "ts": "2024-05-01",
                     "touchpoint": "delivery", "kind": "nps", "score": 0.0, "text": text,
                     "sentiment": None if not text else 0.0})  # fmt: skip
    return feedback_frame(rows)


def test_planted_phrase_tops_its_touchpoint(tmp_path):
    fb = _corpus()
    con = warehouse(tmp_path, feedback=fb)
    got = theme_table(con.table("feedback"), by="touchpoint", spec=SPEC, top=5)
    delivery = got[got["touchpoint"] == "delivery"]
    assert delivery["stage"].eq("after").all()
    # the longer phrase covering the same comments wins over its parts
    assert delivery.iloc[0]["theme"] == "parcel arrived damaged"
    # oracle: negative delivery comments (emotion < 0 <=> score < 5 with sentiment 0)
    neg = fb[(fb["touchpoint"] == "delivery") & (fb["score"] < 5) & fb["text"].notna()]
    containing = neg[neg["text"].str.contains("parcel arrived damaged")]
    top = delivery.iloc[0]
    assert top["count"] == len(containing)
    assert top["share"] == len(containing) / len(neg[neg["text"].str.strip() != ""])
    assert (delivery["score"].iloc[1:] < top["score"]).all()
    # its parts say less and cover the same comments: folded into it
    assert not delivery["theme"].isin(["parcel", "damaged", "parcel arrived"]).any()
    by_id = fb.set_index("feedback_id")["text"]
    assert len(top["quotes"]) == 3
    for q in top["quotes"]:
        assert by_id[q["feedback_id"]] == q["text"]  # verbatim and traceable
        assert "parcel arrived damaged" in q["text"]
    # the phrase does not set checkout or product apart
    others = got[got["touchpoint"] != "delivery"]
    assert not others["theme"].str.contains("damaged").any()


def test_by_stage_and_parallel_counting(tmp_path, monkeypatch):
    con = warehouse(tmp_path, feedback=_corpus())
    serial = theme_table(con.table("feedback"), by="stage", spec=SPEC, top=3)
    monkeypatch.setattr(themes_mod, "POOL_MIN_TEXTS", 0)
    monkeypatch.setattr(themes_mod, "CHUNK_SIZE", 100)
    parallel = theme_table(con.table("feedback"), by="stage", spec=SPEC, top=3, workers=2)
    pd.testing.assert_frame_equal(serial, parallel)
    assert serial[serial["stage"] == "after"].iloc[0]["theme"] == "parcel arrived damaged"


def test_tokenizer_handles_odd_text():
    assert tokens(None) == [] and tokens("") == [] and tokens("😀 123 !!") == []
    assert tokens("Didn’t ARRIVE, 2 times") == ["didn't", "arrive", "times"]
    assert tokens("Lieferung kam zu spät") == ["lieferung", "kam", "zu", "spät"]
    assert ngrams("waited on hold for ages") >= {"waited on hold", "hold", "ages", "waited"}
    assert "on hold" not in ngrams("waited on hold") and "the" not in ngrams("the end")


def test_empty_feedback_gives_empty_table(tmp_path):
    con = warehouse(tmp_path, feedback=feedback_frame([]))
    got = theme_table(con.table("feedback"), by="touchpoint", spec=SPEC)
    assert got.empty and "quotes" in got.columns


def test_negations_only_inside_phrases():
    got = ngrams("parcel not delivered, too slow")
    assert {"not delivered", "too slow", "parcel not delivered"} <= got
    assert "not" not in got and "too" not in got
