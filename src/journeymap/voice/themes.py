"""Themes: the phrases that set a touchpoint's (or stage's) negative comments apart.

Method: weighted log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi &
Quinn 2008, "Fightin' Words", eq. 22). For a group g (the *negative* comments attached to
one touchpoint or stage; negative = emotion < 0, see :mod:`journeymap.voice.formulas`)
against every other comment with text, and each 1-3 word phrase w (:mod:`.text`)::

    y_g, y_o   comments containing w in g / in the others   (each comment counts once)
    n_g, n_o   sums of y over all phrases in g / in the others
    a_w        prior = a0 · (y_g + y_o) / (n_g + n_o), a0 = prior_strength (default 500)
    delta      = log((y_g + a_w) / (n_g + a0 - y_g - a_w))
                 - log((y_o + a_w) / (n_o + a0 - y_o - a_w))
    score      = delta / sqrt(1/(y_g + a_w) + 1/(y_o + a_w))   (a z-score)

Phrases in fewer than ``min_count`` comments of the group are skipped; a phrase is dropped
when a longer selected phrase contains it and covers at least 80% of its comments (the
longer one says more). Each theme carries up to ``quotes`` verbatim comments containing
it, most negative first, with their ``feedback_id``.

Counting is the heavy part: the database first collapses repeated texts (counted once,
weighted by how often they occur), then chunks run in a process pool (one worker per
core) for large inputs.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from journeymap.voice.emotions import with_emotion
from journeymap.voice.groups import check_by, order_rows, with_stage
from journeymap.voice.pool import pool_map
from journeymap.voice.sentiment import has_text
from journeymap.voice.spec_view import stage_of
from journeymap.voice.text import ngrams

POOL_MIN_TEXTS = 50_000
CHUNK_SIZE = 25_000
THEME_COLUMNS = ["theme", "words", "count", "share", "background", "score", "quotes"]


def comments(
    feedback: ir.Table, *, by: str, spec: Any | None, settings: Mapping[str, Any] | None
) -> ir.Table:
    """The comments themes read: feedback_id, group, text, emotion, negative."""
    check_by(by, ("touchpoint", "stage"))
    fb = with_stage(with_emotion(feedback, settings), spec)
    fb = fb.filter(has_text(fb.text))
    return fb.select(
        "feedback_id",
        group=fb[by],
        text=fb.text,
        emotion=fb.emotion,
        negative=(fb.emotion < 0).fill_null(False),
    )


def theme_table(
    feedback: ir.Table,
    *,
    by: str = "touchpoint",
    spec: Any | None = None,
    settings: Mapping[str, Any] | None = None,
    top: int = 10,
    quotes: int = 3,
    min_count: int = 2,
    prior_strength: float = 500.0,
    workers: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Top ``top`` themes per group. Columns: by, [stage], theme, words, count (negative
    comments of the group containing it), share (of the group's negative comments),
    background (other comments containing it), score (z), quotes (list of
    {feedback_id, text})."""
    base = comments(feedback, by=by, spec=spec, settings=settings)
    # Repeated texts are counted once with their weight: the database collapses them.
    distinct = base.group_by(["group", "text", "negative"]).aggregate(weight=base.count())
    counts = count_phrases(distinct.to_pandas(), workers=workers, progress=progress)
    ranked = {
        group: rank_phrases(
            group_counts, counts.all, top=top, min_count=min_count, prior=prior_strength
        )
        for group, group_counts in counts.negative.items()
    }
    ranked = {g: t for g, t in ranked.items() if t}
    negatives = base.filter(base.negative & base.group.isin(list(ranked))).to_pandas()
    rows = []
    for group, themes in ranked.items():
        found = find_quotes(
            negatives[negatives["group"] == group], [t["theme"] for t in themes], quotes
        )
        n_neg = counts.negative_docs[group]
        for t in themes:
            rows.append({by: group, **t, "share": t["count"] / n_neg, "quotes": found[t["theme"]]})
    df = pd.DataFrame(rows, columns=[by, *THEME_COLUMNS])
    if by == "touchpoint":
        df.insert(1, "stage", df["touchpoint"].map(stage_of(spec)))
    # stable: within a group the rows stay best score first
    return order_rows(df, by, spec)


class PhraseCounts:
    """Comment frequencies: over all comments, and per group over its negative ones."""

    def __init__(self) -> None:
        self.all: Counter[str] = Counter()
        self.negative: dict[Any, Counter[str]] = {}
        self.negative_docs: Counter[Any] = Counter()

    def merge(self, other: PhraseCounts) -> None:
        self.all.update(other.all)
        self.negative_docs.update(other.negative_docs)
        for g, c in other.negative.items():
            self.negative.setdefault(g, Counter()).update(c)


def _count_chunk(
    args: tuple[Sequence[str], Sequence[Any], Sequence[bool], Sequence[int]],
) -> PhraseCounts:
    texts, groups, negative, weights = args
    out = PhraseCounts()
    seen: dict[str, set[str]] = {}
    for text, group, neg, w in zip(texts, groups, negative, weights, strict=True):
        phrases = seen.get(text)
        if phrases is None:
            phrases = seen[text] = ngrams(text)
        for p in phrases:
            out.all[p] += w
        if neg and group is not None and group == group:
            out.negative_docs[group] += w
            target = out.negative.setdefault(group, Counter())
            for p in phrases:
                target[p] += w
    return out


def count_phrases(
    comments: pd.DataFrame, *, workers: int | None = None, progress: bool = False
) -> PhraseCounts:
    """Count phrases of ``comments`` (text, group, negative, optional weight = how many
    comments share that row), in a process pool when large."""
    texts = comments["text"].tolist()
    groups = comments["group"].tolist()
    neg = comments["negative"].astype(bool).tolist()
    weights = comments["weight"].astype(int).tolist() if "weight" in comments else [1] * len(texts)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(texts) < POOL_MIN_TEXTS:
        return _count_chunk((texts, groups, neg, weights))
    chunks = [
        (
            texts[i : i + CHUNK_SIZE],
            groups[i : i + CHUNK_SIZE],
            neg[i : i + CHUNK_SIZE],
            weights[i : i + CHUNK_SIZE],
        )
        for i in range(0, len(texts), CHUNK_SIZE)
    ]
    total = PhraseCounts()
    sizes = [len(chunk[0]) for chunk in chunks]
    for part in pool_map(
        _count_chunk,
        chunks,
        sizes,
        workers=workers,
        description="Counting phrases",
        progress=progress,
    ):
        total.merge(part)
    return total


def rank_phrases(
    group: Counter[str], everything: Counter[str], *, top: int, min_count: int, prior: float
) -> list[dict]:
    """The ``top`` phrases of ``group`` by log-odds z-score (formula in the module doc)."""
    n_all = float(sum(everything.values()))
    n_g = float(sum(group.values()))
    n_o = n_all - n_g
    cand = [w for w, c in group.items() if c >= min_count]
    if not cand or n_all <= 0:
        return []
    y_g = np.array([group[w] for w in cand], dtype=float)
    y_o = np.array([everything[w] for w in cand], dtype=float) - y_g
    alpha = prior * (y_g + y_o) / n_all
    delta = np.log((y_g + alpha) / (n_g + prior - y_g - alpha)) - np.log(
        (y_o + alpha) / (n_o + prior - y_o - alpha)
    )
    z = delta / np.sqrt(1.0 / (y_g + alpha) + 1.0 / (y_o + alpha))
    order = sorted(range(len(cand)), key=lambda i: (-z[i], cand[i]))
    pool = [i for i in order if z[i] > 0][: top * 4]
    kept: list[int] = []
    for i in pool:
        # dropped when a longer phrase in the pool contains it and covers >= 80% of its uses
        subsumed = any(
            len(cand[j]) > len(cand[i])
            and f" {cand[i]} " in f" {cand[j]} "
            and y_g[j] >= 0.8 * y_g[i]
            for j in pool
        )
        if not subsumed:
            kept.append(i)
        if len(kept) == top:
            break
    return [
        {
            "theme": cand[i],
            "words": cand[i].count(" ") + 1,
            "count": int(y_g[i]),
            "background": int(y_o[i]),
            "score": float(z[i]),
        }
        for i in kept
    ]


def find_quotes(negatives: pd.DataFrame, themes: list[str], k: int) -> dict[str, list[dict]]:
    """Up to ``k`` verbatim comments per theme, most negative first, ties by feedback_id."""
    found: dict[str, list[dict]] = {t: [] for t in themes}
    if k <= 0:
        return found
    ordered = negatives.sort_values(["emotion", "feedback_id"], kind="stable")
    for fid, text in zip(ordered["feedback_id"], ordered["text"], strict=True):
        phrases = ngrams(text)
        for t in themes:
            if len(found[t]) < k and t in phrases:
                found[t].append({"feedback_id": fid, "text": text})
        if all(len(v) >= k for v in found.values()):
            break
    return found
