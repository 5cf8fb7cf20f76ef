"""Queries over the per-frame views: `frames` (hand poses of human clips) and `robot_frames`.

One clip's hands for the viewer and the stages, hand frames of many clips for scoring and
retargeting (Arrow, keypoints nested), pose coverage for the Overview page, and robot episodes'
state and action vectors.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from db.engine import QueryEngine

from .door import fetch_all, fetch_arrow, fetch_df


def clip_frames(engine: QueryEngine, clip_id: str, pose_source: str | None = None) -> pd.DataFrame:
    """All hand rows of one clip (both hands, every pose source unless one is named)."""
    sql = "SELECT * FROM frames WHERE clip_id = ? AND (? IS NULL OR pose_source = ?) ORDER BY frame_index, hand"
    return fetch_df(engine, sql, [clip_id, pose_source, pose_source])


def clip_pose_sources(engine: QueryEngine, clip_id: str) -> list[str]:
    """The pose sources that have rows for a clip, sorted."""
    sql = "SELECT DISTINCT pose_source FROM frames WHERE clip_id = ? ORDER BY pose_source"
    return [row[0] for row in fetch_all(engine, sql, [clip_id])]


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
    return fetch_df(engine, sql, [clip_id, list(pose_sources)])


def hand_frames(engine: QueryEngine, clip_ids: list[str], pose_source: str) -> pa.Table:
    """Frames of some clips from one pose source, sorted by clip, hand, frame (Arrow, keypoints nested)."""
    sql = """
        SELECT clip_id, frame_index, hand, present, score, kp2d_px, kp3d_m FROM frames
        WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) AND pose_source = ?
        ORDER BY clip_id, hand, frame_index
    """
    return fetch_arrow(engine, sql, [clip_ids, pose_source])


def clips_with_pose(engine: QueryEngine, clip_ids: list[str] | tuple[str, ...], pose_source: str) -> set[str]:
    """Which of `clip_ids` already have frames from `pose_source`."""
    sql = """SELECT DISTINCT clip_id FROM frames
             WHERE pose_source = ? AND clip_id IN (SELECT unnest(?::VARCHAR[]))"""
    return {row[0] for row in fetch_all(engine, sql, [pose_source, list(clip_ids)])}


def pose_coverage(engine: QueryEngine) -> pd.DataFrame:
    """Per pose source: clips with poses and the fraction of hand-frames where a hand is present."""
    sql = """
        SELECT pose_source, count(DISTINCT clip_id) AS clips, count(*) AS hand_frames,
               avg(present::INT) AS present_fraction
        FROM frames GROUP BY pose_source ORDER BY pose_source
    """
    return fetch_df(engine, sql)


def pose_coverage_by_hand(engine: QueryEngine) -> pd.DataFrame:
    """Per pose source and hand: clips with poses, hand-frames, and the fraction present."""
    sql = """
        SELECT pose_source, hand, count(DISTINCT clip_id) AS clips, count(*) AS hand_frames,
               avg(present::INT) AS present_fraction, avg(score) FILTER (WHERE present) AS mean_score
        FROM frames GROUP BY ALL ORDER BY pose_source, hand
    """
    return fetch_df(engine, sql)


# --- Robot episodes ---------------------------------------------------------------------------------

def clip_robot_frames(engine: QueryEngine, clip_id: str) -> pd.DataFrame:
    sql = "SELECT * FROM robot_frames WHERE clip_id = ? ORDER BY frame_index"
    return fetch_df(engine, sql, [clip_id])


def robot_state_rows(engine: QueryEngine, clip_ids: list[str]) -> pa.Table:
    """State and action vectors of some robot episodes, by clip and frame (Arrow)."""
    sql = """
        SELECT clip_id, frame_index, state, action FROM robot_frames
        WHERE clip_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY clip_id, frame_index
    """
    return fetch_arrow(engine, sql, [list(clip_ids)])
