"""The catalog the view compiler reads: `clips` with their metrics and summaries of their annotations, as one relation.

`_catalog` has one row per clip: `_key` (its row key), `_id_order` (a column that sorts as
`clip_id` does, cheaper to compare), every `clips` column, then the metric
columns of its `metrics` row (the columns `clips` also has are the clip's), then summaries of the
clip's annotations: `_flag_states`, a bit mask of the states its flags are in (`flag_state_mask`;
0 without flags), and `_task_labels`, its curators' task texts (newline-separated; null without).
Every view is compiled against it (`db.queries.views`), so a count is one scan with no join.

In a short-lived process (the CLI, a pipeline job) it is a view over the lake's Parquet and the
mirrored annotation tables, so nothing is loaded that one query would not read anyway; `_key` and
`_id_order` are the clip id. A long-lived process (the app) keeps it resident (`ResidentCatalog`):
a compressed in-memory table, so a view scans memory instead of Parquet files and string-keyed
joins (at 1M clips ~0.2-1 s a query on 2 cores, against ~10-50 ms); `_key` is the row id, and so
is `_id_order` while the rows are in clip id order (as built; rows appended since send it back to
the clip id). The public `clips` view reads the same table.

A lake commit that only adds clip files (ingest) appends their rows; one that changes `metrics` (a
score run rewrites the stage) or retires clip files rebuilds the table. When flags or labels
change, the engine updates the summaries of the clips concerned (`db.mirror` says which), or of
every clip after a full reload of that table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .models import FLAG_STATES
from .schemas import CLIPS

RESIDENT_DB = "_resident"  # the attached in-memory database holding the resident table (compressed)
# `metrics` columns that `clips` has too: in a view they are the clip's (metrics copies them at scoring).
SHARED_WITH_CLIPS = ("clip_id", "kind", "source", "task", "task_slug", "duration_s")
CLIP_COLUMN_LIST = ", ".join(f'"{name}"' for name in CLIPS.names)
METRIC_COLUMNS_SQL = f"m.* EXCLUDE ({', '.join(SHARED_WITH_CLIPS)})"
TASK_LABEL_SEPARATOR = "\n"  # between a clip's task texts in `_task_labels` (a text search must not hold one)
assert len(FLAG_STATES) <= 8  # the mask is a UTINYINT


@dataclass(frozen=True)
class Summary:
    """A per-clip column summarising one mirrored table: `value_sql` aggregates its rows `s` of one clip."""

    table: str  # the mirrored table it summarises
    column: str  # its column in `_catalog`
    value_sql: str  # an aggregate over the clip's rows (alias `s`)
    where_sql: str  # which of the table's rows count
    empty_sql: str  # the value of a clip without any

    def select(self, clip_filter: str = "TRUE") -> str:
        """`clip_id, value` of every clip with rows (passing `clip_filter` on `s.clip_id`)."""
        return (f"SELECT s.clip_id, {self.value_sql} AS value FROM {self.table} s "
                f"WHERE {self.where_sql} AND {clip_filter} GROUP BY s.clip_id")


# One bit per flag state, in FLAG_STATES order (code constants, never user text).
_STATE_BITS = "CASE s.state " + " ".join(f"WHEN '{s}' THEN {1 << i}" for i, s in enumerate(FLAG_STATES)) + " END"
SUMMARIES = (
    Summary("flags", "_flag_states", f"bit_or({_STATE_BITS})::UTINYINT", "TRUE", "0::UTINYINT"),
    Summary("labels", "_task_labels", "string_agg(s.text, chr(10) ORDER BY s.id)", "s.kind = 'task'", "NULL::VARCHAR"),
)


def flag_state_mask(states: Iterable[str]) -> int:
    """The `_flag_states` bits of these flag states (unknown names raise ValueError)."""
    mask = 0
    for state in states:
        if state not in FLAG_STATES:
            raise ValueError(f"unknown flag state {state!r}; known: {FLAG_STATES}")
        mask |= 1 << FLAG_STATES.index(state)
    return mask


def _catalog_select(clips_sql: str, metrics_sql: str, key_sql: str = "") -> str:
    """`_catalog`'s rows: the clips of `clips_sql` with their metrics and annotation summaries."""
    joins = "".join(f" LEFT JOIN ({summary.select()}) {summary.column} ON {summary.column}.clip_id = c.clip_id"
                    for summary in SUMMARIES)
    summaries = ", ".join(f"coalesce({summary.column}.value, {summary.empty_sql}) AS {summary.column}"
                          for summary in SUMMARIES)
    return f"""SELECT {key_sql}c.*, {METRIC_COLUMNS_SQL}, {summaries}
               FROM ({clips_sql}) c LEFT JOIN ({metrics_sql}) m ON m.clip_id = c.clip_id{joins}"""


def define_catalog_view(con: duckdb.DuckDBPyConnection) -> None:
    """`_catalog` as a view over the `clips`, `metrics` and annotation relations (nothing copied)."""
    select = _catalog_select("SELECT * FROM clips", "SELECT * FROM metrics",
                             key_sql="c.clip_id AS _key, c.clip_id AS _id_order, ")
    con.execute(f"CREATE OR REPLACE VIEW _catalog AS {select}")


class ResidentCatalog:
    """`_catalog` kept in memory on one connection; the engine calls it under its lock."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.clip_files: tuple[Path, ...] | None = None  # what the table holds (None: not built yet)
        self.metric_files: tuple[Path, ...] | None = None
        self.builds = 0  # each build makes a new table, so a reader's snapshot keeps the one it started on
        self.in_id_order = False  # whether row ids still sort as clip ids (no rows appended since the build)

    @property
    def table(self) -> str:
        return f"{RESIDENT_DB}.main._catalog_rows_{self.builds}"

    def sync(self, clip_files: Sequence[Path], metric_files: Sequence[Path],
             clips_of: Callable[[Sequence[Path]], str]) -> bool:
        """Bring the table up to the lake's visible files; True when it was rebuilt (not when appended to).

        `clips_of(files)` is the SQL selecting the `clips` rows of those files. The `metrics` view
        and the mirrored tables must already be up to date.
        """
        clip_files, metric_files = tuple(clip_files), tuple(metric_files)
        known = self.clip_files
        if known is not None and metric_files == self.metric_files:
            if clip_files == known:
                return False
            if clip_files[:len(known)] == known:  # only files added: ingest's commits
                if self.in_id_order:  # first, before any reader can see rows out of clip id order
                    self._define_views(in_id_order=False)
                new_rows = _catalog_select(clips_of(clip_files[len(known):]), "SELECT * FROM metrics")
                self.con.execute(f"INSERT INTO {self.table} BY NAME {new_rows}")
                self.clip_files = clip_files
                return False
        self._build(clips_of(clip_files))
        self.clip_files, self.metric_files = clip_files, metric_files
        return True

    def _build(self, clips_sql: str) -> None:
        old = self.table if self.clip_files is not None else None
        self.builds += 1
        # Sorted by clip_id, so row ids sort as clip ids do (`_id_order`), and zone maps skip most of
        # the table for a lookup by id.
        self.con.execute(f"""CREATE TABLE {self.table} AS
                             {_catalog_select(clips_sql, _unique_metrics(self.con))} ORDER BY c.clip_id""")
        # Compress the table now (in-memory tables are stored compressed from their first checkpoint):
        # about 2.4x less memory for the catalog, paid once per build.
        self.con.execute(f"CHECKPOINT {RESIDENT_DB}")
        self._define_views(in_id_order=True)  # readers move to the new table at once
        if old is not None:
            self.con.execute(f"DROP TABLE {old}")

    def _define_views(self, in_id_order: bool) -> None:
        """`_catalog` and `clips` over the current table, in one transaction (readers see both or neither)."""
        id_order = "rowid" if in_id_order else "clip_id"
        with _transaction(self.con):
            self.con.execute(f"CREATE OR REPLACE VIEW _catalog AS SELECT rowid AS _key, {id_order} AS _id_order, * "
                             f"FROM {self.table}")
            self.con.execute(f"CREATE OR REPLACE VIEW clips AS SELECT {CLIP_COLUMN_LIST} FROM {self.table}")
        self.in_id_order = in_id_order

    def update_summaries(self, table: str, clip_ids: Sequence[str] | None) -> None:
        """Recompute the summary of `table` for these clips (their rows changed), or for every clip (None)."""
        for summary in SUMMARIES:
            if summary.table != table or self.clip_files is None:
                continue
            column = summary.column
            if clip_ids is None:
                self.con.execute(f"UPDATE {self.table} SET {column} = {summary.empty_sql} "
                                 f"WHERE {column} IS DISTINCT FROM {summary.empty_sql}")
                self.con.execute(f"UPDATE {self.table} t SET {column} = v.value FROM ({summary.select()}) v "
                                 "WHERE t.clip_id = v.clip_id")
                continue
            chosen = "s.clip_id IN (SELECT unnest($ids))"
            self.con.execute(f"""UPDATE {self.table} t SET {column} = coalesce(v.value, {summary.empty_sql})
                                 FROM (SELECT unnest($ids) AS clip_id) i
                                 LEFT JOIN ({summary.select(chosen)}) v ON v.clip_id = i.clip_id
                                 WHERE t.clip_id = i.clip_id""", {"ids": sorted(set(clip_ids))})


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    con.commit()


def _unique_metrics(con: duckdb.DuckDBPyConnection) -> str:
    """The `metrics` rows to join: all of them, or the newest per clip should a clip have several.

    A score run replaces a clip's row, so one per clip is what the lake holds; should it ever hold
    two, a clip must still be one row of `clips`.
    """
    unique = con.execute("SELECT count(*) = count(DISTINCT clip_id) FROM metrics").fetchall()[0][0]
    if unique:
        return "SELECT * FROM metrics"
    return ("SELECT * FROM metrics QUALIFY row_number() OVER "
            "(PARTITION BY clip_id ORDER BY scored_at DESC NULLS LAST) = 1")
