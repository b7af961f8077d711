"""Offline sentiment (VADER compound, -1..1) over distinct texts, cached by text hash.

Why this shape: a feedback table repeats texts ("Great service", "Late delivery") and a
refresh re-reads all of it, so only *distinct, never-seen* texts are scored. Scores live
in the warehouse table ``sentiment_cache(text_hash, sentiment)`` keyed by the MD5 hex of
the text as DuckDB computes it, so the join back to ``feedback`` happens in the database.
Scoring runs in Python (VADER is pure Python) over chunks in a process pool, one worker
per core; small batches stay in-process because starting workers costs more than scoring.

VADER reads English words and emoji; text in other languages scores about 0, so the
emotion of such a response rests on its score (see :mod:`journeymap.voice.formulas`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeymap.voice.pool import pool_map
from journeymap.workspace.backend import append_rows, write_table

CACHE_TABLE = "sentiment_cache"
CACHE_SCHEMA = ibis.schema({"text_hash": "string", "sentiment": "float64"})
#: Below this many texts a process pool is slower than scoring in-process.
POOL_MIN_TEXTS = 20_000
CHUNK_SIZE = 10_000

_ANALYZER = None


def _analyzer():
    """One VADER analyzer per process (loading its lexicon takes ~0.1 s)."""
    global _ANALYZER
    if _ANALYZER is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _ANALYZER = SentimentIntensityAnalyzer()
    return _ANALYZER


def _score_chunk(texts: Sequence[str]) -> list[float]:
    analyzer = _analyzer()
    return [float(analyzer.polarity_scores(t)["compound"]) for t in texts]


def score_texts(
    texts: Sequence[str], *, workers: int | None = None, progress: bool = False
) -> list[float]:
    """VADER compound score of each text, in order (-1 most negative .. +1 most positive).

    Uses ``workers`` processes (default: every core) when there are at least
    :data:`POOL_MIN_TEXTS` texts. Callers pass non-empty texts; an empty string scores 0.
    """
    texts = list(texts)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(texts) < POOL_MIN_TEXTS:
        return _score_chunk(texts)
    chunks = [texts[i : i + CHUNK_SIZE] for i in range(0, len(texts), CHUNK_SIZE)]
    sizes = [len(chunk) for chunk in chunks]
    parts = pool_map(
        _score_chunk,
        chunks,
        sizes,
        workers=workers,
        description="Scoring sentiment",
        progress=progress,
    )
    return [score for part in parts for score in part]


def has_text(text: ir.StringValue) -> ir.BooleanValue:
    """True where a text is worth scoring: not NULL and not only whitespace."""
    return text.notnull() & (text.strip().length() > 0)


def text_hash(text: ir.StringValue) -> ir.StringValue:
    """The cache key of a text: MD5 hex computed by the database."""
    return text.hexdigest("md5")


def cache_table(con: ibis.BaseBackend) -> ir.Table:
    """The ``sentiment_cache`` table, created empty on first use."""
    if CACHE_TABLE not in con.list_tables():
        # the portable write: a table on DuckDB, a session temp view on a bare Spark
        # connection (a Spark workspace keeps its cache in the DuckDB file instead)
        return write_table(con, CACHE_TABLE, CACHE_SCHEMA.to_pyarrow().empty_table())
    return con.table(CACHE_TABLE)


def cache_for(con: ibis.BaseBackend, cache_con: ibis.BaseBackend) -> tuple[ir.Table, str | None]:
    """The sentiment cache as a table on ``con``, to join with ``con``'s feedback there.

    Returns (table, name of a scratch copy to drop afterwards or None). When the cache
    lives on ``con`` it is the table itself; otherwise (a Spark workspace) the cache rows
    are copied into a temp view with the backend's portable write.
    """
    if cache_con is con:
        return cache_table(con), None
    name = "_voice_sentiment_cache"
    return write_table(con, name, cache_table(cache_con).to_pyarrow(), temp=True), name


def fill_cache(
    con: ibis.BaseBackend,
    texts: ir.StringColumn,
    *,
    workers: int | None = None,
    progress: bool = False,
    cache_con: ibis.BaseBackend | None = None,
) -> int:
    """Score every distinct text of ``texts`` missing from the cache; return how many.

    ``texts`` is a string column of any table on ``con``; NULL and blank texts are skipped.
    The cache lives on ``cache_con`` (default ``con``); when that is another database (a
    Spark workspace's DuckDB file) the distinct texts are fetched and compared there.
    """
    cache_con = con if cache_con is None else cache_con
    cache = cache_table(cache_con)
    source = texts.name("text").as_table()
    source = source.filter(has_text(source.text))
    distinct = source.select(text_hash=text_hash(source.text), text=source.text).distinct()
    if cache_con is con:
        todo = distinct.anti_join(cache, "text_hash").to_pandas()
    else:
        fetched = ibis.memtable(distinct.to_pyarrow())
        todo = cache_con.to_pandas(fetched.anti_join(cache, "text_hash"))
    if todo.empty:
        return 0
    scores = score_texts(todo["text"].tolist(), workers=workers, progress=progress)
    rows = pa.table(
        {
            "text_hash": pa.array(todo["text_hash"], pa.string()),
            "sentiment": pa.array(scores, pa.float64()),
        }
    )
    append_rows(cache_con, CACHE_TABLE, rows)
    return len(todo)
