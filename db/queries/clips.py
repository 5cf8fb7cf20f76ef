"""Queries over the `clips` view (the catalog) and the per-clip `metrics` it is scored into.

The catalog's headline numbers and facets (Overview and Clips pages), single clips by id, the
clips a stage may work on (ingest, label, score, pairing), and the scored metrics rows. Filtered
and sorted lists of clips are views: `db.queries.views`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from db.engine import QueryEngine

from .door import fetch_all, fetch_df, fetch_one, fetch_row

GROUP_COLUMNS = ("kind", "source")  # what clip_totals may group by


def get_clip(engine: QueryEngine, clip_id: str) -> dict | None:
    """One `clips` row as a dict (absent values `None`), or None for an unknown clip."""
    return fetch_row(engine, "SELECT * FROM clips WHERE clip_id = ?", [clip_id])


def clips_by_id(engine: QueryEngine, clip_ids: list[str]) -> pd.DataFrame:
    """Every `clips` column of the named clips, by clip_id."""
    sql = "SELECT * FROM clips WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY clip_id"
    return fetch_df(engine, sql, [list(clip_ids)])


def existing_clip_ids(engine: QueryEngine) -> set[str]:
    return {row[0] for row in fetch_all(engine, "SELECT clip_id FROM clips")}


def known_files(engine: QueryEngine) -> list[tuple[str, int, int, int | None, str]]:
    """(hashed_file, file_size, file_mtime_ns, episode_index, clip_id) of every catalogued clip."""
    sql = """SELECT hashed_file, file_size, file_mtime_ns, episode_index, clip_id FROM clips
             WHERE hashed_file IS NOT NULL AND file_size IS NOT NULL"""
    return fetch_all(engine, sql)


def vector_keys(engine: QueryEngine) -> dict[str, tuple[str | None, str | None]]:
    """clip_id -> (state_key, action_key) of every robot episode: the LeRobot features ingest read as vectors."""
    sql = "SELECT clip_id, state_key, action_key FROM clips WHERE kind = 'robot'"
    return {row[0]: (row[1], row[2]) for row in fetch_all(engine, sql)}


def clip_summary(engine: QueryEngine) -> pd.DataFrame:
    """Clip count, frames and hours per kind, source and task."""
    sql = """
        SELECT kind, source, coalesce(task_slug, task) AS task, count(*) AS clips,
               sum(n_frames) AS frames, sum(duration_s) / 3600.0 AS hours
        FROM clips GROUP BY ALL ORDER BY kind, source, task
    """
    return fetch_df(engine, sql)


# --- The Overview and Clips pages -----------------------------------------------------------------

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
    row = fetch_one(engine, sql)
    return CatalogTotals(int(row[0]), int(row[1]), float(row[2]), int(row[3]), float(row[4]), int(row[5]))


def clip_totals(engine: QueryEngine, by: str) -> pd.DataFrame:
    """Clips, frames and hours per value of `by` (`kind` or `source`), largest first."""
    if by not in GROUP_COLUMNS:
        raise ValueError(f"cannot group by {by!r}; choose one of {GROUP_COLUMNS}")
    sql = f"""
        SELECT {by}, count(*) AS clips, coalesce(sum(n_frames), 0) AS frames,
               coalesce(sum(duration_s), 0) / 3600.0 AS hours
        FROM clips GROUP BY {by} ORDER BY hours DESC, {by}
    """
    return fetch_df(engine, sql)


def task_totals(engine: QueryEngine, limit: int = 25) -> pd.DataFrame:
    """The `limit` tasks with the most hours: task (short name), kind, clips, hours."""
    sql = """
        SELECT coalesce(task_slug, task, '(no task)') AS task, kind, count(*) AS clips,
               coalesce(sum(duration_s), 0) / 3600.0 AS hours
        FROM clips GROUP BY ALL ORDER BY hours DESC, task LIMIT ?
    """
    return fetch_df(engine, sql, [limit])


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
    total, kinds, sources, longest = fetch_one(engine, sql)
    return ClipFacets(int(total), tuple(kinds or ()), tuple(sources or ()), float(longest))


# --- The clips a stage works on (label, score, pairing) --------------------------------------------

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
    return fetch_df(engine, sql, [pose_source, wanted, wanted])


def scorable_clips(engine: QueryEngine, clip_ids: list[str] | None = None) -> pd.DataFrame:
    """Clips that have hand poses, with the pose sources they have (for `egocurate score`)."""
    sql = """
        SELECT c.clip_id, c.kind, c.source, c.fps, c.width, c.height, c.task, c.task_slug, p.pose_sources
        FROM clips c JOIN (SELECT clip_id, list(DISTINCT pose_source ORDER BY pose_source) AS pose_sources
                           FROM frames GROUP BY clip_id) p USING (clip_id)
        WHERE ?::VARCHAR[] IS NULL OR c.clip_id IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY c.clip_id
    """
    return fetch_df(engine, sql, [clip_ids, clip_ids])


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
    return fetch_df(engine, sql)


# --- Scored metrics (curation/score.py writes them; rules and the Quality page read them) ----------

def scored_metrics(engine: QueryEngine) -> pd.DataFrame:
    """Every metrics row with its clip's task (what the noisy-demo rules are evaluated on)."""
    return fetch_df(engine, "SELECT *, coalesce(task_slug, task) AS task_group FROM metrics ORDER BY clip_id")


def scored_task_groups(engine: QueryEngine) -> list[str]:
    """Task groups (task_slug, else task) of the scored clips, for the Quality page's task filter."""
    sql = """SELECT DISTINCT coalesce(task_slug, task) AS task_group FROM metrics
             WHERE coalesce(task_slug, task) IS NOT NULL ORDER BY 1"""
    return [row[0] for row in fetch_all(engine, sql)]
