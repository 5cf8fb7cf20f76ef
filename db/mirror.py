"""The annotation-store tables mirrored into DuckDB, caught up table by table and, for flags and labels, row by row.

Every committed write to a mirrored table moves the store's revision (`db.store`); the engine then
calls `AnnotationMirror.sync`. A table whose fingerprint (its rows, highest id and sum of
versions: every update bumps `version`, db/models.py) still matches the copy is left alone. Flags
and labels, which grow to hundreds of thousands of rows, fetch only the rows updated since the
newest one copied (less a margin, for transactions that committed after a younger one), and are
reloaded whole whenever the fingerprints still disagree after that, so a write is never missed:
a flag decision costs the next query a few milliseconds instead of reloading 100k flags (~0.5 s).
Exports and runs (small, and without versions) are reloaded whole on every revision.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, Table, func, select

from . import models
from .store import get_engine

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
DELTA_TABLES = ("flags", "labels")  # caught up by their changed rows (they have `updated_at` and `version`)
LATE_COMMIT_MARGIN = timedelta(seconds=10)  # a row stamped this long before the newest copied one is fetched again

Fingerprint = tuple[object, ...]
Changes = dict[str, frozenset[str] | None]  # table -> clip ids whose rows changed (None: reloaded whole)


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


def _arrow_rows(table: Table, rows: list[tuple]) -> pa.Table:
    """Store rows (in `table.columns` order) as Arrow, JSON columns serialised."""
    schema = pa.schema([(c.name, _arrow_type(c)) for c in table.columns])
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(table.columns)
    data = []
    for column, values in zip(table.columns, columns, strict=True):
        if isinstance(column.type, JSON):
            values = [None if v is None else json.dumps(v) for v in values]
        data.append(pa.array(values, _arrow_type(column)))
    return pa.Table.from_arrays(data, schema=schema)


class AnnotationMirror:
    """The mirrored tables on one DuckDB connection; the engine calls `sync` under its lock."""

    def __init__(self, con: duckdb.DuckDBPyConnection, root: Path) -> None:
        self.con = con
        self.root = root
        self._fingerprints: dict[str, Fingerprint] = {}

    def sync(self, force: bool = False) -> Changes:
        """Catch every table up with the store (`force`: reload them all); what changed."""
        if force:
            self._fingerprints.clear()
        changes: Changes = {}
        with get_engine(self.root).connect() as conn:
            for name, model in ANNOTATION_TABLES.items():
                table = model.__table__
                if "version" in table.c:
                    fingerprint = _as_ints(conn.execute(select(*_fingerprint_of(table))).one())
                    if fingerprint == self._fingerprints.get(name):
                        continue
                    if name in DELTA_TABLES and name in self._fingerprints:
                        changed = self._apply_delta(conn, name, table)
                        if self._fingerprint(name) == fingerprint:
                            self._fingerprints[name] = fingerprint
                            changes[name] = changed
                            continue
                rows = conn.execute(select(table)).all()
                self._replace(name, _arrow_rows(table, [tuple(r) for r in rows]))
                changes[name] = None
        return changes

    def _apply_delta(self, conn, name: str, table: Table) -> frozenset[str]:  # noqa: ANN001 (a Connection)
        newest = self.con.execute(f'SELECT max(updated_at) FROM "{name}"').fetchall()[0][0]
        query = select(table)
        if newest is not None:
            query = query.where(table.c.updated_at >= _as_store_time(conn, newest - LATE_COMMIT_MARGIN))
        rows = [tuple(r) for r in conn.execute(query).all()]
        if rows:
            incoming = _arrow_rows(table, rows)
            self.con.register("_incoming", incoming)
            try:
                self.con.execute(f'DELETE FROM "{name}" WHERE id IN (SELECT id FROM _incoming)')
                self.con.execute(f'INSERT INTO "{name}" SELECT * FROM _incoming')
            finally:
                self.con.unregister("_incoming")
        return frozenset(str(clip_id) for clip_id in (incoming.column("clip_id").to_pylist() if rows else []))

    def _replace(self, name: str, data: pa.Table) -> None:
        self.con.register("_incoming", data)
        try:
            self.con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
        finally:
            self.con.unregister("_incoming")
        if "version" in data.column_names:
            self._fingerprints[name] = self._fingerprint(name)

    def _fingerprint(self, name: str) -> Fingerprint:
        highest_id = ", max(id)" if "id" in ANNOTATION_TABLES[name].__table__.c else ""
        return _as_ints(self.con.execute(f'SELECT count(*), sum(version){highest_id} FROM "{name}"').fetchall()[0])


def _fingerprint_of(table: Table) -> list:
    """Rows, sum of versions and (a table keyed by an integer id) the highest id."""
    return [func.count(), func.sum(table.c.version), *([func.max(table.c.id)] if "id" in table.c else [])]


def _as_ints(row: tuple) -> Fingerprint:
    return tuple(None if value is None else int(value) for value in row)


def _as_store_time(conn, moment: datetime) -> datetime:  # noqa: ANN001 (a Connection)
    """A UTC time as the store compares it: SQLite keeps naive UTC text, PostgreSQL an aware timestamp."""
    moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None) if conn.dialect.name == "sqlite" else moment
