"""Views: a `ViewSpec` (db/view_spec.py) compiled to parameterised DuckDB SQL, and run.

The one filter language: the Clips page, the viewer's neighbours, saved views (`curation.views`),
the Quality and Review pages and exports all compile a spec here. In the SQL text every value is a
bound `?` parameter and the only identifiers are allow-listed column names, so nothing a user
types ever becomes SQL.

A view means `clips LEFT JOIN metrics`, filtered and sorted: every spec is compiled against
`_catalog` (db/catalog.py), that join as one relation with a bit mask of each clip's flag states.
In the app it is resident in memory, so a count is one scan; in the CLI it is a view over the lake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from db.catalog import TASK_LABEL_SEPARATOR, flag_state_mask
from db.engine import QueryEngine
from db.schemas import CLIPS
from db.view_spec import CLIP_COLUMNS, METRIC_COLUMNS, RANGE_COLUMNS, SORT_COLUMNS, ViewSpec

from .door import absent_as_none, cursor_of, fetch_df, fetch_value

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")  # a second guard: allow-listed names are plain identifiers
LISTED_VALUES_MAX = 64  # a list this long or shorter is bound one `?` per value (DuckDB then filters in its scan)
EVERY_CLIP = ViewSpec()  # no filter, in clip id order: what the Clips page shows first
BASE = "_catalog c"


def _ref(name: str) -> str:
    """The qualified column of an allow-listed name (clips columns win: `duration_s` is both)."""
    if name not in SORT_COLUMNS or not IDENTIFIER.match(name):
        raise ValueError(f"unknown column {name!r}")
    return f'c."{name}"'


def _in_list(column_sql: str, values: tuple[str, ...], params: list[object]) -> str:
    if len(values) <= LISTED_VALUES_MAX:
        params.extend(values)
        return f"{column_sql} IN ({', '.join('?' * len(values))})"
    params.append(list(values))
    return f"{column_sql} IN (SELECT unnest(?::VARCHAR[]))"


def _flagged(states: tuple[str, ...], params: list[object]) -> str:
    """Clips with a flag in one of `states`: a test of the catalog's per-clip bit mask of flag states."""
    params.append(flag_state_mask(states))
    return "(c._flag_states & ?) <> 0"


def _where(spec: ViewSpec, params: list[object]) -> str:
    """The WHERE clauses of a spec, appending their values to `params` in order."""
    clauses = ["TRUE"]
    for column, lo, hi in spec.metric_ranges:
        for bound, op in ((lo, ">="), (hi, "<=")):
            if bound is not None:
                clauses.append(f"{_ref(column)} {op} ?")
                params.append(bound)
    if spec.tasks:
        by_slug = _in_list(_ref("task_slug"), spec.tasks, params)
        clauses.append(f"({by_slug} OR {_in_list(_ref('task'), spec.tasks, params)})")
    if spec.sources:
        clauses.append(_in_list(_ref("source"), spec.sources, params))
    if spec.kinds:
        clauses.append(_in_list(_ref("kind"), spec.kinds, params))
    if spec.clip_ids:
        clauses.append(_in_list(_ref("clip_id"), spec.clip_ids, params))
    if spec.flag_states:
        clauses.append(_flagged(spec.flag_states, params))
    if spec.exclude_flag_states:
        clauses.append(f"NOT ({_flagged(spec.exclude_flag_states, params)})")
    if spec.text:
        # A curator's task texts are summarised per clip (`_task_labels`, one per line); a search
        # spanning lines could match across two of them, so it looks in the labels themselves.
        labels = ("contains(lower(c._task_labels), lower(?))" if TASK_LABEL_SEPARATOR not in spec.text else
                  f"{_ref('clip_id')} IN (SELECT clip_id FROM labels WHERE kind = 'task' "
                  "AND contains(lower(text), lower(?)))")
        clauses.append(f"(contains(lower({_ref('task')}), lower(?)) OR contains(lower({_ref('task_slug')}), lower(?)) "
                       f"OR {labels})")
        params += [spec.text] * 3
    if spec.task_contains:
        clauses.append(f"(contains(lower({_ref('task')}), lower(?)) OR contains(lower({_ref('task_slug')}), lower(?)))")
        params += [spec.task_contains] * 2
    return " AND ".join(clauses)


def compile_view_ids(spec: ViewSpec, value_column: str | None = None) -> tuple[str, list[object]]:
    """SQL for the view's `clip_id, sort_key` (and `value`, one more column), unordered: membership, counts."""
    if value_column is not None and value_column not in RANGE_COLUMNS:
        raise ValueError(f"unknown metric column {value_column!r}")
    params: list[object] = []
    where = _where(spec, params)
    value = f", {_ref(value_column)} AS value" if value_column else ""
    sql = f"SELECT {_ref('clip_id')} AS clip_id, {_ref(spec.order_by)} AS sort_key{value} FROM {BASE} WHERE {where}"
    return sql, params


def _select_list(spec: ViewSpec, columns: tuple[str, ...], every_clip_column: bool) -> str:
    """The `clips` columns (`CLIP_COLUMNS`, or all with `every_clip_column`), the spec's metric columns, `columns`."""
    unknown = sorted(set(columns) - set(METRIC_COLUMNS))
    if unknown:
        raise ValueError(f"unknown metric columns {unknown}")
    named = [r[0] for r in spec.metric_ranges] + [spec.order_by] + list(columns)
    clip_out = CLIPS.names if every_clip_column else list(CLIP_COLUMNS)
    metric_out = [name for name in dict.fromkeys(named) if name not in CLIP_COLUMNS and name not in clip_out]
    return ", ".join(_ref(n) if n in SORT_COLUMNS else f'c."{n}"' for n in [*clip_out, *metric_out])


def compile_view(spec: ViewSpec, limit: int | None = None, offset: int = 0, columns: tuple[str, ...] = (),
                 every_clip_column: bool = False) -> tuple[str, list[object]]:
    """SQL for the view's rows in order: the `clips` columns, the metric columns the spec names, `columns`.

    With `limit`, only that page (after `offset` rows). The clips columns are `CLIP_COLUMNS`, or
    every column of the `clips` view with `every_clip_column`. (`view_clips` and `list_clips`
    fetch a page in two cheaper steps, to the same rows.)
    """
    select_list = _select_list(spec, columns, every_clip_column)
    params: list[object] = []
    where = _where(spec, params)
    page = ""
    if limit is not None:
        page = " LIMIT ? OFFSET ?"
        params += [int(limit), int(offset)]
    sql = f"SELECT {select_list} FROM {BASE} WHERE {where} ORDER BY {_order_by(spec)}{page}"
    return sql, params


def _order_by(spec: ViewSpec) -> str:
    """The view's ORDER BY: its sort column, nulls last, then the clip id (`_id_order` sorts as it does)."""
    key = "c._id_order" if spec.order_by == "clip_id" else _ref(spec.order_by)
    return f"{key} {'DESC' if spec.descending else 'ASC'} NULLS LAST, c._id_order"


def _fetch_page(engine: QueryEngine, spec: ViewSpec, limit: int | None, offset: int, columns: tuple[str, ...],
                every_clip_column: bool) -> pd.DataFrame:
    """`compile_view`'s rows; a page in two steps, on one snapshot of the catalog.

    A top-N that carries a page's columns decompresses them for every row it looks at (~50 ms of
    CPU at 1M clips): the page's `_key`s are chosen first, sorting on the key and `_id_order`
    alone, then only those rows' columns are read.
    """
    if limit is None:
        return fetch_df(engine, *compile_view(spec, None, 0, columns, every_clip_column))
    select_list = _select_list(spec, columns, every_clip_column)
    params: list[object] = []
    where = _where(spec, params)
    with cursor_of(engine) as cursor:
        cursor.begin()  # one snapshot: a rebuilt catalog numbers its rows anew
        try:
            keys = [row[0] for row in cursor.execute(
                f"SELECT c._key FROM {BASE} WHERE {where} ORDER BY {_order_by(spec)} LIMIT ? OFFSET ?",
                [*params, int(limit), int(offset)]).fetchall()]
            if not keys:
                return absent_as_none(cursor.execute(f"SELECT {select_list} FROM {BASE} WHERE FALSE").df())
            return absent_as_none(cursor.execute(
                f"SELECT {select_list} FROM {BASE} WHERE c._key IN (SELECT unnest($keys)) "
                "ORDER BY list_position($keys, c._key)", {"keys": keys}).df())
        finally:
            cursor.rollback()


def view_clips(engine: QueryEngine, spec: ViewSpec, limit: int | None = 100, offset: int = 0,
               columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """One page of the view's clips (all of them with `limit=None`), with `columns` of metrics as well."""
    return _fetch_page(engine, spec, limit, offset, columns, every_clip_column=False)


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
    return _fetch_page(engine, spec, limit, offset, (), every_clip_column=True)


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
    """The clips before and after `clip_id` in the view's order (None at either end or if absent).

    Two top-1 scans around the clip's place, instead of numbering the whole view (a window over
    1M clips costs ~0.4 s).
    """
    params: list[object] = []
    where = _where(spec, params)
    key = "c._id_order" if spec.order_by == "clip_id" else _ref(spec.order_by)
    later, earlier = ("<", ">") if spec.descending else (">", "<")
    forward, backward = ("DESC", "ASC") if spec.descending else ("ASC", "DESC")
    with cursor_of(engine) as cursor:
        cursor.begin()  # one snapshot: `_id_order` may be the row id, which a rebuild renumbers
        try:
            row = cursor.execute(f"SELECT {key}, c._id_order FROM {BASE} WHERE {where} AND c.clip_id = ?",
                                 [*params, clip_id]).fetchall()
            if not row:
                return None, None
            value, order = row[0]
            if value is None:  # nulls sort last, whichever the direction
                before, before_params = "(k IS NOT NULL OR o < ?)", [order]
                after, after_params = "(k IS NULL AND o > ?)", [order]
            else:
                before, before_params = f"(k {earlier} ? OR (k = ? AND o < ?))", [value, value, order]
                after, after_params = f"(k IS NULL OR k {later} ? OR (k = ? AND o > ?))", [value, value, order]
            view = f"(SELECT c.clip_id, {key} AS k, c._id_order AS o FROM {BASE} WHERE {where})"
            found = cursor.execute(
                f"SELECT (SELECT clip_id FROM {view} WHERE {before} ORDER BY k {backward} NULLS FIRST, o DESC "
                f"LIMIT 1), (SELECT clip_id FROM {view} WHERE {after} ORDER BY k {forward} NULLS LAST, o LIMIT 1)",
                [*params, *before_params, *params, *after_params]).fetchall()
            return found[0][0], found[0][1]
        finally:
            cursor.rollback()
