"""Queries over the `retargets` view: human hand motion retargeted to robot hands, per embodiment.

What the retarget stage has already done, one clip's retargeted hand for the viewer's robot
overlay, the residuals scoring reads, and the joints and wrist poses exports write.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from db.engine import QueryEngine

from .door import fetch_all, fetch_arrow, fetch_df


def retargeted_hands(engine: QueryEngine, embodiment: str, clip_ids: list[str]) -> set[tuple[str, str]]:
    """(clip_id, hand) pairs among `clip_ids` that already have `retargets` rows for `embodiment`."""
    sql = """SELECT DISTINCT clip_id, hand FROM retargets
             WHERE embodiment = ? AND clip_id IN (SELECT unnest(?::VARCHAR[]))"""
    return {(row[0], row[1]) for row in fetch_all(engine, sql, [embodiment, list(clip_ids)])}


def clips_with_retargets(engine: QueryEngine, embodiment: str) -> set[str]:
    sql = "SELECT DISTINCT clip_id FROM retargets WHERE embodiment = ?"
    return {row[0] for row in fetch_all(engine, sql, [embodiment])}


def clip_retargets(engine: QueryEngine, clip_id: str, hand: str, embodiment: str) -> pd.DataFrame:
    """One clip's retargeted hand, by frame: frame_index, q_rad, wrist_pose, residual (nulls where absent)."""
    sql = """SELECT frame_index, q_rad, wrist_pose, residual FROM retargets
             WHERE clip_id = ? AND hand = ? AND embodiment = ? ORDER BY frame_index"""
    return fetch_df(engine, sql, [clip_id, hand, embodiment])


def retarget_embodiments(engine: QueryEngine, clip_id: str) -> pd.DataFrame:
    """The embodiments a clip was retargeted to: embodiment, hand, frames with a solution, mean residual (m)."""
    sql = """SELECT embodiment, hand, count(q_rad) AS frames, avg(residual) AS residual_m FROM retargets
             WHERE clip_id = ? GROUP BY embodiment, hand ORDER BY embodiment, hand"""
    return fetch_df(engine, sql, [clip_id])


def retarget_residuals(engine: QueryEngine, clip_ids: list[str], embodiment: str) -> pd.DataFrame:
    """Mean retargeting residual (metres) per clip and hand, for one embodiment (never mixed across hands)."""
    sql = """
        SELECT clip_id, hand, avg(residual) AS residual_m FROM retargets
        WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) AND embodiment = ? AND residual IS NOT NULL
        GROUP BY clip_id, hand
    """
    return fetch_df(engine, sql, [clip_ids, embodiment])


def retarget_quality(engine: QueryEngine, clip_ids: list[str]) -> pd.DataFrame:
    """Per clip, embodiment and hand with a solution: frames, mean residual and fingertip error (mm), the
    joint vector's width, and the clip's task and task_slug."""
    sql = """
        SELECT r.clip_id, r.embodiment, r.hand, count(r.q_rad) AS frames,
               avg(r.residual) * 1000.0 AS retarget_residual_mm, avg(r.fingertip_error) * 1000.0 AS fingertip_error_mm,
               max(len(r.q_rad)) AS width, any_value(c.task) AS task, any_value(c.task_slug) AS task_slug
        FROM retargets r JOIN clips c USING (clip_id)
        WHERE r.clip_id IN (SELECT unnest(?::VARCHAR[]))
        GROUP BY r.clip_id, r.embodiment, r.hand HAVING count(r.q_rad) > 0
        ORDER BY r.clip_id, r.embodiment, r.hand
    """
    return fetch_df(engine, sql, [list(clip_ids)])


def scored_retarget_metrics(engine: QueryEngine) -> pd.DataFrame:
    """Every `retarget_metrics` row with its task group (task_slug, else task): what embodiment rules check."""
    sql = """SELECT *, coalesce(task_slug, task) AS task_group FROM retarget_metrics
             ORDER BY clip_id, embodiment, hand"""
    return fetch_df(engine, sql)


def retarget_rows(engine: QueryEngine, clip_ids: list[str], embodiment: str) -> pa.Table:
    """Retargeted joints and wrist poses of some clips for one embodiment, by clip, hand, frame (Arrow)."""
    sql = """
        SELECT clip_id, frame_index, hand, q_rad, wrist_pose FROM retargets
        WHERE embodiment = ? AND clip_id IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY clip_id, hand, frame_index
    """
    return fetch_arrow(engine, sql, [embodiment, list(clip_ids)])
