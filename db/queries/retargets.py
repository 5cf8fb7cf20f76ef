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


def retarget_residuals(engine: QueryEngine, clip_ids: list[str]) -> pd.DataFrame:
    """Mean retargeting residual (metres) per clip and hand, over every embodiment retargeted."""
    sql = """
        SELECT clip_id, hand, avg(residual) AS residual_m FROM retargets
        WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) AND residual IS NOT NULL
        GROUP BY clip_id, hand
    """
    return fetch_df(engine, sql, [clip_ids])


def retarget_rows(engine: QueryEngine, clip_ids: list[str], embodiment: str) -> pa.Table:
    """Retargeted joints and wrist poses of some clips for one embodiment, by clip, hand, frame (Arrow)."""
    sql = """
        SELECT clip_id, frame_index, hand, q_rad, wrist_pose FROM retargets
        WHERE embodiment = ? AND clip_id IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY clip_id, hand, frame_index
    """
    return fetch_arrow(engine, sql, [embodiment, list(clip_ids)])
