"""VADER sentiment on known sentences, odd inputs, and the parallel path."""

from __future__ import annotations

import pytest

from journeymap.voice import sentiment
from journeymap.voice.sentiment import score_texts


def test_known_sentences():
    pos, neg, neutral = score_texts(
        [
            "I love this shop, the staff were wonderful and helpful!",
            "Terrible experience, the parcel was lost and support was useless.",
            "The parcel arrived on Tuesday.",
        ]
    )
    assert pos > 0.5
    assert neg < -0.5
    assert abs(neutral) < 0.05


def test_odd_texts_do_not_crash():
    odd = ["", "   ", "😀😀", "😠", "Der Service war gut", "配送が遅い", "!!!???", "a" * 5000]
    got = score_texts(odd)
    assert len(got) == len(odd)
    assert all(-1.0 <= s <= 1.0 for s in got)
    assert got[0] == 0.0
    assert got[2] > 0 and got[3] < 0  # VADER reads emoji through its emoji lexicon


def test_pool_gives_the_same_scores(monkeypatch):
    texts = [f"order {i} was {'great' if i % 2 else 'awful'} and late" for i in range(40)]
    monkeypatch.setattr(sentiment, "POOL_MIN_TEXTS", 0)
    monkeypatch.setattr(sentiment, "CHUNK_SIZE", 7)
    parallel = score_texts(texts, workers=2)
    assert parallel == pytest.approx(score_texts(texts, workers=1))
