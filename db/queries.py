"""Every DuckDB query the packages run, as named functions with bound parameters.

No value from a user is ever formatted into SQL text: filters become `?` parameters, and the
only identifiers built into SQL come from fixed allow-lists (sortable columns).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from .engine import QueryEngine

SQL_ROW_CAP = 1000  # free-form SQL: rows returned at most; more sets `truncated`
SQL_TIMEOUT_S = 10.0  # free-form SQL: a query running longer is interrupted
SQL_ALLOWED_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
CLIP_SORT_COLUMNS = ("clip_id", "kind", "source", "task", "duration_s", "n_frames", "fps", "width",
                     "ingested_at")


class SqlError(ValueError):
    """A free-form query that is refused or fails; the message says why."""


@dataclass(frozen=True)
class SqlResult:
    frame: pd.DataFrame
    truncated: bool  # more rows existed than the row cap
    elapsed_s: float


def run_readonly_sql(engine: QueryEngine, sql: str, row_cap: int = SQL_ROW_CAP,
                     timeout_s: float = SQL_TIMEOUT_S) -> SqlResult:
    """Run one read-only statement over the public views, capped in rows and time.

    Raises:
        SqlError: not exactly one SELECT/EXPLAIN statement, a syntax error, or the timeout hit.
    """
    cursor = engine.cursor()
    try:
        statements = cursor.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlError(f"cannot parse the query: {exc}") from exc
    if len(statements) != 1:
        raise SqlError(f"exactly one statement is allowed, got {len(statements)}")
    if statements[0].type not in SQL_ALLOWED_STATEMENTS:
        raise SqlError(f"only read-only SELECT queries are allowed, got {statements[0].type.name}")
    timer = threading.Timer(timeout_s, cursor.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        result = cursor.execute(statements[0].query)
        columns = [d[0] for d in result.description]
        rows = result.fetchmany(row_cap + 1)
    except duckdb.InterruptException as exc:
        raise SqlError(f"query interrupted after the {timeout_s:g} s timeout") from exc
    except duckdb.Error as exc:
        raise SqlError(str(exc)) from exc
    finally:
        timer.cancel()
        cursor.close()
    truncated = len(rows) > row_cap
    frame = pd.DataFrame(rows[:row_cap], columns=columns)
    return SqlResult(frame=frame, truncated=truncated, elapsed_s=time.perf_counter() - started)


@dataclass(frozen=True)
class ClipFilter:
    """A filter over the `clips` view; every field is optional and bound as a parameter."""

    kinds: tuple[str, ...] = ()  # 'human' / 'robot'
    sources: tuple[str, ...] = ()
    task_contains: str = ""  # case-insensitive substring of task or task_slug
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    clip_ids: tuple[str, ...] = field(default=())

    def where(self) -> tuple[str, list[object]]:
        clauses, params = ["TRUE"], []
        if self.kinds:
            clauses.append("kind IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(self.kinds))
        if self.sources:
            clauses.append("source IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(self.sources))
        if self.task_contains:
            clauses.append("(contains(lower(task), lower(?)) OR contains(lower(task_slug), lower(?)))")
            params += [self.task_contains, self.task_contains]
        if self.min_duration_s is not None:
            clauses.append("duration_s >= ?")
            params.append(self.min_duration_s)
        if self.max_duration_s is not None:
            clauses.append("duration_s <= ?")
            params.append(self.max_duration_s)
        if self.clip_ids:
            clauses.append("clip_id IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(self.clip_ids))
        return " AND ".join(clauses), params


def list_clips(engine: QueryEngine, spec: ClipFilter = ClipFilter(), order_by: str = "clip_id",
               descending: bool = False, limit: int = 100, offset: int = 0) -> pd.DataFrame:
    """One page of clips matching `spec`, sorted by an allow-listed column."""
    if order_by not in CLIP_SORT_COLUMNS:
        raise ValueError(f"cannot sort by {order_by!r}; choose one of {CLIP_SORT_COLUMNS}")
    where, params = spec.where()
    direction = "DESC" if descending else "ASC"
    sql = (f"SELECT * FROM clips WHERE {where} ORDER BY {order_by} {direction}, clip_id "
           "LIMIT ? OFFSET ?")
    return engine.cursor().execute(sql, params + [limit, offset]).df()


def count_clips(engine: QueryEngine, spec: ClipFilter = ClipFilter()) -> int:
    where, params = spec.where()
    return int(engine.cursor().execute(f"SELECT count(*) FROM clips WHERE {where}", params).fetchone()[0])


def clip_summary(engine: QueryEngine) -> pd.DataFrame:
    """Clip count, frames and hours per kind, source and task."""
    sql = """
        SELECT kind, source, coalesce(task_slug, task) AS task, count(*) AS clips,
               sum(n_frames) AS frames, sum(duration_s) / 3600.0 AS hours
        FROM clips GROUP BY ALL ORDER BY kind, source, task
    """
    return engine.cursor().execute(sql).df()


def known_files(engine: QueryEngine) -> list[tuple[str, int, int, int | None, str]]:
    """(hashed_file, file_size, file_mtime_ns, episode_index, clip_id) of every catalogued clip."""
    sql = """SELECT hashed_file, file_size, file_mtime_ns, episode_index, clip_id FROM clips
             WHERE hashed_file IS NOT NULL AND file_size IS NOT NULL"""
    return engine.cursor().execute(sql).fetchall()


def existing_clip_ids(engine: QueryEngine) -> set[str]:
    return {row[0] for row in engine.cursor().execute("SELECT clip_id FROM clips").fetchall()}


def get_clip(engine: QueryEngine, clip_id: str) -> dict | None:
    frame = engine.cursor().execute("SELECT * FROM clips WHERE clip_id = ?", [clip_id]).df()
    return None if frame.empty else frame.iloc[0].to_dict()


def clip_frames(engine: QueryEngine, clip_id: str, pose_source: str | None = None) -> pd.DataFrame:
    """All hand rows of one clip (both hands, every pose source unless one is named)."""
    sql = "SELECT * FROM frames WHERE clip_id = ? AND (? IS NULL OR pose_source = ?) ORDER BY frame_index, hand"
    return engine.cursor().execute(sql, [clip_id, pose_source, pose_source]).df()


def clip_robot_frames(engine: QueryEngine, clip_id: str) -> pd.DataFrame:
    sql = "SELECT * FROM robot_frames WHERE clip_id = ? ORDER BY frame_index"
    return engine.cursor().execute(sql, [clip_id]).df()


def pose_coverage(engine: QueryEngine) -> pd.DataFrame:
    """Per pose source: clips with poses and the fraction of hand-frames where a hand is present."""
    sql = """
        SELECT pose_source, count(DISTINCT clip_id) AS clips, count(*) AS hand_frames,
               avg(present::INT) AS present_fraction
        FROM frames GROUP BY pose_source ORDER BY pose_source
    """
    return engine.cursor().execute(sql).df()
