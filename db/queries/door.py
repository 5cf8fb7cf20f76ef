"""The one door to DuckDB: fetch helpers every named query goes through, and the read-only SQL page.

Each helper takes its own cursor from the engine (a DuckDB connection is not thread-safe, and the
engine refreshes its views when it hands one out), runs one statement with bound `?` parameters,
reads the whole result and closes the cursor, whatever happens. No value from a user is ever
formatted into SQL text; the only identifiers built into SQL come from fixed allow-lists.

The free-form SQL page (`run_readonly_sql`) is the one other way in: exactly one SELECT or
EXPLAIN over the public views, capped in rows and time.

Absent values leave here as `None` (`absent_as_none`): a NULL text, vector, JSON, integer or boolean
is `None` in a DataFrame column and in a row dict, never the float NaN or `pd.NA` pandas would make
of it (a later `.lower()` or `len()` trips on those). Only float columns keep NaN, pandas' missing
number, so arithmetic on them stays vectorised; a row dict (`fetch_row`) has `None` there too.
Timestamps keep `NaT`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa

from db.engine import QueryEngine

SQL_ROW_CAP = 1000  # free-form SQL: rows returned at most; more sets `truncated`
SQL_TIMEOUT_S = 10.0  # free-form SQL: a query running longer is interrupted
SQL_ALLOWED_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
PUBLIC_VIEWS = ("clips", "frames", "robot_frames", "retargets", "metrics", "retarget_metrics", "flags", "labels",
                "pairs", "views", "exports", "runs", "embodiments", "clip_embodiments")


@contextmanager
def cursor_of(engine: QueryEngine) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh cursor over the engine's up-to-date views, closed on the way out."""
    cursor = engine.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def absent_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with NULLs as `None` in every column that is not float or timestamp (see the module docstring).

    Columns without a NULL keep their dtype; a column with one becomes `object` (its values stay the
    same Python objects, and Arrow still reads it as the same type).
    """
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column.dtype) or pd.api.types.is_datetime64_any_dtype(column.dtype):
            continue
        missing = column.isna()
        if missing.any():
            frame[name] = column.astype(object).where(~missing, None)
    return frame


def fetch_df(engine: QueryEngine, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
    """Every row of one statement, as a DataFrame (absent values as `absent_as_none` says)."""
    with cursor_of(engine) as cursor:
        return absent_as_none(cursor.execute(sql, list(params)).df())


def row_dict(frame: pd.DataFrame, position: int = 0) -> dict[str, object]:
    """One row of a fetched frame as a dict: every absent value (NaN, NA, NaT) is `None`."""
    return {name: (None if _is_absent(value) else value) for name, value in frame.iloc[position].items()}


def _is_absent(value: object) -> bool:
    # Lists and arrays are values even when they hold NaN; only a scalar can be "absent".
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def fetch_row(engine: QueryEngine, sql: str, params: Sequence[object] = ()) -> dict[str, object] | None:
    """The first row of one statement as a dict (absent values `None`), or None when it has none."""
    frame = fetch_df(engine, sql, params)
    return None if frame.empty else row_dict(frame)


def fetch_arrow(engine: QueryEngine, sql: str, params: Sequence[object] = ()) -> pa.Table:
    """Every row of one statement, as an Arrow table (nested columns stay nested)."""
    with cursor_of(engine) as cursor:
        return cursor.sql(sql, params=list(params)).to_arrow_table()


def fetch_all(engine: QueryEngine, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    """Every row of one statement, as tuples."""
    with cursor_of(engine) as cursor:
        return cursor.execute(sql, list(params)).fetchall()


def fetch_one(engine: QueryEngine, sql: str, params: Sequence[object] = ()) -> tuple | None:
    """The first row of one statement (None when it has none)."""
    with cursor_of(engine) as cursor:
        return cursor.execute(sql, list(params)).fetchone()


def fetch_value(engine: QueryEngine, sql: str, params: Sequence[object] = ()) -> object:
    """The first column of the first row of a statement that always returns one (a count, a max)."""
    row = fetch_one(engine, sql, params)
    if row is None:
        raise ValueError(f"expected one row from {sql.split()[0]} ..., got none")
    return row[0]


def public_columns(engine: QueryEngine) -> pd.DataFrame:
    """Columns of the public views and tables (view, column, type), for the SQL page's reference."""
    sql = """
        SELECT table_name AS view, column_name AS "column", data_type AS type FROM information_schema.columns
        WHERE table_name IN (SELECT unnest(?::VARCHAR[])) ORDER BY array_position(?::VARCHAR[], table_name),
              ordinal_position
    """
    return fetch_df(engine, sql, [list(PUBLIC_VIEWS), list(PUBLIC_VIEWS)])


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

    It keeps its cursor for the whole call: the statement is parsed on it, and the timeout
    interrupts it.

    Raises:
        SqlError: not exactly one SELECT/EXPLAIN statement, a syntax error, or the timeout hit.
    """
    with cursor_of(engine) as cursor:
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
    truncated = len(rows) > row_cap
    frame = absent_as_none(pd.DataFrame(rows[:row_cap], columns=columns))
    return SqlResult(frame=frame, truncated=truncated, elapsed_s=time.perf_counter() - started)
