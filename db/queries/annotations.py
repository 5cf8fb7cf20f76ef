"""Queries over the annotation tables mirrored from the store: flags, labels, pairs, exports, runs.

The Review page's queue (a view's flags, worst first), the flags an export checks, pairs with
both clips' facts, the accepted pairs and unpaired human clips of a view (what an export holds),
and past exports. Writes go through the store (`curation/`), never through DuckDB.
"""

from __future__ import annotations

import pandas as pd

from db.engine import QueryEngine
from db.view_spec import ViewSpec

from .door import fetch_all, fetch_df
from .views import compile_view_ids


def flags_of_clips(engine: QueryEngine, spec: ViewSpec, states: list[str]) -> pd.DataFrame:
    """Flags in `states` on the clips of a view, worst first, with clip info."""
    ids_sql, ids_params = compile_view_ids(spec)
    sql = f"""
        SELECT f.id, f.clip_id, f.frame_start, f.frame_end, f.hand, f.embodiment, f.reason, f.severity, f.origin,
               f.rule, f.state, f.author, f.updated_at, f.version, c.path, c.fps, c.n_frames, c.task, c.task_slug
        FROM flags f JOIN ({ids_sql}) v ON v.clip_id = f.clip_id JOIN clips c ON c.clip_id = f.clip_id
        WHERE f.state IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY CASE f.severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, f.clip_id,
                 f.frame_start NULLS FIRST, f.id
    """
    return fetch_df(engine, sql, [*ids_params, states])


def export_flags(engine: QueryEngine, clip_ids: list[str], states: list[str]) -> pd.DataFrame:
    """Flags in `states` on the named clips, with their frame ranges (NULL: the whole clip): what an export
    excludes (whole-clip flags) and cuts (the others). Columns: id, clip_id, state, severity, rule, reason,
    frame_start, frame_end, hand."""
    sql = """
        SELECT id, clip_id, state, severity, rule, reason, frame_start, frame_end, hand FROM flags
        WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) AND state IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY clip_id, id
    """
    return fetch_df(engine, sql, [list(clip_ids), list(states)])


def segment_labels(engine: QueryEngine, clip_ids: list[str]) -> pd.DataFrame:
    """The segment labels of the named clips (frame ranges inclusive): id, clip_id, frame_start, frame_end, text."""
    sql = """
        SELECT id, clip_id, frame_start, frame_end, text FROM labels
        WHERE kind = 'segment' AND clip_id IN (SELECT unnest(?::VARCHAR[])) AND frame_start IS NOT NULL
        ORDER BY clip_id, frame_start, id
    """
    return fetch_df(engine, sql, [list(clip_ids)])


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
    return fetch_df(engine, sql, [list(states), list(states)])


def accepted_pairs_in_view(engine: QueryEngine, spec: ViewSpec) -> pd.DataFrame:
    """Accepted pairs and whether each member is in a view.

    Columns: id, human_clip_id, robot_clip_id, cost, path (JSON text), human_in_view, robot_in_view.
    """
    view_sql, view_params = compile_view_ids(spec)
    sql = f"""
        WITH v AS (SELECT clip_id FROM ({view_sql}))
        SELECT p.id, p.human_clip_id, p.robot_clip_id, p.cost, p.task_similarity, p.path,
               p.human_clip_id IN (SELECT clip_id FROM v) AS human_in_view,
               p.robot_clip_id IN (SELECT clip_id FROM v) AS robot_in_view
        FROM pairs p WHERE p.state = 'accepted' ORDER BY p.id
    """
    return fetch_df(engine, sql, view_params)


def unpaired_human_clips(engine: QueryEngine, spec: ViewSpec, embodiment: str) -> list[str]:
    """Human clips of a view with `embodiment` retargets and in no accepted pair, by clip_id."""
    view_sql, view_params = compile_view_ids(spec)
    sql = f"""
        SELECT c.clip_id FROM clips c
        WHERE c.kind = 'human' AND c.clip_id IN (SELECT clip_id FROM ({view_sql}))
          AND c.clip_id IN (SELECT clip_id FROM retargets WHERE embodiment = ?)
          AND c.clip_id NOT IN (SELECT human_clip_id FROM pairs WHERE state = 'accepted')
        ORDER BY c.clip_id
    """
    return [row[0] for row in fetch_all(engine, sql, [*view_params, embodiment])]


def export_rows(engine: QueryEngine) -> pd.DataFrame:
    """Past exports, newest first: id, out_dir, format, view_name, state, author, created_at, manifest (JSON)."""
    sql = """SELECT id, out_dir, format, view_name, state, author, created_at, manifest FROM exports
             ORDER BY created_at DESC, id DESC"""
    return fetch_df(engine, sql)
