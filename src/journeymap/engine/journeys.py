"""Journeys as flat numpy arrays: the one in-memory shape every engine pass reads.

A :class:`Journeys` holds, for many journeys (one per customer, or one per session),
the events of each journey back to back in tie-rule order (see :mod:`.backend`), cut by
``offsets``: journey ``i`` is ``offsets[i]:offsets[i+1]``. Names are small integer
codes into sorted dictionaries (``-1`` = no value, e.g. an unmapped touchpoint).

It is built either from the journey store (sorted once at refresh, see :mod:`.store`) or
from the events table sorted on the fly; both give the same arrays, so every analysis
gives the same answer on either path.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Name kinds carried per event, each with its own dictionary.
KINDS: tuple[str, ...] = ("event", "touchpoint", "stage", "channel")
LEVELS: tuple[str, ...] = ("touchpoint", "stage", "event")
#: Columns fetched from the events table to build journeys.
ROW_COLUMNS: list[str] = ["customer_id", "ts", *KINDS, "session_id"]

#: Customer ids and journey keys are numpy's variable-width strings: 16 bytes an id of up
#: to 15 characters (longer ones add their length), against about 75 for an object array
#: of Python ``str``: 1.3 GB for the 17.8M customers of the 100M-event benchmark.
ID_DTYPE = np.dtypes.StringDType()

#: Inside :func:`sharing`: the (journeys, cache key) of the derived values kept for it.
_SHARING: ContextVar[list | None] = ContextVar("journeymap_sharing", default=None)
_T = TypeVar("_T")


@contextmanager
def sharing() -> Iterator[None]:
    """Within this block values derived from journeys through :func:`shared` (the mapped
    journeys of :meth:`Journeys.mapped`, the step pairs of
    :func:`journeymap.engine.metrics.step_pairs`) are kept in the journeys' cache, so the
    questions that follow (a snapshot: metrics, funnel, flows, transitions, pain
    detection) build them once and hold one copy, not one each. They are dropped at the
    end: at 100M events a mapped copy weighs about 2.5 GB, too much to hold in a
    long-lived process (the web app) for nothing."""
    kept: list = []
    token = _SHARING.set(kept)
    try:
        yield
    finally:
        _SHARING.reset(token)
        for journeys, key in kept:
            journeys._cache.pop(key, None)


def shared(journeys: Journeys, key: tuple, build: Callable[[], _T]) -> _T:
    """``build()``; inside :func:`sharing` built once per ``journeys`` and ``key`` and
    kept in its cache until the block ends (``key`` names the level where the value
    depends on it: :meth:`Journeys.at_level` copies share one cache)."""
    if key in journeys._cache:
        return journeys._cache[key]
    value = build()
    kept = _SHARING.get()
    if kept is not None:
        journeys._cache[key] = value
        kept.append((journeys, key))
    return value


def as_ids(values: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """Customer ids (Arrow, or numpy str / object) as an :data:`ID_DTYPE` array. A null id
    is an error, not the text "None" numpy would make of it."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        if values.null_count:
            raise ValueError(f"journeys: {values.null_count} events have no customer_id")
        values = values.to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=ID_DTYPE)


#: Ids converted to Arrow at a time by :func:`ids_to_arrow`.
IDS_TO_ARROW_CHUNK = 1 << 20


def ids_to_arrow(values: np.ndarray) -> pa.ChunkedArray:
    """Ids as Arrow strings. pyarrow does not read numpy's StringDType, so they go through
    Python ``str`` objects, ``IDS_TO_ARROW_CHUNK`` at a time: all at once, the 17.8M
    customers of the 100M benchmark would be 1.1 GB of objects for an instant."""
    chunks = [
        pa.array(values[at : at + IDS_TO_ARROW_CHUNK].astype(object), pa.string())
        for at in range(0, len(values), IDS_TO_ARROW_CHUNK)
    ]
    return pa.chunked_array(chunks, pa.string())


def dictionary(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The sorted distinct non-null values: THE order of codes (code order == name order)."""
    return np.array(sorted(v for v in pc.unique(values).to_pylist() if v is not None), dtype=object)


def encode(
    values: pa.ChunkedArray | pa.Array, names: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Codes (int32, -1 for null) into ``names`` (default: :func:`dictionary` of the values;
    a store build passes one dictionary for all its partitions)."""
    if names is None:  # one hash pass, then only the distinct values are sorted
        if isinstance(values, pa.ChunkedArray) and values.nbytes < 2**30:
            values = values.combine_chunks()  # one dictionary: unifying 80 is slow
        encoded = pc.dictionary_encode(values)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.unify_dictionaries().combine_chunks()
        distinct = encoded.dictionary
        order = pc.sort_indices(distinct).to_numpy()
        rank = np.empty(len(order) + 1, dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        rank[-1] = -1  # nulls
        index = pc.fill_null(encoded.indices, len(order)).to_numpy(zero_copy_only=False)
        names = np.asarray(distinct.take(pa.array(order)).to_pylist(), dtype=object)
        return rank[index], names
    if not len(names):
        return np.full(len(values), -1, dtype=np.int32), np.array([], dtype=object)
    codes = pc.index_in(values, value_set=pa.array(list(names), type=pa.string()))
    codes = pc.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    return codes, names


def micros(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Timestamps as int64 microseconds since the epoch (UTC)."""
    typ = values.type
    target = pa.timestamp("us", tz=typ.tz) if pa.types.is_timestamp(typ) else pa.timestamp("us")
    return values.cast(target).cast(pa.int64()).to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class Journeys:
    """Ordered journeys as flat arrays (see the module docstring)."""

    customers: np.ndarray  # ID_DTYPE: customer id of each journey
    keys: np.ndarray  # ID_DTYPE: journey key (customer id, or "<customer>#<session>")
    offsets: np.ndarray  # int64, len = journeys + 1
    ts: np.ndarray  # int64 microseconds per event
    codes: Mapping[str, np.ndarray]  # kind -> int32 code per event (a dict, or read lazily)
    names: dict[str, np.ndarray]  # kind -> sorted dictionary
    session: np.ndarray  # int32 session number (1-based) per event
    level: str = "touchpoint"
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    # ----- construction -------------------------------------------------------------
    @classmethod
    def from_rows(
        cls,
        rows: pa.Table,
        level: str = "touchpoint",
        inactivity_us: int | None = None,
        names: dict[str, np.ndarray] | None = None,
    ) -> Journeys:
        """Journeys from event rows already sorted by customer and the tie rule.

        Sessions come from the ``session_id`` column (a new session where it changes), or,
        with ``inactivity_us``, from the gaps themselves (:func:`session_numbers`; this is
        how the store build defines them before writing ``session_id``). ``names`` gives the
        dictionaries (kind -> sorted names) instead of deriving them from these rows.
        """
        ids = rows["customer_id"].combine_chunks()
        new = np.ones(len(ids), dtype=bool)
        if len(ids) > 1:  # rows are sorted by customer: a run per customer
            new[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
        starts = np.flatnonzero(new)
        offsets = np.append(starts, len(ids)).astype(np.int64)
        customers = as_ids(ids.take(pa.array(starts)))
        codes, dictionaries = {}, {}
        for kind in KINDS:
            codes[kind], dictionaries[kind] = encode(rows[kind], (names or {}).get(kind))
        ts = micros(rows["ts"])
        if inactivity_us is not None:
            session = session_numbers(ts, offsets, inactivity_us)
        else:
            sessions = pc.fill_null(rows["session_id"], "").combine_chunks()
            changed = np.ones(len(sessions), dtype=bool)
            if len(sessions) > 1:
                changed[1:] = pc.not_equal(sessions[1:], sessions[:-1]).to_numpy(
                    zero_copy_only=False
                )
            session = _numbers_within(np.cumsum(changed), offsets)
        return cls(
            customers=customers,
            keys=customers,
            offsets=offsets,
            ts=ts,
            codes=codes,
            names=dictionaries,
            session=session,
            level=level,
        )

    @classmethod
    def concat(cls, parts, n_events: int | None = None) -> Journeys:
        """One Journeys of ``parts`` back to back (they share one set of dictionaries).

        ``parts`` is a list (emptied as it is read) or, with ``n_events`` (their total),
        an iterator building one part at a time. Each part is copied into arrays of the
        full size and let go at once, so memory holds the result plus one part, not two
        copies of the log; a kind that is the event codes in every part (touchpoint when
        events stand for touchpoints) stays shared, and one with no value (-1) anywhere
        becomes a read-only constant view (what keeps a 100M-event log under 8 GB)."""
        if isinstance(parts, list):
            if len(parts) == 1:
                return parts.pop()
            n_events = sum(p.n_events for p in parts)
            given = parts
            parts = (given.pop(0) for _ in range(len(given)))
        elif n_events is None:
            raise ValueError("Journeys.concat: an iterator of parts needs n_events")
        first = next(iter(parts), None)
        if first is None:
            raise ValueError("Journeys.concat: no parts")
        ts = np.empty(n_events, dtype=first.ts.dtype)
        session = np.empty(n_events, dtype=first.session.dtype)
        names, level = first.names, first.level
        mode = {
            k: "event"
            if k != "event" and first.codes[k] is first.codes["event"]
            else "none"
            if k != "event" and not (first.codes[k] >= 0).any()
            else "own"
            for k in KINDS
        }
        codes = {k: np.empty(n_events, dtype=np.int32) for k in KINDS if mode[k] == "own"}
        offsets, customers, keys = [], [], []
        at = 0
        stream = itertools.chain([first], parts)  # (the list lets go of it once read)
        del first
        for p in stream:
            n = p.n_events
            ts[at : at + n], session[at : at + n] = p.ts, p.session
            for k in KINDS:
                shared = mode[k] == "event" and p.codes[k] is p.codes["event"]
                empty = mode[k] == "none" and not (p.codes[k] >= 0).any()
                if mode[k] != "own" and not (shared or empty):  # differs here: copy it out
                    full = np.empty(n_events, dtype=np.int32)
                    full[:at] = codes["event"][:at] if mode[k] == "event" else -1
                    codes[k], mode[k] = full, "own"
                if mode[k] == "own":
                    codes[k][at : at + n] = p.codes[k]
            offsets.append(p.offsets[:-1] + at)
            customers.append(p.customers)
            keys.append(p.keys)
            at += n
            del p
        for k in KINDS:
            if mode[k] == "event":
                codes[k] = codes["event"]
            elif mode[k] == "none":
                codes[k] = np.broadcast_to(np.int32(-1), (n_events,))
        return cls(
            customers=np.concatenate(customers),
            keys=np.concatenate(keys),
            offsets=np.append(np.concatenate(offsets), at).astype(np.int64),
            ts=ts,
            codes=codes,
            names=names,
            session=session,
            level=level,
        )

    # ----- views --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_events(self) -> int:
        return int(self.offsets[-1])

    @property
    def steps(self) -> np.ndarray:
        """Codes of the analysed level (touchpoint, stage or event)."""
        return self.codes[self.level]

    @property
    def step_names(self) -> np.ndarray:
        return self.names[self.level]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def journey_of_event(self) -> np.ndarray:
        """Index of the journey each event belongs to (kept in the cache: a pass that needs
        it once calls :func:`journey_numbers` instead)."""
        if "jid" not in self._cache:
            self._cache["jid"] = journey_numbers(self.offsets)
        return self._cache["jid"]

    def at_level(self, level: str) -> Journeys:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
        if level == self.level:
            return self
        # the cached arrays depend on the journeys, not on the level: share them
        return replace(self, level=level, _cache=self._cache)

    def select(self, mask: np.ndarray) -> Journeys:
        """Only the events where ``mask`` holds; journeys left empty are dropped.

        The kept events are counted per journey from ``mask`` and ``offsets``, not from
        :attr:`journey_of_event`, which would stay in this journeys' cache (the store's
        for the process's lifetime: 0.4 GB at 100M events) for this one count. Times and
        sessions are copied now, each kind of codes when first read (:class:`_SelectedCodes`
        keeps ``mask``, which must not change afterwards)."""
        if mask.all():
            return self
        kept_counts = count_per_journey(mask, self.offsets)
        keep = kept_counts > 0
        offsets = np.append(0, np.cumsum(kept_counts[keep])).astype(np.int64)
        customers = self.customers[keep]
        return replace(
            self,
            customers=customers,
            # customer journeys keep ``keys is customers``: one array, and what tells
            # readers (transitions) that each journey is one customer
            keys=customers if self.keys is self.customers else self.keys[keep],
            offsets=offsets,
            ts=self.ts[mask],
            codes=_SelectedCodes(self.codes, mask, int(offsets[-1])),
            session=self.session[mask],
            _cache={},
        )

    def select_journeys(self, keep: np.ndarray) -> Journeys:
        """Only the journeys where the boolean ``keep`` holds."""
        return self.select(keep[self.journey_of_event])

    def mapped(self) -> Journeys:
        """Without events that have no name at the analysed level (unmapped events); a
        copy of the mapped events' arrays, made once per :func:`sharing` block."""
        return shared(self, ("mapped", self.level), lambda: self.select(self.steps >= 0))

    def by_session(self) -> Journeys:
        """One journey per session instead of per customer."""
        jid = self.journey_of_event
        boundary = np.ones(self.n_events, dtype=bool)
        if self.n_events > 1:
            boundary[1:] = (jid[1:] != jid[:-1]) | (self.session[1:] != self.session[:-1])
        starts = np.flatnonzero(boundary)
        offsets = np.append(starts, self.n_events).astype(np.int64)
        customers = self.customers[jid[starts]]
        keys = np.strings.add(np.strings.add(customers, "#"), self.session[starts].astype(ID_DTYPE))
        return replace(self, customers=customers, keys=keys, offsets=offsets, _cache={})

    def customer_codes(self) -> np.ndarray:
        """A small integer per customer, per journey, non-decreasing (a customer's journeys
        are contiguous), for distinct counts."""
        if "cust" not in self._cache:
            change = np.zeros(len(self), dtype=np.int64)
            if len(self) > 1:
                change[1:] = self.customers[1:] != self.customers[:-1]
            self._cache["cust"] = np.cumsum(change)
        return self._cache["cust"]

    def code_of(self, name: str, kind: str | None = None) -> int:
        """Code of ``name`` in the dictionary of ``kind`` (the level by default), -1 if absent."""
        names = self.names[kind or self.level]
        idx = np.searchsorted(names.astype(str), name) if len(names) else 0
        return int(idx) if idx < len(names) and names[idx] == name else -1


def journey_ranges(offsets: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Consecutive ranges ``[a, b)`` of whole journeys of at most ``size`` events each (a
    longer journey makes a range by itself), covering every journey: how a pass over
    independent journeys holds one range's temporaries at a time."""
    n, bounds = len(offsets) - 1, [(0)]
    while bounds[-1] < n:
        a = bounds[-1]
        b = int(np.searchsorted(offsets, offsets[a] + size, side="right")) - 1
        bounds.append(max(b, a + 1))
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def journey_numbers(offsets: np.ndarray) -> np.ndarray:
    """The journey (int32) of each event of the journeys cut by ``offsets``, built afresh:
    4 bytes an event (0.3 GB at 100M), which :attr:`Journeys.journey_of_event` keeps in
    the journeys' cache and a single pass need not."""
    return np.repeat(np.arange(len(offsets) - 1, dtype=np.int32), np.diff(offsets))


def count_per_journey(mask: np.ndarray, offsets: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """How many events of each journey ``mask`` holds for, ``chunk`` journeys at a time
    (``reduceat`` widens the booleans it sums to int64: 8 bytes an event at once)."""
    counts = np.zeros(len(offsets) - 1, dtype=np.int64)
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])  # reduceat needs increasing starts
    for at in range(0, len(nonempty), chunk):
        rows = nonempty[at : at + chunk]
        lo, hi = offsets[rows[0]], offsets[rows[-1] + 1]
        counts[rows] = np.add.reduceat(mask[lo:hi], offsets[rows] - lo, dtype=np.int64)
    return counts


class _SelectedCodes(Mapping):
    """The codes of the events ``mask`` keeps, each kind copied out of ``source`` when it
    is first read: a question reads the level's codes and one or two other kinds, and
    each kind of a 100M-event log not read is 0.3 GB not copied (``mapped()`` copies for
    every question). Kinds sharing one array (touchpoint = event in ``analyze_events``)
    share one copy; a constant (a kind with no value, a read-only broadcast of -1) stays a
    constant. Holds ``mask`` (a byte per event of the source) and ``source`` meanwhile."""

    def __init__(self, source: Mapping[str, np.ndarray], mask: np.ndarray, n: int):
        self._source, self._mask, self._n = source, mask, n
        self._done: dict[int, np.ndarray] = {}  # by the source array's id (kept alive by it)

    def __getitem__(self, kind: str) -> np.ndarray:
        values = self._source[kind]
        if id(values) not in self._done:
            constant = values.ndim == 1 and values.strides == (0,) and len(values)
            self._done[id(values)] = (
                np.broadcast_to(values[0], (self._n,)) if constant else values[self._mask]
            )
        return self._done[id(values)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._source)

    def __len__(self) -> int:
        return len(self._source)


def session_numbers(ts: np.ndarray, offsets: np.ndarray, inactivity_us: int) -> np.ndarray:
    """Session number (1-based) of each event: THE definition of a session.

    A new session starts at a customer's first event and whenever an event comes more than
    the inactivity gap after the previous one (strictly more: a gap of exactly the limit
    stays in the session). Events are in tie-rule order, so equal timestamps never split.
    """
    n = len(ts)
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    new = np.ones(n, dtype=bool)
    if n > 1:
        np.greater(ts[1:] - ts[:-1], inactivity_us, out=new[1:])
    starts = offsets[:-1][offsets[:-1] < n]
    new[starts] = True
    running = np.cumsum(new, dtype=np.int32 if n < 2**31 else np.int64)
    first = running[np.minimum(offsets[:-1], n - 1)] - 1  # (an empty journey takes none)
    return (running - np.repeat(first, np.diff(offsets))).astype(np.int32, copy=False)


def _numbers_within(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """1-based run number of each value within its journey (a new run when it changes)."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    new = np.ones(n, dtype=bool)
    new[1:] = values[1:] != values[:-1]
    new[offsets[:-1]] = True
    running = np.cumsum(new)
    first = running[offsets[:-1]] - 1
    lengths = np.diff(offsets)
    return (running - np.repeat(first, lengths)).astype(np.int32)
