"""Queries over the `embodiments` and `clip_embodiments` tables: robot embodiment specs and who follows which.

The specs are written by `labeling.embodiment.store` (audited, in the annotation store); pairing,
exports, the viewer and the Pairs page read them here.
"""

from __future__ import annotations

import json

import pandas as pd

from db.engine import QueryEngine

from .door import fetch_all, fetch_df


def clip_embodiment_names(engine: QueryEngine, clip_ids: list[str]) -> dict[str, str]:
    """clip_id -> the embodiment spec name it follows, for those of `clip_ids` that have one."""
    sql = """SELECT clip_id, embodiment FROM clip_embodiments
             WHERE clip_id IN (SELECT unnest(?::VARCHAR[]))"""
    return {row[0]: row[1] for row in fetch_all(engine, sql, [list(clip_ids)])}


def embodiment_spec_json(engine: QueryEngine, name: str) -> dict | None:
    """The stored spec (EmbodimentSpec.to_dict) of one embodiment, or None."""
    rows = fetch_all(engine, "SELECT spec FROM embodiments WHERE name = ?", [name])
    return json.loads(rows[0][0]) if rows else None


def embodiment_table(engine: QueryEngine) -> pd.DataFrame:
    """Every spec with how many robot episodes follow it: name, episodes, author, updated_utc (naive UTC), version."""
    sql = """
        SELECT e.name, count(c.clip_id) AS episodes, e.author, timezone('UTC', e.updated_at) AS updated_utc, e.version
        FROM embodiments e LEFT JOIN clip_embodiments c ON c.embodiment = e.name
        GROUP BY ALL ORDER BY e.name
    """
    return fetch_df(engine, sql)


def robot_datasets(engine: QueryEngine) -> pd.DataFrame:
    """Robot datasets in the catalog: dataset, robot_type, episodes, state_names (of one episode), and the
    embodiment specs its episodes follow (comma-separated, '' for none)."""
    sql = """
        SELECT c.dataset, any_value(c.robot_type) AS robot_type, count(*) AS episodes,
               any_value(c.state_names) AS state_names,
               coalesce(string_agg(DISTINCT e.embodiment, ', '), '') AS embodiments
        FROM clips c LEFT JOIN clip_embodiments e USING (clip_id)
        WHERE c.kind = 'robot' GROUP BY c.dataset ORDER BY c.dataset
    """
    return fetch_df(engine, sql)


def dataset_robot_clips(engine: QueryEngine, dataset: str) -> pd.DataFrame:
    """The robot episodes of one dataset folder: clip_id, episode_index, state_names."""
    sql = """SELECT clip_id, episode_index, state_names FROM clips
             WHERE kind = 'robot' AND dataset = ? ORDER BY episode_index"""
    return fetch_df(engine, sql, [dataset])


def embodiment_clips(engine: QueryEngine, name: str) -> pd.DataFrame:
    """The robot episodes that follow the embodiment spec `name`: clip_id, state_names."""
    sql = """SELECT c.clip_id, c.state_names FROM clip_embodiments e JOIN clips c USING (clip_id)
             WHERE e.embodiment = ? ORDER BY c.clip_id"""
    return fetch_df(engine, sql, [name])
