"""Views: a `ViewSpec` (db/view_spec.py) compiled to parameterised DuckDB SQL, and run.

The one filter language: the Clips page, the viewer's neighbours, saved views (`curation.views`),
the Quality and Review pages and exports all compile a spec here. In the SQL text every value is a
bound `?` parameter and the only identifiers are allow-listed column names, so nothing a user
types ever becomes SQL.

A view means `clips LEFT JOIN metrics`, filtered and sorted; the compiled SQL reaches the same rows
the cheapest way it can, because a string-keyed join of 1M clips with 1M metric rows costs ~0.4 s
on 2 cores: a spec that names no metric runs on `clips` alone; one whose metric ranges already drop
unscored clips runs on `metrics` alone (it carries the clip's kind, source and task); only the rest
join. A page of results is chosen first on those few columns, then its rows are fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from db.engine import QueryEngine
from db.view_spec import CLIP_COLUMNS, METRIC_COLUMNS, RANGE_COLUMNS, SORT_COLUMNS, ViewSpec

from .door import fetch_df, fetch_one, fetch_value

CATALOG_IN_METRICS = ("clip_id", "kind", "source", "task", "task_slug")  # clips columns the metrics rows carry
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")  # a second guard: allow-listed names are plain identifiers
EVERY_CLIP = ViewSpec()  # no filter, in clip id order: what the Clips page shows first
BASES = {"clips": "clips c", "metrics": "metrics m", "join": "clips c LEFT JOIN metrics m ON m.clip_id = c.clip_id"}


def _plan(spec: ViewSpec, value_column: str | None) -> str:
    """Which base answers the spec: 'clips', 'metrics' or 'join' (see the module docstring)."""
    referenced = {r[0] for r in spec.metric_ranges} | {spec.order_by} | ({value_column} if value_column else set())
    metrics_named = {name for name in referenced if name not in CLIP_COLUMNS}
    if not metrics_named:
        return "clips"
    # Rows without metrics fail a metric range (NULL), and a histogram drops null values anyway.
    scored_only = any(r[0] not in CLIP_COLUMNS for r in spec.metric_ranges) or (
        value_column is not None and value_column not in CLIP_COLUMNS)
    if scored_only and referenced - metrics_named <= set(CATALOG_IN_METRICS):
        return "metrics"
    return "join"


def _ref(base: str, name: str) -> str:
    """The qualified column of an allow-listed name in a base (clips columns win: `duration_s` is both)."""
    if name not in SORT_COLUMNS or not IDENTIFIER.match(name):
        raise ValueError(f"unknown column {name!r}")
    if base == "metrics" or (base == "join" and name not in CLIP_COLUMNS):
        return f'm."{name}"'
    return f'c."{name}"'


def _in_list(column_sql: str, values: tuple[str, ...], params: list[object]) -> str:
    params.append(list(values))
    return f"{column_sql} IN (SELECT unnest(?::VARCHAR[]))"


def _where(spec: ViewSpec, base: str, params: list[object]) -> str:
    """The WHERE clauses of a spec over a base, appending their values to `params` in order."""
    def ref(name: str) -> str:
        return _ref(base, name)

    clauses = ["TRUE"]
    for column, lo, hi in spec.metric_ranges:
        for bound, op in ((lo, ">="), (hi, "<=")):
            if bound is not None:
                clauses.append(f"{ref(column)} {op} ?")
                params.append(bound)
    if spec.tasks:
        by_slug = _in_list(ref("task_slug"), spec.tasks, params)
        clauses.append(f"({by_slug} OR {_in_list(ref('task'), spec.tasks, params)})")
    if spec.sources:
        clauses.append(_in_list(ref("source"), spec.sources, params))
    if spec.kinds:
        clauses.append(_in_list(ref("kind"), spec.kinds, params))
    if spec.clip_ids:
        clauses.append(_in_list(ref("clip_id"), spec.clip_ids, params))
    if spec.flag_states:
        clauses.append(f"{ref('clip_id')} IN (SELECT clip_id FROM flags WHERE "
                       f"{_in_list('state', spec.flag_states, params)})")
    if spec.exclude_flag_states:
        clauses.append(f"{ref('clip_id')} NOT IN (SELECT clip_id FROM flags WHERE "
                       f"{_in_list('state', spec.exclude_flag_states, params)})")
    if spec.text:
        clauses.append(f"(contains(lower({ref('task')}), lower(?)) OR contains(lower({ref('task_slug')}), lower(?)) "
                       f"OR {ref('clip_id')} IN (SELECT clip_id FROM labels WHERE kind = 'task' "
                       "AND contains(lower(text), lower(?))))")
        params += [spec.text] * 3
    if spec.task_contains:
        clauses.append(f"(contains(lower({ref('task')}), lower(?)) OR contains(lower({ref('task_slug')}), lower(?)))")
        params += [spec.task_contains] * 2
    return " AND ".join(clauses)


def compile_view_ids(spec: ViewSpec, value_column: str | None = None) -> tuple[str, list[object]]:
    """SQL for the view's `clip_id, sort_key` (and `value`, one more column), unordered: membership, counts."""
    if value_column is not None and value_column not in RANGE_COLUMNS:
        raise ValueError(f"unknown metric column {value_column!r}")
    base = _plan(spec, value_column)
    params: list[object] = []
    where = _where(spec, base, params)
    value = f", {_ref(base, value_column)} AS value" if value_column else ""
    sql = (f"SELECT {_ref(base, 'clip_id')} AS clip_id, {_ref(base, spec.order_by)} AS sort_key{value} "
           f"FROM {BASES[base]} WHERE {where}")
    return sql, params


def compile_view(spec: ViewSpec, limit: int | None = None, offset: int = 0, columns: tuple[str, ...] = (),
                 every_clip_column: bool = False) -> tuple[str, list[object]]:
    """SQL for the view's rows in order: the `clips` columns, the metric columns the spec names, `columns`.

    With `limit`, only that page (after `offset` rows) is fetched in full. The clips columns are
    `CLIP_COLUMNS`, or every column of the `clips` view with `every_clip_column`.
    """
    unknown = sorted(set(columns) - set(METRIC_COLUMNS))
    if unknown:
        raise ValueError(f"unknown metric columns {unknown}")
    named = [r[0] for r in spec.metric_ranges] + [spec.order_by] + list(columns)
    metric_out = [name for name in dict.fromkeys(named) if name not in CLIP_COLUMNS]
    direction = "DESC" if spec.descending else "ASC"
    page = " LIMIT ? OFFSET ?" if limit is not None else ""
    page_params = [int(limit), int(offset)] if limit is not None else []
    if every_clip_column and not metric_out:
        # Whole rows with nothing to join (the Clips page): one pass and DuckDB's top-N beats choosing
        # the page first and scanning `clips` again to fetch it (~10 ms a page of 100 at 200k clips).
        where_params: list[object] = []
        where = _where(spec, "clips", where_params)
        sql = (f"SELECT c.* FROM clips c WHERE {where} "
               f"ORDER BY {_ref('clips', spec.order_by)} {direction} NULLS LAST, c.clip_id{page}")
        return sql, [*where_params, *page_params]
    ids_sql, params = compile_view_ids(spec)
    params = [*params, *page_params]
    clip_out = ["c.*"] if every_clip_column else [f'c."{n}"' for n in CLIP_COLUMNS]
    select_list = ", ".join(clip_out + [f'm."{n}"' for n in metric_out])
    metrics_join = " LEFT JOIN metrics m ON m.clip_id = page.clip_id" if metric_out else ""
    sql = (f"WITH page AS (SELECT clip_id, sort_key FROM ({ids_sql}) "
           f"ORDER BY sort_key {direction} NULLS LAST, clip_id{page}) "
           f"SELECT {select_list} FROM page JOIN clips c ON c.clip_id = page.clip_id{metrics_join} "
           f"ORDER BY page.sort_key {direction} NULLS LAST, page.clip_id")
    return sql, params


def view_clips(engine: QueryEngine, spec: ViewSpec, limit: int | None = 100, offset: int = 0,
               columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """One page of the view's clips (all of them with `limit=None`), with `columns` of metrics as well."""
    return fetch_df(engine, *compile_view(spec, limit, offset, columns))


def count_view(engine: QueryEngine, spec: ViewSpec) -> int:
    sql, params = compile_view_ids(spec)
    return int(fetch_value(engine, f"SELECT count(*) FROM ({sql})", params))


def view_values(engine: QueryEngine, spec: ViewSpec, column: str) -> pd.Series:
    """The non-null values of one range column over the view's clips (unordered)."""
    sql, params = compile_view_ids(spec, value_column=column)
    return fetch_df(engine, f"SELECT value FROM ({sql}) WHERE value IS NOT NULL", params)["value"]


# --- The Clips page and the viewer's neighbours ----------------------------------------------------

def list_clips(engine: QueryEngine, spec: ViewSpec = EVERY_CLIP, limit: int | None = 100, offset: int = 0
               ) -> pd.DataFrame:
    """One page of the view's clips in its order, with every `clips` column (what cards and the viewer show)."""
    return fetch_df(engine, *compile_view(spec, limit, offset, every_clip_column=True))


@dataclass(frozen=True)
class ClipPage:
    """One page of a filtered, sorted clip list."""

    rows: pd.DataFrame  # the clips on this page (all `clips` columns)
    total: int  # clips matching the filter
    page: int  # 0-based, clamped to the last page
    page_size: int

    @property
    def n_pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def clip_page(engine: QueryEngine, spec: ViewSpec = EVERY_CLIP, page: int = 0, page_size: int = 24) -> ClipPage:
    """Page `page` of the view's clips (LIMIT/OFFSET in DuckDB, bound parameters)."""
    if page_size < 1:
        raise ValueError(f"page_size must be >= 1, got {page_size}")
    total = count_view(engine, spec)
    last = max(0, -(-total // page_size) - 1)
    page = min(max(0, page), last)
    rows = list_clips(engine, spec, limit=page_size, offset=page * page_size)
    return ClipPage(rows=rows, total=total, page=page, page_size=page_size)


def clip_neighbours(engine: QueryEngine, clip_id: str, spec: ViewSpec = EVERY_CLIP) -> tuple[str | None, str | None]:
    """The clips before and after `clip_id` in the view's order (None at either end or if absent)."""
    ids_sql, params = compile_view_ids(spec)
    direction = "DESC" if spec.descending else "ASC"
    sql = f"""
        WITH ordered AS (
            SELECT clip_id, lag(clip_id) OVER w AS prev_id, lead(clip_id) OVER w AS next_id
            FROM ({ids_sql}) WINDOW w AS (ORDER BY sort_key {direction} NULLS LAST, clip_id))
        SELECT prev_id, next_id FROM ordered WHERE clip_id = ?
    """
    row = fetch_one(engine, sql, [*params, clip_id])
    return (row[0], row[1]) if row else (None, None)
