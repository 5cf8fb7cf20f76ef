"""Every DuckDB query the packages run, as named functions with bound parameters.

No value from a user is ever formatted into SQL text: filters become `?` parameters, and the
only identifiers built into SQL come from fixed allow-lists (sortable columns).
"""

from __future__ import annotations

import numbers
import threading
import time
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import pyarrow as pa

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

    def __post_init__(self) -> None:
        """Check types here, so a wrong one is a `ValueError` naming the field, not a DuckDB conversion error."""
        for name in ("kinds", "sources", "clip_ids"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"ClipFilter.{name} must be a tuple of strings, got {value!r}")
        if not isinstance(self.task_contains, str):
            raise ValueError(f"ClipFilter.task_contains must be a string, got {self.task_contains!r}")
        for name in ("min_duration_s", "max_duration_s"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
                raise ValueError(f"ClipFilter.{name} must be a number of seconds or None, got {value!r}")

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


# --- The app's pages (Overview, Clips, Clip viewer) --------------------------------------------

GROUP_COLUMNS = ("kind", "source")  # what clip_totals may group by


def clip_totals(engine: QueryEngine, by: str) -> pd.DataFrame:
    """Clips, frames and hours per value of `by` (`kind` or `source`), largest first."""
    if by not in GROUP_COLUMNS:
        raise ValueError(f"cannot group by {by!r}; choose one of {GROUP_COLUMNS}")
    sql = f"""
        SELECT {by}, count(*) AS clips, coalesce(sum(n_frames), 0) AS frames,
               coalesce(sum(duration_s), 0) / 3600.0 AS hours
        FROM clips GROUP BY {by} ORDER BY hours DESC, {by}
    """
    return engine.cursor().execute(sql).df()


def task_totals(engine: QueryEngine, limit: int = 25) -> pd.DataFrame:
    """The `limit` tasks with the most hours: task (short name), kind, clips, hours."""
    sql = """
        SELECT coalesce(task_slug, task, '(no task)') AS task, kind, count(*) AS clips,
               coalesce(sum(duration_s), 0) / 3600.0 AS hours
        FROM clips GROUP BY ALL ORDER BY hours DESC, task LIMIT ?
    """
    return engine.cursor().execute(sql, [limit]).df()


def pose_coverage_by_hand(engine: QueryEngine) -> pd.DataFrame:
    """Per pose source and hand: clips with poses, hand-frames, and the fraction present."""
    sql = """
        SELECT pose_source, hand, count(DISTINCT clip_id) AS clips, count(*) AS hand_frames,
               avg(present::INT) AS present_fraction, avg(score) FILTER (WHERE present) AS mean_score
        FROM frames GROUP BY ALL ORDER BY pose_source, hand
    """
    return engine.cursor().execute(sql).df()


@dataclass(frozen=True)
class ClipFacets:
    """What the Clips page's filters can choose from."""

    total: int  # clips in the catalog
    kinds: tuple[str, ...]
    sources: tuple[str, ...]
    max_duration_s: float  # the longest clip, seconds (0 when empty)


def clip_facets(engine: QueryEngine) -> ClipFacets:
    sql = """SELECT count(*), list(DISTINCT kind ORDER BY kind), list(DISTINCT source ORDER BY source),
                    coalesce(max(duration_s), 0) FROM clips"""
    total, kinds, sources, longest = engine.cursor().execute(sql).fetchone()
    return ClipFacets(int(total), tuple(kinds or ()), tuple(sources or ()), float(longest))


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


def clip_page(engine: QueryEngine, spec: ClipFilter = ClipFilter(), order_by: str = "clip_id",
              descending: bool = False, page: int = 0, page_size: int = 24) -> ClipPage:
    """Page `page` of the clips matching `spec` (LIMIT/OFFSET in DuckDB, bound parameters)."""
    if page_size < 1:
        raise ValueError(f"page_size must be >= 1, got {page_size}")
    total = count_clips(engine, spec)
    last = max(0, -(-total // page_size) - 1)
    page = min(max(0, page), last)
    rows = list_clips(engine, spec, order_by, descending, limit=page_size, offset=page * page_size)
    return ClipPage(rows=rows, total=total, page=page, page_size=page_size)


def clip_pose_sources(engine: QueryEngine, clip_id: str) -> list[str]:
    """The pose sources that have rows for a clip, sorted."""
    sql = "SELECT DISTINCT pose_source FROM frames WHERE clip_id = ? ORDER BY pose_source"
    return [row[0] for row in engine.cursor().execute(sql, [clip_id]).fetchall()]


def clip_pose_track(engine: QueryEngine, clip_id: str, pose_sources: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """A clip's 2D hand keypoints, compact for the viewer.

    Columns: pose_source, hand, frame_index, present, score, and `kp`: 42 floats
    `[u0, v0, ..., u20, v20]` in original-resolution pixels rounded to 0.1 px (None for a NaN
    joint), or None when the hand is absent.
    """
    sql = """
        SELECT pose_source, hand, frame_index, present, score,
               CASE WHEN present THEN list_transform(flatten(kp2d_px::FLOAT[][]),
                    lambda x: CASE WHEN isnan(x) THEN NULL ELSE round(x::DOUBLE, 1) END) END AS kp
        FROM frames
        WHERE clip_id = ? AND pose_source IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY pose_source, hand, frame_index
    """
    return engine.cursor().execute(sql, [clip_id, list(pose_sources)]).df()


def clip_neighbours(engine: QueryEngine, clip_id: str, spec: ClipFilter = ClipFilter(), order_by: str = "clip_id",
                    descending: bool = False) -> tuple[str | None, str | None]:
    """The clips before and after `clip_id` in a filtered, sorted list (None at either end or if absent)."""
    if order_by not in CLIP_SORT_COLUMNS:
        raise ValueError(f"cannot sort by {order_by!r}; choose one of {CLIP_SORT_COLUMNS}")
    where, params = spec.where()
    direction = "DESC" if descending else "ASC"
    sql = f"""
        WITH ordered AS (
            SELECT clip_id, lag(clip_id) OVER w AS prev_id, lead(clip_id) OVER w AS next_id
            FROM clips WHERE {where} WINDOW w AS (ORDER BY {order_by} {direction}, clip_id))
        SELECT prev_id, next_id FROM ordered WHERE clip_id = ?
    """
    row = engine.cursor().execute(sql, params + [clip_id]).fetchone()
    return (row[0], row[1]) if row else (None, None)


# --- curation: scoring, views, review (curation/) ---------------------------------------------------

def scorable_clips(engine: QueryEngine, clip_ids: list[str] | None = None) -> pd.DataFrame:
    """Clips that have hand poses, with the pose sources they have (for `egocurate score`)."""
    sql = """
        SELECT c.clip_id, c.kind, c.source, c.fps, c.width, c.height, c.task, c.task_slug, p.pose_sources
        FROM clips c JOIN (SELECT clip_id, list(DISTINCT pose_source ORDER BY pose_source) AS pose_sources
                           FROM frames GROUP BY clip_id) p USING (clip_id)
        WHERE ?::VARCHAR[] IS NULL OR c.clip_id IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY c.clip_id
    """
    return engine.cursor().execute(sql, [clip_ids, clip_ids]).df()


def hand_frames(engine: QueryEngine, clip_ids: list[str], pose_source: str) -> pa.Table:
    """Frames of some clips from one pose source, sorted by clip, hand, frame (Arrow, keypoints nested)."""
    sql = """
        SELECT clip_id, frame_index, hand, present, score, kp2d_px, kp3d_m FROM frames
        WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) AND pose_source = ?
        ORDER BY clip_id, hand, frame_index
    """
    return engine.cursor().sql(sql, params=[clip_ids, pose_source]).to_arrow_table()


def retarget_residuals(engine: QueryEngine, clip_ids: list[str]) -> pd.DataFrame:
    """Mean retargeting residual (metres) per clip and hand, over every embodiment retargeted."""
    sql = """
        SELECT clip_id, hand, avg(residual) AS residual_m FROM retargets
        WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) AND residual IS NOT NULL
        GROUP BY clip_id, hand
    """
    return engine.cursor().execute(sql, [clip_ids]).df()


def scored_metrics(engine: QueryEngine) -> pd.DataFrame:
    """Every metrics row with its clip's task (what the noisy-demo rules are evaluated on)."""
    sql = "SELECT *, coalesce(task_slug, task) AS task_group FROM metrics ORDER BY clip_id"
    return engine.cursor().execute(sql).df()


def run_compiled_view(engine: QueryEngine, sql: str, params: list[object]) -> pd.DataFrame:
    """Rows of a view compiled by `curation.views` (SQL from allow-lists, every value bound)."""
    return engine.cursor().execute(sql, params).df()


def count_compiled_view(engine: QueryEngine, sql: str, params: list[object]) -> int:
    return int(engine.cursor().execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])


def compiled_view_values(engine: QueryEngine, sql: str, params: list[object]) -> pd.Series:
    """The `value` column of a compiled view's rows (`curation.views.compile_view_ids(value_column=...)`)."""
    return engine.cursor().execute(f"SELECT value FROM ({sql}) WHERE value IS NOT NULL", params).df()["value"]


def flags_of_clips(engine: QueryEngine, ids_sql: str, ids_params: list[object], states: list[str]) -> pd.DataFrame:
    """Flags in `states` on the clips of a view (`ids_sql` from `compile_view_ids`), worst first, with clip info."""
    sql = f"""
        SELECT f.id, f.clip_id, f.frame_start, f.frame_end, f.hand, f.reason, f.severity, f.origin, f.rule,
               f.state, f.author, f.updated_at, f.version, c.path, c.fps, c.n_frames, c.task, c.task_slug
        FROM flags f JOIN ({ids_sql}) v ON v.clip_id = f.clip_id JOIN clips c ON c.clip_id = f.clip_id
        WHERE f.state IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY CASE f.severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, f.clip_id,
                 f.frame_start NULLS FIRST, f.id
    """
    return engine.cursor().execute(sql, [*ids_params, states]).df()


@dataclass(frozen=True)
class CatalogTotals:
    """Headline numbers of the catalog."""

    clips: int
    human_clips: int
    human_hours: float
    robot_clips: int
    robot_hours: float
    clips_with_poses: int  # human clips with at least one pose row (any pose source)


def catalog_totals(engine: QueryEngine) -> CatalogTotals:
    sql = """
        SELECT count(*), count(*) FILTER (WHERE kind = 'human'),
               coalesce(sum(duration_s) FILTER (WHERE kind = 'human'), 0) / 3600.0,
               count(*) FILTER (WHERE kind = 'robot'),
               coalesce(sum(duration_s) FILTER (WHERE kind = 'robot'), 0) / 3600.0,
               (SELECT count(DISTINCT clip_id) FROM frames)
        FROM clips
    """
    row = engine.cursor().execute(sql).fetchone()
    return CatalogTotals(int(row[0]), int(row[1]), float(row[2]), int(row[3]), float(row[4]), int(row[5]))


# --- Hand pose labelling (labeling/pose/label.py) ---------------------------------------------------

def label_candidates(engine: QueryEngine, pose_source: str,
                     clip_ids: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    """Clips a labelling stage may work on, and whether `pose_source` frames exist for each.

    All human clips when `clip_ids` is None, else exactly the named clips of any kind (so the
    caller can say why a robot clip is refused). Columns: clip_id, kind, source, path, fps,
    n_frames, width, height, fx, fy, cx, cy, has_pose.
    """
    sql = """
        WITH labelled AS (SELECT DISTINCT clip_id FROM frames WHERE pose_source = ?)
        SELECT c.clip_id, c.kind, c.source, c.path, c.fps, c.n_frames, c.width, c.height,
               c.fx, c.fy, c.cx, c.cy, l.clip_id IS NOT NULL AS has_pose
        FROM clips c LEFT JOIN labelled l USING (clip_id)
        WHERE CASE WHEN ?::VARCHAR[] IS NULL THEN c.kind = 'human'
                   ELSE c.clip_id IN (SELECT unnest(?::VARCHAR[])) END
        ORDER BY c.clip_id
    """
    wanted = None if clip_ids is None else list(clip_ids)
    return engine.cursor().execute(sql, [pose_source, wanted, wanted]).df()


def clips_with_pose(engine: QueryEngine, clip_ids: list[str] | tuple[str, ...], pose_source: str) -> set[str]:
    """Which of `clip_ids` already have frames from `pose_source`."""
    sql = """SELECT DISTINCT clip_id FROM frames
             WHERE pose_source = ? AND clip_id IN (SELECT unnest(?::VARCHAR[]))"""
    return {row[0] for row in engine.cursor().execute(sql, [pose_source, list(clip_ids)]).fetchall()}


PUBLIC_VIEWS = ("clips", "frames", "robot_frames", "retargets", "metrics", "flags", "labels", "pairs", "views",
                "exports", "runs")


def public_columns(engine: QueryEngine) -> pd.DataFrame:
    """Columns of the public views and tables (view, column, type), for the SQL page's reference."""
    sql = """
        SELECT table_name AS view, column_name AS "column", data_type AS type FROM information_schema.columns
        WHERE table_name IN (SELECT unnest(?::VARCHAR[])) ORDER BY array_position(?::VARCHAR[], table_name),
              ordinal_position
    """
    return engine.cursor().execute(sql, [list(PUBLIC_VIEWS), list(PUBLIC_VIEWS)]).df()


def scored_task_groups(engine: QueryEngine) -> list[str]:
    """Task groups (task_slug, else task) of the scored clips, for the Quality page's task filter."""
    sql = """SELECT DISTINCT coalesce(task_slug, task) AS task_group FROM metrics
             WHERE coalesce(task_slug, task) IS NOT NULL ORDER BY 1"""
    return [row[0] for row in engine.cursor().execute(sql).fetchall()]


# --- Human-robot pairing and export (curation/pairing.py, curation/export_lerobot.py) ------------

def pairing_clips(engine: QueryEngine) -> pd.DataFrame:
    """Every clip with the task text pairing compares: a curator's latest task label wins over the source's.

    Columns: clip_id, kind, source, task, task_slug, fps, n_frames, duration_s, robot_type, state_names.
    """
    sql = """
        WITH corrected AS (SELECT clip_id, arg_max(text, updated_at) AS text FROM labels
                           WHERE kind = 'task' GROUP BY clip_id)
        SELECT c.clip_id, c.kind, c.source, coalesce(l.text, c.task) AS task, c.task_slug, c.fps, c.n_frames,
               c.duration_s, c.robot_type, c.state_names
        FROM clips c LEFT JOIN corrected l USING (clip_id) ORDER BY c.kind, c.clip_id
    """
    return engine.cursor().execute(sql).df()


def retarget_rows(engine: QueryEngine, clip_ids: list[str], embodiment: str) -> pa.Table:
    """Retargeted joints and wrist poses of some clips for one embodiment, by clip, hand, frame (Arrow)."""
    sql = """
        SELECT clip_id, frame_index, hand, q_rad, wrist_pose FROM retargets
        WHERE embodiment = ? AND clip_id IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY clip_id, hand, frame_index
    """
    return engine.cursor().sql(sql, params=[embodiment, list(clip_ids)]).to_arrow_table()


def clips_with_retargets(engine: QueryEngine, embodiment: str) -> set[str]:
    sql = "SELECT DISTINCT clip_id FROM retargets WHERE embodiment = ?"
    return {row[0] for row in engine.cursor().execute(sql, [embodiment]).fetchall()}


def robot_state_rows(engine: QueryEngine, clip_ids: list[str]) -> pa.Table:
    """State and action vectors of some robot episodes, by clip and frame (Arrow)."""
    sql = """
        SELECT clip_id, frame_index, state, action FROM robot_frames
        WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY clip_id, frame_index
    """
    return engine.cursor().sql(sql, params=[list(clip_ids)]).to_arrow_table()


def pair_rows(engine: QueryEngine, states: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Pairs (optionally in some states) with both clips' task, video and length, best cost first.

    `path` stays the JSON text the store holds; the Pairs page reads one pair's path from the store.
    """
    sql = """
        SELECT p.id, p.human_clip_id, p.robot_clip_id, p.task_similarity, p.cost, p.state, p.reason,
               p.decided_by, p.decided_at, p.version, h.task AS human_task, r.task AS robot_task,
               h.n_frames AS human_frames, r.n_frames AS robot_frames, h.fps AS human_fps, r.fps AS robot_fps
        FROM pairs p JOIN clips h ON h.clip_id = p.human_clip_id JOIN clips r ON r.clip_id = p.robot_clip_id
        WHERE len(?::VARCHAR[]) = 0 OR p.state IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY p.cost NULLS LAST, p.id
    """
    return engine.cursor().execute(sql, [list(states), list(states)]).df()


def accepted_pairs_in_view(engine: QueryEngine, view_sql: str, view_params: list[object]) -> pd.DataFrame:
    """Accepted pairs and whether each member is in a compiled view (`view_sql` selects its `clip_id`s).

    Columns: id, human_clip_id, robot_clip_id, cost, path (JSON text), human_in_view, robot_in_view.
    """
    sql = f"""
        WITH v AS (SELECT clip_id FROM ({view_sql}))
        SELECT p.id, p.human_clip_id, p.robot_clip_id, p.cost, p.task_similarity, p.path,
               p.human_clip_id IN (SELECT clip_id FROM v) AS human_in_view,
               p.robot_clip_id IN (SELECT clip_id FROM v) AS robot_in_view
        FROM pairs p WHERE p.state = 'accepted' ORDER BY p.id
    """
    return engine.cursor().execute(sql, view_params).df()


def unpaired_human_clips(engine: QueryEngine, view_sql: str, view_params: list[object], embodiment: str) -> list[str]:
    """Human clips of a compiled view with `embodiment` retargets and in no accepted pair, by clip_id."""
    sql = f"""
        SELECT c.clip_id FROM clips c
        WHERE c.kind = 'human' AND c.clip_id IN (SELECT clip_id FROM ({view_sql}))
          AND c.clip_id IN (SELECT clip_id FROM retargets WHERE embodiment = ?)
          AND c.clip_id NOT IN (SELECT human_clip_id FROM pairs WHERE state = 'accepted')
        ORDER BY c.clip_id
    """
    return [row[0] for row in engine.cursor().execute(sql, [*view_params, embodiment]).fetchall()]


def clips_by_id(engine: QueryEngine, clip_ids: list[str]) -> pd.DataFrame:
    """Every `clips` column of the named clips, by clip_id."""
    sql = "SELECT * FROM clips WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY clip_id"
    return engine.cursor().execute(sql, [list(clip_ids)]).df()


def flags_on_clips(engine: QueryEngine, clip_ids: list[str], states: list[str]) -> pd.DataFrame:
    """Flags in `states` on the named clips: id, clip_id, state, severity, rule, reason."""
    sql = """
        SELECT id, clip_id, state, severity, rule, reason FROM flags
        WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) AND state IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY clip_id, id
    """
    return engine.cursor().execute(sql, [list(clip_ids), list(states)]).df()


def export_rows(engine: QueryEngine) -> pd.DataFrame:
    """Past exports, newest first: id, out_dir, format, view_name, state, author, created_at, manifest (JSON)."""
    sql = """SELECT id, out_dir, format, view_name, state, author, created_at, manifest FROM exports
             ORDER BY created_at DESC, id DESC"""
    return engine.cursor().execute(sql).df()


# --- Retargeting (labeling/retarget/stage.py) ------------------------------------------------------

def retargeted_hands(engine: QueryEngine, embodiment: str, clip_ids: list[str]) -> set[tuple[str, str]]:
    """(clip_id, hand) pairs among `clip_ids` that already have `retargets` rows for `embodiment`."""
    sql = """SELECT DISTINCT clip_id, hand FROM retargets
             WHERE embodiment = ? AND clip_id IN (SELECT unnest(?::VARCHAR[]))"""
    return {(row[0], row[1]) for row in engine.cursor().execute(sql, [embodiment, list(clip_ids)]).fetchall()}


def clip_retargets(engine: QueryEngine, clip_id: str, hand: str, embodiment: str) -> pd.DataFrame:
    """One clip's retargeted hand, by frame: frame_index, q_rad, wrist_pose, residual (nulls where absent)."""
    sql = """SELECT frame_index, q_rad, wrist_pose, residual FROM retargets
             WHERE clip_id = ? AND hand = ? AND embodiment = ? ORDER BY frame_index"""
    return engine.cursor().execute(sql, [clip_id, hand, embodiment]).df()


def retarget_embodiments(engine: QueryEngine, clip_id: str) -> pd.DataFrame:
    """The embodiments a clip was retargeted to: embodiment, hand, frames with a solution, mean residual (m)."""
    sql = """SELECT embodiment, hand, count(q_rad) AS frames, avg(residual) AS residual_m FROM retargets
             WHERE clip_id = ? GROUP BY embodiment, hand ORDER BY embodiment, hand"""
    return engine.cursor().execute(sql, [clip_id]).df()
