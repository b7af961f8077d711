"""The workspace: a folder holding the designed map, its settings and the warehouse.

```
myjourney/
  journey.yaml                   # the designed map (journeymap.spec)
  journeymap.toml                # settings (journeymap.workspace.settings)
  .journeymap/warehouse.duckdb   # canonical tables (journeymap.workspace.schemas)
  .journeymap/history/           # saved versions of journey.yaml
```

Every layer above reaches the data through one :class:`Workspace`; the CLI, the web app
and notebooks all open it the same way, so they see the same tables and settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import pandas as pd
import pyarrow as pa

from journeymap.workspace import backend
from journeymap.workspace.schemas import CANONICAL
from journeymap.workspace.settings import SETTINGS_FILE, load_settings, write_settings

if TYPE_CHECKING:
    from journeymap.sources.ingest import IngestReport
    from journeymap.workspace.refresh import RefreshReport

SPEC_FILE = "journey.yaml"
#: Tables that stay in the DuckDB file when the data tables are in Spark.
STATE_TABLES: frozenset[str] = frozenset({"quarantine", "batches", "workspace_meta"})
STATE_DIR = ".journeymap"
HISTORY_DIR = ".journeymap/history"


class WorkspaceError(ValueError):
    """The folder is not a usable workspace (missing, already exists, bad settings)."""


class Workspace:
    """An open workspace folder; create one with :meth:`create`, open one with :func:`open`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        if not (self.path / SETTINGS_FILE).is_file():
            raise WorkspaceError(
                f"{self.path}: not a journeymap workspace (no {SETTINGS_FILE}); "
                f"create one with `journeymap create {path}`"
            )
        self.settings: dict[str, Any] = load_settings(self.path)
        self.warehouse_path = self.path / self.settings["warehouse"]["path"]
        self.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        (self.path / HISTORY_DIR).mkdir(parents=True, exist_ok=True)
        try:
            #: The DuckDB file: the workspace's own state (meta, quarantine, batches...).
            self.state: ibis.BaseBackend = backend.connect(str(self.warehouse_path))
        except duckdb.IOException as exc:
            holder = re.search(r"\(PID (\d+)\)", str(exc))
            if "lock" not in str(exc).lower():
                raise
            raise WorkspaceError(
                f"{self.path}: the workspace is in use by another process"
                + (f" (PID {holder.group(1)})" if holder else "")
                + "; DuckDB allows one process at a time: stop it (for example a running "
                "`journeymap serve`) or work through it"
            ) from exc
        #: Where events, feedback and customers live: the DuckDB file, or with
        #: ``[warehouse] backend = "pyspark"`` a Spark session with the mapped tables.
        self.con: ibis.BaseBackend = self.state
        if self.on_spark:
            from journeymap.workspace.spark import open_warehouse

            self.con = open_warehouse(self.settings["warehouse"], where=self._settings_file)
        self._spec: Any = None
        self._spec_stamp: tuple[int, int] | None = None
        self._tx_depth = 0
        self._ensure_tables()

    # -- creation -------------------------------------------------------------------------

    @classmethod
    def create(
        cls, path: str | Path, spec: str | Path | None = None, exist_ok: bool = False
    ) -> Workspace:
        """Create the workspace folder with settings, a journey.yaml and empty tables.

        ``spec`` is a path to a journey.yaml to copy, or the YAML text itself; without it a
        commented starter map is written (``journeymap.spec.starter_spec_text()``). With
        ``exist_ok`` an existing workspace is opened and only missing parts are added
        (a given ``spec`` still replaces journey.yaml).
        """
        root = Path(path)
        if (root / SETTINGS_FILE).exists() and not exist_ok:
            raise WorkspaceError(f"{root}: a workspace already exists here (pass exist_ok=True)")
        root.mkdir(parents=True, exist_ok=True)
        if not (root / SETTINGS_FILE).exists():
            write_settings(root)
        spec_file = root / SPEC_FILE
        if spec is not None:
            _write_spec(spec, spec_file)
        elif not spec_file.exists():
            from journeymap.spec import starter_spec_text
            from journeymap.spec.document import atomic_write_text

            atomic_write_text(spec_file, starter_spec_text())
        return cls(root)

    @property
    def _settings_file(self) -> Path:
        return self.path / SETTINGS_FILE

    @property
    def on_spark(self) -> bool:
        """Whether the data tables live in Spark (``[warehouse] backend = "pyspark"``)."""
        return self.settings["warehouse"]["backend"] == "pyspark"

    def _ensure_tables(self) -> None:
        existing = set(self.state.list_tables())
        for name, schema in CANONICAL.items():
            if name in existing or (self.on_spark and name not in STATE_TABLES):
                continue  # on Spark the data tables are the mapped ones (or derived there)
            self.state.create_table(name, schema=schema)
        if not backend.execute(
            self.state, "SELECT 1 FROM workspace_meta WHERE key = 'data_version'"
        ):
            backend.execute(self.state, "INSERT INTO workspace_meta VALUES ('data_version', 0)")

    # -- the designed map -----------------------------------------------------------------

    @property
    def spec_path(self) -> Path:
        return self.path / SPEC_FILE

    @property
    def spec(self) -> Any:
        """The JourneySpec of journey.yaml, reloaded whenever the file changes on disk."""
        stat = self.spec_path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._spec is None or stamp != self._spec_stamp:
            from journeymap.spec import load_spec

            self._spec = load_spec(self.spec_path)
            self._spec_stamp = stamp
        return self._spec

    # -- data -----------------------------------------------------------------------------

    def table(self, name: str) -> ibis.Table:
        """An Ibis table of the warehouse (canonical or derived)."""
        if self.on_spark and name in STATE_TABLES:
            return self.state.table(name)
        return self.con.table(name)

    def to_pandas(self, name: str) -> pd.DataFrame:
        return self.table(name).to_pandas()

    def to_arrow(self, name: str) -> pa.Table:
        return self.table(name).to_pyarrow()

    @contextmanager
    def transaction(self) -> Iterator[Workspace]:
        """All-or-nothing: every change inside is committed together or rolled back.

        Re-entrant: an inner ``transaction()`` joins the outer one, so library functions
        can protect themselves without knowing whether the caller already did.
        """
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self
            finally:
                self._tx_depth -= 1
            return
        backend.begin(self.state)
        self._tx_depth = 1
        try:
            yield self
        except BaseException:
            self._tx_depth = 0
            backend.rollback(self.state)
            raise
        self._tx_depth = 0
        backend.commit(self.state)

    @property
    def data_version(self) -> int:
        """A counter that grows on every change of the data; caches key on it."""
        rows = backend.execute(
            self.state, "SELECT value FROM workspace_meta WHERE key = 'data_version'"
        )
        return int(rows[0][0]) if rows else 0

    def bump_data_version(self) -> int:
        """Record that the data changed (call inside the transaction that changed it)."""
        backend.execute(
            self.state, "UPDATE workspace_meta SET value = value + 1 WHERE key = 'data_version'"
        )
        return self.data_version

    # -- ingest and refresh -----------------------------------------------------------------

    def ingest_events(
        self,
        data: Any,
        mapping: dict[str, str] | None = None,
        source: str | None = None,
        refresh: bool = True,
        progress: bool | None = None,
    ) -> IngestReport:
        """Load events (see :func:`journeymap.sources.ingest.ingest`)."""
        from journeymap.sources.ingest import ingest

        self._not_on_spark("ingest")

        return ingest(self, "events", data, mapping, source, refresh=refresh, progress=progress)

    def ingest_feedback(
        self,
        data: Any,
        mapping: dict[str, str] | None = None,
        source: str | None = None,
        refresh: bool = True,
        progress: bool | None = None,
    ) -> IngestReport:
        """Load survey answers, reviews and tickets."""
        from journeymap.sources.ingest import ingest

        self._not_on_spark("ingest")

        return ingest(self, "feedback", data, mapping, source, refresh=refresh, progress=progress)

    def ingest_customers(
        self,
        data: Any,
        mapping: dict[str, str] | None = None,
        source: str | None = None,
        refresh: bool = True,
        progress: bool | None = None,
    ) -> IngestReport:
        """Load (upsert) customer records; new attribute columns are added."""
        from journeymap.sources.ingest import ingest

        self._not_on_spark("ingest")

        return ingest(self, "customers", data, mapping, source, refresh=refresh, progress=progress)

    def refresh(self, steps: Any = None) -> RefreshReport:
        """Re-derive everything below the raw data (docs/contracts.md, refresh pipeline).

        The same steps on DuckDB and on Spark (docs/spark.md, what runs where). On Spark a
        full refresh first points the canonical views at the mapped tables again (so it
        re-reads them), and the session then keeps the derived views for this workspace:
        opening it again in the same process (``journeymap serve`` from a notebook) reuses
        them; a new process refreshes once (``serve`` does so when it starts).
        """
        from journeymap.workspace.refresh import refresh

        if not self.on_spark:
            return refresh(self, steps=steps)
        from journeymap.workspace import spark

        if steps is None:
            spark.remap(self.con, self.settings["warehouse"], where=self._settings_file)
        report = refresh(self, steps=steps)
        if steps is None:
            spark.mark_refreshed(self.con, self._settings_file)
        return report

    @property
    def refreshed_on_spark(self) -> bool:
        """On Spark: whether this session holds this workspace's refreshed views (else the
        views are the raw mapped tables: no identities, sessions or journey store yet)."""
        from journeymap.workspace import spark

        return self.on_spark and spark.is_refreshed(self.con, self._settings_file)

    def _not_on_spark(self, what: str) -> None:
        if self.on_spark:
            raise WorkspaceError(
                f"{self.path}: {what} writes into the DuckDB warehouse, but this workspace's "
                "events, feedback and customers are Spark tables ([warehouse] backend = "
                "'pyspark'): load them with your Spark pipeline, then run `refresh`"
            )

    # -- other layers, reached from the workspace -------------------------------------------

    def analysis(self, **filters: Any) -> Any:
        from journeymap.engine import Analysis

        return Analysis.from_workspace(self, **filters)

    def audit(self, **kw: Any) -> Any:
        from journeymap.sources.audit import audit

        return audit(self, **kw)

    def stitch(self, **kw: Any) -> Any:
        from journeymap.sources.identity import stitch

        return stitch(self, **kw)

    def snapshot(self, **filters: Any) -> Any:
        """The data-backed journey map (see journeymap.snapshot) for these filters."""
        from journeymap.snapshot import build_snapshot

        return build_snapshot(self, **filters)

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the warehouse file (DuckDB allows one writing process at a time).

        A Spark session is left running: it may be shared with the caller's own work.
        """
        backend.raw(self.state).close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"


def _write_spec(spec: str | Path, target: Path) -> None:
    """Write journey.yaml from a file or YAML text, atomically (a reader such as a running
    ``serve`` never sees half a file)."""
    from journeymap.spec.document import atomic_write_text

    if isinstance(spec, Path) or ("\n" not in spec and Path(spec).is_file()):
        if Path(spec).resolve() != target.resolve():
            atomic_write_text(target, Path(spec).read_bytes().decode("utf-8"))
    elif isinstance(spec, str) and "\n" in spec:
        atomic_write_text(target, spec)
    else:
        raise WorkspaceError(f"spec {spec!r}: expected a path to a journey.yaml or YAML text")


def open(path: str | Path = ".") -> Workspace:  # noqa: A001  (journeymap.open, by contract)
    """Open the workspace folder at ``path``."""
    return Workspace(path)
