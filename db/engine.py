"""The query engine: one in-process DuckDB per process, no database file.

DuckDB locks a database file per process, and the app, the CLI jobs and the trainer are separate
processes, so nothing is stored in DuckDB itself: the lake stages are views over the committed
Parquet files, and the annotation-store tables are copied in as Arrow whenever the store's
revision moves. The connection may only read files under the lake (`allowed_directories`, with
external access off and the configuration locked), so even the free-form SQL page cannot read
or write anything else.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, select

from . import models, paths
from .lake import Lake
from .schemas import STAGES
from .store import get_engine, store_revision

DUCKDB_THREADS = 2  # the machines this runs on have 2 cores; more threads only contend
ANNOTATION_TABLES = {
    "flags": models.Flag,
    "labels": models.Label,
    "pairs": models.Pair,
    "views": models.SavedView,
    "exports": models.Export,
    "runs": models.Run,
    "embodiments": models.EmbodimentRecord,
    "clip_embodiments": models.ClipEmbodiment,
}
assert set(ANNOTATION_TABLES) == models.MIRRORED_TABLES  # a mirrored table must move the revision when written


def _arrow_type(column) -> pa.DataType:  # noqa: ANN001 (a SQLAlchemy Column)
    kind = column.type
    if isinstance(kind, (Integer, BigInteger)):
        return pa.int64()
    if isinstance(kind, Float):
        return pa.float64()
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, DateTime):
        return pa.timestamp("us", tz="UTC")
    return pa.string()  # strings, text, and JSON (serialised)


class QueryEngine:
    """DuckDB over one data root. Thread-safe: every query takes its own cursor."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lake = Lake(root)
        self._con = duckdb.connect(config={"threads": DUCKDB_THREADS})
        self._lock = threading.Lock()
        self._lake_version: tuple[int, int] | None = None
        self._store_revision: int | None = None
        self._lock_down()
        for stage, schema in STAGES.items():
            self._create_table(f"_empty_{stage}", schema.empty_table())

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
        """Rebuild lake views after a commit, reload annotation tables after a store write."""
        with self._lock:
            version = self.lake.version()
            if force or version != self._lake_version:
                for stage in STAGES:
                    self._define_stage_view(stage)
                self._lake_version = version
            revision = store_revision(self.root)
            if force or revision != self._store_revision:
                self._load_annotation_tables()
                self._store_revision = revision

    def _define_stage_view(self, stage: str) -> None:
        files = self.lake.files(stage)
        # Partition values are also stored as columns (sanitised in directory names): read the
        # columns, never re-derive them from `key=value` paths.
        # The empty table of the stage's current schema goes first, so a column added after some
        # files were written reads as NULL in those files (and exists even when no file has it yet).
        source = f'SELECT * FROM "_empty_{stage}"'
        if files:
            listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            source += (f" UNION ALL BY NAME SELECT * FROM "
                       f"read_parquet([{listed}], union_by_name = true, hive_partitioning = false)")
        self._con.execute(f'CREATE OR REPLACE VIEW "{stage}" AS {source}')

    def _load_annotation_tables(self) -> None:
        engine = get_engine(self.root)
        with engine.connect() as conn:
            for name, model in ANNOTATION_TABLES.items():
                table = model.__table__
                rows = conn.execute(select(table)).mappings().all()
                schema = pa.schema([(c.name, _arrow_type(c)) for c in table.columns])
                json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
                data = {c: [_cell(row[c], c in json_columns) for row in rows] for c in schema.names}
                self._create_table(name, pa.table(data, schema=schema))


def _cell(value: object, is_json: bool) -> object:
    if is_json and value is not None:
        return json.dumps(value)
    return value


_engines: dict[Path, QueryEngine] = {}
_engines_lock = threading.Lock()


def query_engine(root: Path | str | None = None) -> QueryEngine:
    """The process-wide engine for a data root."""
    resolved = paths.resolve_root(root)
    with _engines_lock:
        if resolved not in _engines:
            _engines[resolved] = QueryEngine(resolved)
        return _engines[resolved]
