"""The query engine: one in-process DuckDB per process, no database file.

DuckDB locks a database file per process, and the app, the CLI jobs and the trainer are separate
processes, so nothing is stored in DuckDB itself: the lake stages are views over the committed
Parquet files, and the annotation-store tables are mirrored in as Arrow, caught up whenever the
store's revision moves (`db.mirror`). A long-lived process (the app) keeps the catalog resident
(`keep_resident`, `db.catalog`): `clips` with their metrics in a compressed in-memory table,
appended to or rebuilt on the lake's next commit, so a view is a scan of memory; the next query
after any write, from any process, sees it. DuckDB's memory is capped (`DUCKDB_MEMORY_LIMIT_MB`):
beyond it the resident tables spill to a temporary folder of this process instead of growing.

The connection may only read files under the lake (`allowed_directories`, with external access
off and the configuration locked), so even the free-form SQL page cannot read or write anything else.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from . import paths
from .catalog import RESIDENT_DB, ResidentCatalog, define_catalog_view
from .lake import Lake
from .mirror import AnnotationMirror
from .schemas import STAGES
from .store import store_revision

DUCKDB_THREADS = 2  # the machines this runs on have 2 cores; more threads only contend
DUCKDB_MEMORY_LIMIT_MB = int(os.environ.get("EGOCURATE_DUCKDB_MEMORY_MB", "1536"))  # past it DuckDB spills to disk


class QueryEngine:
    """DuckDB over one data root. Thread-safe: every query takes its own cursor."""

    def __init__(self, root: Path, resident: bool = False) -> None:
        self.root = root
        self.lake = Lake(root)
        # A folder of this process's own: DuckDB's spill files must not meet another process's.
        self._spill_dir = tempfile.mkdtemp(prefix="egocurate-duckdb-")
        weakref.finalize(self, shutil.rmtree, self._spill_dir, True)
        self._con = duckdb.connect(config={"threads": DUCKDB_THREADS, "memory_limit": f"{DUCKDB_MEMORY_LIMIT_MB}MB",
                                           "temp_directory": self._spill_dir})
        self._con.execute(f"ATTACH ':memory:' AS {RESIDENT_DB} (COMPRESS)")
        self._lock = threading.RLock()
        self._lake_version: tuple[int, int] | None = None
        self._store_revision: int | None = None
        self._stage_files: dict[str, tuple[Path, ...]] = {}
        self._lock_down()
        for stage, schema in STAGES.items():
            self._create_table(f"_empty_{stage}", schema.empty_table())
        self._mirror = AnnotationMirror(self._con, root)
        self._resident = ResidentCatalog(self._con) if resident else None

    @property
    def resident(self) -> bool:
        """Whether the catalog is kept in memory (`keep_resident`)."""
        return self._resident is not None

    def keep_resident(self) -> None:
        """Keep the catalog in memory from now on (a long-lived process: the app); built on the next query."""
        with self._lock:
            if self._resident is None:
                self._resident = ResidentCatalog(self._con)
                self._lake_version = None

    def _lock_down(self) -> None:
        allowed = str(self.lake.dir).replace("'", "''")
        self._con.execute(f"SET allowed_directories=['{allowed}/']")
        self._con.execute("SET enable_external_access=false")
        self._con.execute("SET lock_configuration=true")

    def _create_table(self, name: str, table: pa.Table) -> None:
        self._con.register("_incoming", table)
        try:
            self._con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
        finally:
            self._con.unregister("_incoming")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A fresh cursor over up-to-date views (refreshes them first when anything changed)."""
        self.refresh()
        return self._con.cursor()

    def interrupt_all(self) -> None:
        self._con.interrupt()

    def refresh(self, force: bool = False) -> None:
        """Catch the mirrored annotation tables up after a store write, the lake's views after a commit."""
        with self._lock:
            revision = store_revision(self.root)
            changes = {}
            if force or revision != self._store_revision:
                changes = self._mirror.sync(force)
                self._store_revision = revision
            rebuilt = False
            version = self.lake.version()
            if force or version != self._lake_version:
                rebuilt = self._sync_lake(force)  # a rebuilt catalog summarises the annotations as they are now
                self._lake_version = version
            if self._resident is not None and not rebuilt:
                for table, clip_ids in changes.items():
                    self._resident.update_summaries(table, clip_ids)

    def _sync_lake(self, force: bool) -> bool:
        """Views over each stage's visible files; the resident catalog caught up. True when it was rebuilt."""
        files = self.lake.visible_files()
        first = not self._stage_files
        for stage in STAGES:
            listed = tuple(files.get(stage, []))
            if force or first or listed != self._stage_files.get(stage):
                if not (stage == "clips" and self._resident is not None):  # then `clips` reads the resident table
                    self._con.execute(f'CREATE OR REPLACE VIEW "{stage}" AS {self._stage_sql(stage, listed)}')
                self._stage_files[stage] = listed
        if self._resident is None:
            if first or force:
                define_catalog_view(self._con)
            return False
        return self._resident.sync(self._stage_files["clips"], self._stage_files["metrics"],
                                   lambda chosen: self._stage_sql("clips", chosen))

    def _stage_sql(self, stage: str, files: Sequence[Path]) -> str:
        # Partition values are also stored as columns (sanitised in directory names): read the
        # columns, never re-derive them from `key=value` paths.
        # The empty table of the stage's current schema goes first, so a column added after some
        # files were written reads as NULL in those files (and exists even when no file has it yet).
        source = f'SELECT * FROM "_empty_{stage}"'
        if files:
            listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            source += (f" UNION ALL BY NAME SELECT * FROM "
                       f"read_parquet([{listed}], union_by_name = true, hive_partitioning = false)")
        return source


_engines: dict[Path, QueryEngine] = {}
_engines_lock = threading.Lock()


def query_engine(root: Path | str | None = None) -> QueryEngine:
    """The process-wide engine for a data root."""
    resolved = paths.resolve_root(root)
    with _engines_lock:
        if resolved not in _engines:
            _engines[resolved] = QueryEngine(resolved)
        return _engines[resolved]
