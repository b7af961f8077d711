"""The Analysis object: every journey question over one filtered slice of the data.

Contract (docs/contracts.md; other areas rely on these names)::

    class Analysis:
        con            # ibis backend
        spec           # JourneySpec or None (analyze_events)
        settings       # dict
        @classmethod
        def from_workspace(cls, ws, *, start=None, end=None, persona=None, channel=None,
                           where: dict | None = None, level="touchpoint",
                           sessions=False) -> "Analysis"
        def filtered(self, **changes) -> "Analysis"     # same analysis, other filters
        def events(self) -> ibis.Table     # filtered canonical events + a `step` column
                                           # (name at the level; NULL when unmapped)
        def feedback(self) -> ibis.Table | None   # same customers and date range
        def customers(self) -> ibis.Table | None
        def transitions(self, *, markers=False, arrow=False) -> pd.DataFrame
        def variants(self, top=None, collapse_repeats=False) -> pd.DataFrame
        def funnel(self, steps, window="14d", order="ordered", exclusions=None,
                   reference="total", breakdown=None, attribution="first_touch",
                   open=False, distribution=False, directly=None,
                   within=None) -> pd.DataFrame
        def flows(self, start=None, end=None, steps=5, edge_limit=None, cleaning=None,
                  dropped_at=None) -> pd.DataFrame
        def stage_metrics(self) -> pd.DataFrame
        def touchpoint_metrics(self) -> pd.DataFrame
        def conformance(self, by_persona=False) -> pd.DataFrame
        def close(self)        # analyze_events: remove its temporary database now
                               # (also a context manager; else removed with the last copy)
        def scores/emotions/themes/drivers(self, **kw)   # delegate to journeymap.voice.api
    def analyze_events(data, *, customer="customer_id", event="event", ts="ts",
                       channel=None, event_id=None) -> Analysis

Semantics shared by all questions:

- Order and ties: a customer's events are ordered by ``(ts, event, event_id)``.
- Journeys are per customer, or per session with ``sessions=True`` (sessions come from
  ``events.session_id``, filled by the store build; inactivity gap > 30 min by default).
- Filters (``start`` inclusive, ``end`` exclusive, persona, channel, ``where`` on customer
  columns) pick events first; journeys are then cut from what is left, and customers left
  with no event are not counted anywhere. Sessions are numbered on all events before
  filtering, so a date filter never merges two sessions.
- Unmapped events (no touchpoint / stage at the chosen level) stay in ``events()`` with a
  NULL ``step`` and in conformance's unmapped counts; paths, funnels, flows and metrics
  leave them out.
- Two paths, one answer: questions are answered from the journey store (built once per
  refresh) when it is fresh and otherwise from the events table sorted on the fly; both
  feed the same numpy passes, so results are identical (tests check both).
"""

from __future__ import annotations

import dataclasses

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from journeymap.engine import flows as flows_mod
from journeymap.engine import funnel as funnel_mod
from journeymap.engine import metrics as metrics_mod
from journeymap.engine import paths as paths_mod
from journeymap.engine.backend import sorted_rows
from journeymap.engine.filters import Filters, filter_customers, filter_time
from journeymap.engine.journeys import ROW_COLUMNS, Journeys, as_ids
from journeymap.engine.store import loaded_store, store_is_fresh


class Analysis:
    """One slice of the data (filters + level) and every journey question about it."""

    def __init__(
        self,
        con,
        spec=None,
        settings: dict | None = None,
        filters: Filters | None = None,
        *,
        use_store: bool | None = None,
        scratch=None,
    ) -> None:
        self.con = con
        # analyze_events' temporary database; shared by every filtered() copy, removed
        # when the last of them is gone or on close()
        self._scratch = scratch
        self.spec = spec
        self.settings = dict(settings or {})
        self.filters = filters or Filters()
        engine_settings = self.settings.get("engine") or {}
        self.use_store = engine_settings.get("use_store", True) if use_store is None else use_store
        self._journeys: Journeys | None = None
        self._mapped: Journeys | None = None

    # ----- construction -------------------------------------------------------------
    @classmethod
    def from_workspace(
        cls,
        ws,
        *,
        start=None,
        end=None,
        persona=None,
        channel=None,
        where: dict | None = None,
        level="touchpoint",
        sessions=False,
    ) -> Analysis:
        filters = Filters.make(
            start=start,
            end=end,
            persona=persona,
            channel=channel,
            where=where,
            level=level,
            sessions=sessions,
        )
        return cls(ws.con, getattr(ws, "spec", None), getattr(ws, "settings", None), filters)

    def filtered(self, **changes) -> Analysis:
        """The same analysis with some filters changed (``use_store`` may be given too)."""
        use_store = changes.pop("use_store", self.use_store)
        current = {f.name: getattr(self.filters, f.name) for f in dataclasses.fields(Filters)}
        unknown = set(changes) - set(current)
        if unknown:
            raise ValueError(
                f"filtered(): unknown filter(s) {sorted(unknown)}; known: {sorted(current)}"
            )  # noqa: E501
        current.update(changes)
        return Analysis(
            self.con,
            self.spec,
            self.settings,
            Filters.make(**current),
            use_store=use_store,
            scratch=self._scratch,
        )

    def close(self) -> None:
        """Remove ``analyze_events``' temporary database now (this analysis and its
        filtered copies are unusable afterwards); a workspace analysis is left alone."""
        if self._scratch is not None:
            self._scratch.close()

    def __enter__(self) -> Analysis:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Analysis({self.filters})"

    # ----- tables -------------------------------------------------------------------
    def _has(self, name: str) -> bool:
        return name in self.con.list_tables()

    def customers(self) -> ibis.Table | None:
        """Customers passing the persona / ``where`` filters (None without the table)."""
        if not self._has("customers"):
            if self.filters.customer_filtered:
                raise ValueError("persona / where filters need a customers table")
            return None
        return filter_customers(self.con.table("customers"), self.filters)

    def _restrict(self, table: ibis.Table) -> ibis.Table:
        table = filter_time(table, self.filters)
        if self.filters.customer_filtered:
            table = table.filter(table.customer_id.isin(self.customers().customer_id))
        return table

    def events(self) -> ibis.Table:
        """Filtered canonical events plus ``step``: the name at the level (NULL: unmapped)."""
        t = self._restrict(self.con.table("events"))
        if self.filters.channel:
            t = t.filter(t.channel.isin(list(self.filters.channel)))
        return t.mutate(step=t[self.filters.level])

    def feedback(self) -> ibis.Table | None:
        """Feedback of the same customers and date range (None without the table)."""
        return self._restrict(self.con.table("feedback")) if self._has("feedback") else None

    # ----- journeys -----------------------------------------------------------------
    def store_used(self) -> bool:
        """Whether questions are answered from the journey store (else the events table)."""
        return bool(self.use_store) and store_is_fresh(self.con)

    def journeys(self, *, mapped: bool = False) -> Journeys:
        """The filtered journeys at the chosen level (per session when asked); with
        ``mapped`` only the events that have a name at the level, which is all that paths,
        funnels, flows, metrics and pain detection read. From the store, those are loaded
        without the unmapped events at all (``loaded_store(scope="mapped")``): no copy of
        the log per question, and none of the unmapped fifth of the 100M benchmark."""
        if mapped:
            if self._mapped is None:
                scope = "all" if self.filters.level == "event" else "mapped"
                self._mapped = self._journeys_from(scope).mapped()
            return self._mapped
        if self._journeys is None:
            self._journeys = self._journeys_from("all")
        return self._journeys

    def _journeys_from(self, scope: str) -> Journeys:
        j = self._from_store(scope) if self.store_used() else self._from_events()
        j = j.at_level(self.filters.level)
        return j.by_session() if self.filters.sessions else j

    def _from_events(self) -> Journeys:
        return Journeys.from_rows(sorted_rows(self.events(), ROW_COLUMNS))

    def _from_store(self, scope: str) -> Journeys:
        j = loaded_store(self.con, scope)
        f = self.filters
        mask = np.ones(j.n_events, dtype=bool)
        if f.start is not None:
            mask &= j.ts >= f.start.value // 1000
        if f.end is not None:
            mask &= j.ts < f.end.value // 1000
        if f.channel:
            wanted = [j.code_of(c, "channel") for c in f.channel]
            mask &= np.isin(j.codes["channel"], [c for c in wanted if c >= 0])
        if f.customer_filtered:
            allowed = as_ids(self.customers().customer_id.to_pyarrow())
            # per journey, then per event (journey_of_event would stay in the store's cache)
            mask &= np.repeat(np.isin(j.customers, allowed), j.lengths)
        return j.select(mask)

    # ----- questions ----------------------------------------------------------------
    def transitions(self, *, markers: bool = False, arrow: bool = False):
        """Directly-follows pairs; see :func:`journeymap.engine.paths.transitions`."""
        out = paths_mod.transitions(self.journeys(mapped=True), markers=markers)
        return pa.Table.from_pandas(out, preserve_index=False) if arrow else out

    def variants(self, top: int | None = None, collapse_repeats: bool = False) -> pd.DataFrame:
        """Whole-journey paths; see :func:`journeymap.engine.paths.variants`."""
        j = self.journeys(mapped=True)
        return paths_mod.variants(j, top=top, collapse_repeats=collapse_repeats)

    def _check_steps(self, names: list[str]) -> None:
        known = self._known_names() | self._designed_names()
        unknown = [s for s in names if s not in known]
        if unknown:
            raise ValueError(
                f"unknown {self.filters.level} step(s) {unknown}; known: "
                f"{', '.join(sorted(known)[:30])}{' ...' if len(known) > 30 else ''}"
            )

    def _known_names(self) -> set[str]:
        """Names at the level in all events (not only the filtered ones)."""
        level = self.filters.level
        if self.store_used():
            scope = "all" if level == "event" else "mapped"  # (the same names either way)
            return set(map(str, loaded_store(self.con, scope).names[level]))
        values = self.con.table("events").select(level).distinct().to_pyarrow()[level]
        return {v for v in values.to_pylist() if v is not None}

    def _designed_names(self) -> set[str]:
        if self.spec is None:
            return set()
        if self.filters.level == "touchpoint":
            return {tp.id for tp in getattr(self.spec, "touchpoints", [])}
        if self.filters.level == "stage":
            return set(getattr(self.spec, "stage_order", []) or [])
        return set()

    def funnel(
        self,
        steps,
        window="14d",
        order="ordered",
        exclusions=None,
        reference="total",
        breakdown=None,
        attribution="first_touch",
        open=False,
        distribution=False,
        directly=None,
        within=None,
    ) -> pd.DataFrame:
        """Funnel table (or the time-to-convert distribution); rules in :mod:`.funnel`.

        ``directly=[k, ...]`` and ``within={k: "30m"}`` (GA4's per-step constraints, step
        numbers from 2): step k must be the very next event after step k-1 / come within
        that time of it."""
        steps = [steps] if isinstance(steps, str) else list(steps)
        names = steps + [e if isinstance(e, str) else e.get("step") for e in exclusions or []]
        self._check_steps([n for n in names if n])
        paths = funnel_mod.funnel_paths(
            self.journeys(mapped=True),
            steps,
            window=window,
            order=order,
            exclusions=exclusions,
            open=open,
            directly=directly,
            within=within,
        )
        if distribution:
            return funnel_mod.distribution(paths)
        groups = None
        if breakdown:
            groups = self._breakdown_groups(paths, breakdown, attribution)
        return funnel_mod.summarise(paths, reference, groups)

    def _breakdown_groups(self, paths, breakdown: str, attribution: str) -> list:
        j = paths.journeys
        if breakdown in ("channel", "event", "touchpoint", "stage"):
            names = np.append(j.names[breakdown].astype(object), None)
            codes = j.codes[breakdown]
            values = names[np.where(codes >= 0, codes, len(names) - 1)]
            return funnel_mod.attributed_values(paths, values, attribution)
        customers = self.customers()
        if customers is None or breakdown not in customers.columns:
            raise ValueError(
                f"breakdown: {breakdown!r} is neither an event column (channel, event, "
                f"touchpoint, stage) nor a customers column"
            )
        frame = customers.select("customer_id", breakdown).to_pandas()
        lookup = dict(zip(frame["customer_id"], frame[breakdown], strict=True))
        return [
            [funnel_mod._label(lookup.get(c))] if inside else []
            for c, inside in zip(j.customers, paths.in_funnel, strict=True)
        ]

    def flows(
        self, start=None, end=None, steps=5, edge_limit=None, cleaning=None, dropped_at=None
    ) -> pd.DataFrame:
        """Sankey edges; ``dropped_at={"steps": [...], "step": k, **funnel options}`` gives
        the paths of customers who reached step k-1 but not step k, from their step k-1
        event. Rules in :mod:`.flows`."""
        j = self.journeys(mapped=True)
        after = None
        if dropped_at is not None:
            options = dict(dropped_at)
            fsteps = list(options.pop("steps"))
            step = options.pop("step")
            k = fsteps.index(step) + 1 if isinstance(step, str) else int(step)
            if not 2 <= k <= len(fsteps):
                raise ValueError(f"dropped_at step must be 2..{len(fsteps)}, got {step!r}")
            self._check_steps(fsteps)
            paths = funnel_mod.funnel_paths(j, fsteps, **options)
            dropped = paths.furthest == k - 1
            after = np.where(dropped, paths.positions[:, k - 2], -1)
            j = paths.journeys
        names = [n for n in (start, end) if n]
        if names and not cleaning:
            self._check_steps(names)
        return flows_mod.flows(
            j,
            start=start,
            end=end,
            steps=steps,
            edge_limit=edge_limit,
            cleaning=cleaning,
            after=after,
        )

    def _at_level(self, level: str) -> Analysis:
        """This analysis, or the same filters at another level (metrics of both levels)."""
        return self if level == self.filters.level else self.filtered(level=level)

    def _goal(self) -> str | None:
        goal = getattr(self.spec, "goal", None)
        return getattr(goal, "touchpoint", None) if goal is not None else None

    def _stage_order(self) -> list[str]:
        return list(getattr(self.spec, "stage_order", None) or [])

    def touchpoint_metrics(self) -> pd.DataFrame:
        """Per touchpoint metrics; definitions in :mod:`.metrics`."""
        j = self._at_level("touchpoint").journeys(mapped=True)
        order = [tp.id for tp in getattr(self.spec, "touchpoints", [])] if self.spec else None
        frame = metrics_mod.step_metrics(
            j, goal=self._goal(), stage_order=self._stage_order(), order=order
        )
        frame.insert(1, "stage", self._stage_of(j, frame["name"]))
        return frame.rename(columns={"name": "touchpoint"})

    def _stage_of(self, j: Journeys, names: pd.Series) -> list:
        if self.spec is not None and getattr(self.spec, "touchpoints", None):
            designed = {tp.id: tp.stage for tp in self.spec.touchpoints}
            return [designed.get(n) for n in names]
        tp, st = j.codes["touchpoint"], j.codes["stage"]
        both = np.flatnonzero((tp >= 0) & (st >= 0))
        codes, first = np.unique(tp[both], return_index=True)  # first event of each
        found = {
            str(j.names["touchpoint"][c]): str(j.names["stage"][st[both[i]]])
            for c, i in zip(codes, first, strict=True)
        }
        return [found.get(n) for n in names]

    def stage_metrics(self) -> pd.DataFrame:
        """Per stage metrics; definitions in :mod:`.metrics`."""
        frame = metrics_mod.step_metrics(
            self._at_level("stage").journeys(mapped=True),
            goal=self._goal(),
            stage_order=self._stage_order(),
            order=self._stage_order() or None,
        )
        return frame.rename(columns={"name": "stage"})

    def conformance(self, by_persona: bool = False) -> pd.DataFrame:
        """Conformance to the designed stage order, one row (or one per persona)."""
        order = self._stage_order()
        if not order:
            raise ValueError("conformance needs a journey map with stages (journey.yaml)")
        j = self.journeys().at_level("stage")
        if not by_persona:
            return pd.DataFrame([metrics_mod.conformance(j, order)])
        customers = self.customers()
        if customers is None:
            raise ValueError("conformance by persona needs a customers table")
        frame = customers.select("customer_id", "persona").to_pandas()
        persona = dict(zip(frame["customer_id"], frame["persona"], strict=True))
        labels = np.array([funnel_mod._label(persona.get(c)) for c in j.customers], dtype=object)
        rows = []
        for label in sorted(set(labels)):
            row = metrics_mod.conformance(j.select_journeys(labels == label), order)
            rows.append({"persona": label, **row})
        return pd.DataFrame(rows)

    # ----- voice of the customer (journeymap.voice) ---------------------------------
    def scores(self, **kw):
        from journeymap.voice.api import scores

        return scores(self, **kw)

    def emotions(self, **kw):
        from journeymap.voice.api import emotions

        return emotions(self, **kw)

    def themes(self, **kw):
        from journeymap.voice.api import themes

        return themes(self, **kw)

    def drivers(self, **kw):
        from journeymap.voice.api import drivers

        return drivers(self, **kw)

    # -- insights: thin delegations to journeymap.insights.api -------------------------

    def pain_points(self, **kw):
        """Pain points detected from the data, ranked by impact (see insights/pains.py)."""
        from journeymap.insights.api import pain_points

        return pain_points(self, **kw)

    def opportunities(self, **kw):
        """Opportunities proposed from pain points, and authored ones with data impact."""
        from journeymap.insights.api import opportunities

        return opportunities(self, **kw)

    def discover_personas(self, **kw):
        """Behavioural clusters of customers, compared with the authored personas."""
        from journeymap.insights.api import discover_personas

        return discover_personas(self, **kw)

    def compare(self, metric: str, **kw):
        """A metric before/after a date or between two segments, with CI and p-value."""
        from journeymap.insights.api import compare

        return compare(self, metric, **kw)
