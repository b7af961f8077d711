"""Refresh: re-derive everything below the raw data, in the contract's order.

1. identity stitching (``journeymap.sources.identity.stitch``)
2. touchpoint/stage mapping of events and persona assignment of customers
   (:func:`apply_mapping`, using ``journeymap.spec.matching``)
3. sessions and the sorted journey store (``journeymap.engine.store.build_store``)
4. feedback attachment and sentiment (``journeymap.voice.attach.attach_feedback``)

Steps are plain functions ``step(ws) -> report``. A step whose module is missing is an
ImportError, never silently skipped: a half-refreshed workspace would give wrong maps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ibis

from journeymap.workspace import backend

Step = Callable[[Any], Any]
DEFAULT_MEMORY_LIMIT = "4GB"


@dataclass
class MappingReport:
    """Step 2: how many events got a touchpoint and customers a persona."""

    events: int = 0
    mapped: int = 0
    customers: int = 0
    with_persona: int = 0

    def __str__(self) -> str:
        return (
            f"mapped {self.mapped} of {self.events} events to touchpoints; "
            f"{self.with_persona} of {self.customers} customers have a persona"
        )


@dataclass
class RefreshReport:
    """Each step's report (by step name) and the unmapped events by event name."""

    steps: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    unmapped_events: dict[str, int] = field(default_factory=dict)
    data_version: int = 0

    def lines(self) -> list[str]:
        out = [f"{name} ({self.seconds[name]:.1f} s): {rep}" for name, rep in self.steps.items()]
        if self.unmapped_events:
            total = sum(self.unmapped_events.values())
            top = ", ".join(f"{e} {n}" for e, n in list(self.unmapped_events.items())[:10])
            out.append(f"unmapped events: {total} ({top})")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def default_steps() -> list[tuple[str, Step]]:
    """The contract pipeline; importing each step's module is part of running it."""
    from journeymap.engine.store import build_store
    from journeymap.sources.identity import stitch
    from journeymap.voice.attach import attach_feedback

    return [
        ("stitch", stitch),
        ("mapping", apply_mapping),
        ("store", build_store),
        ("attach", attach_feedback),
    ]


def refresh(ws: Any, steps: Sequence[tuple[str, Step]] | None = None) -> RefreshReport:
    """Run the refresh pipeline on workspace ``ws`` (``steps`` overrides it for tests).

    DuckDB's memory is capped at ``[refresh] memory_limit`` while the steps run (see
    :func:`refresh_memory_limit`).
    """
    report = RefreshReport()
    with _capped(ws):
        for name, step in default_steps() if steps is None else steps:
            clock = time.perf_counter()
            report.steps[name] = step(ws)
            report.seconds[name] = time.perf_counter() - clock
    report.unmapped_events = unmapped_events(ws)
    with ws.transaction():
        report.data_version = ws.bump_data_version()
    return report


def refresh_memory_limit(settings: dict[str, Any] | None) -> str:
    """``[refresh] memory_limit`` (default 4GB): DuckDB spills to disk beyond it.

    Without a cap DuckDB takes up to 80% of the machine's memory before spilling; the
    stitch of 10M events then held 6.5 GB; capped at 5GB it peaked at 5.3 GB, spilling
    its scratch tables, joins and sorts to the temp directory (``<warehouse>.tmp/``).
    Python-side memory (the journey store's Arrow and numpy arrays) is not covered.
    """
    return str(((settings or {}).get("refresh") or {}).get("memory_limit", DEFAULT_MEMORY_LIMIT))


@contextmanager
def _capped(ws: Any) -> Iterator[None]:
    """The refresh memory cap on a DuckDB workspace; nothing on other backends."""
    with backend.memory_limit(ws.con, refresh_memory_limit(getattr(ws, "settings", None))):
        yield


def apply_mapping(ws: Any) -> MappingReport:
    """Step 2: set events.touchpoint/stage and customers.persona from journey.yaml.

    The stage is the stage of the matched touchpoint in the spec, so the two columns
    can never disagree. Both tables are rewritten in one transaction.
    """
    from journeymap.spec.matching import persona_expr, stage_expr, touchpoint_expr

    spec = ws.spec
    with ws.transaction():
        events = ws.table("events")
        touchpoint = touchpoint_expr(spec, events).cast("string")
        mapped = events.mutate(touchpoint=touchpoint, stage=stage_expr(spec, touchpoint))
        backend.replace_table(ws.con, "events", mapped)
        customers = ws.table("customers")
        backend.replace_table(
            ws.con, "customers", customers.mutate(persona=persona_expr(spec, customers))
        )
        events, customers = ws.table("events"), ws.table("customers")
        counts = events.aggregate(
            events=events.count(), mapped=events.touchpoint.count()
        ).cross_join(
            customers.aggregate(customers=customers.count(), with_persona=customers.persona.count())
        )  # Ibis, not SQL text: the same on every backend
        row = counts.to_pyarrow().to_pylist()[0]
    return MappingReport(**{k: int(v) for k, v in row.items()})


def unmapped_events(ws: Any) -> dict[str, int]:
    """Events with no touchpoint, counted by event name, most frequent first."""
    t = ws.table("events")
    unmapped = t.filter(t.touchpoint.isnull())
    counts = (
        unmapped.group_by("event")
        .aggregate(n=unmapped.count())
        .order_by([ibis.desc("n"), "event"])
        .to_pandas()
    )
    return {str(e): int(n) for e, n in zip(counts["event"], counts["n"], strict=True)}
