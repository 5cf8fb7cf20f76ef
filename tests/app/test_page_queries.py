"""The db.queries functions the pages call, on the ingested fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from db import queries
from db.engine import query_engine


def test_clip_page_counts_pages_and_clamps(app_root: Path):
    engine = query_engine(app_root)
    page = queries.clip_page(engine, queries.ClipFilter(), "duration_s", True, page=0, page_size=4)
    assert (page.total, page.n_pages, len(page.rows)) == (9, 3, 4)
    assert list(page.rows["duration_s"]) == sorted(page.rows["duration_s"], reverse=True)
    last = queries.clip_page(engine, queries.ClipFilter(), "duration_s", True, page=99, page_size=4)
    assert last.page == 2 and len(last.rows) == 1
    empty = queries.clip_page(engine, queries.ClipFilter(task_contains="nothing like this"))
    assert (empty.total, empty.page, empty.n_pages) == (0, 0, 1)
    with pytest.raises(ValueError):
        queries.clip_page(engine, page_size=0)


def test_filters_are_bound_not_formatted(app_root: Path):
    engine = query_engine(app_root)
    hostile = queries.ClipFilter(task_contains="'; DROP TABLE clips; --")
    assert queries.count_clips(engine, hostile) == 0
    assert queries.count_clips(engine) == 9


def test_facets_and_totals(app_root: Path):
    engine = query_engine(app_root)
    facets = queries.clip_facets(engine)
    assert facets == queries.ClipFacets(9, ("human", "robot"), ("egodex", "lerobot", "video"), 23.5)
    totals = queries.catalog_totals(engine)
    assert (totals.clips, totals.human_clips, totals.robot_clips, totals.clips_with_poses) == (9, 4, 5, 3)
    assert totals.robot_hours == pytest.approx(2096 / 20 / 3600)
    assert set(queries.clip_totals(engine, "source")["source"]) == {"egodex", "lerobot", "video"}
    with pytest.raises(ValueError):
        queries.clip_totals(engine, "path; DROP")
    assert len(queries.task_totals(engine, limit=2)) == 2
    coverage = queries.pose_coverage_by_hand(engine)
    assert list(coverage["hand"]) == ["left", "right"] and set(coverage["clips"]) == {3}


def test_neighbours_follow_filter_and_order(app_root: Path):
    engine = query_engine(app_root)
    spec = queries.ClipFilter(kinds=("robot",))
    ids = list(queries.list_clips(engine, spec, "clip_id")["clip_id"])
    assert queries.clip_neighbours(engine, ids[0], spec) == (None, ids[1])
    assert queries.clip_neighbours(engine, ids[2], spec) == (ids[1], ids[3])
    assert queries.clip_neighbours(engine, ids[2], spec, descending=True) == (ids[3], ids[1])
    assert queries.clip_neighbours(engine, "not-there", spec) == (None, None)


def test_pose_track_is_compact(app_root: Path, egodex_clip: dict):
    engine = query_engine(app_root)
    assert queries.clip_pose_sources(engine, egodex_clip["clip_id"]) == ["egodex"]
    track = queries.clip_pose_track(engine, egodex_clip["clip_id"], ["egodex"])
    assert len(track) == 2 * 126 and set(track["hand"]) == {"left", "right"}
    assert all(len(kp) == 42 for kp in track["kp"])
    assert queries.clip_pose_track(engine, egodex_clip["clip_id"], ["mediapipe"]).empty


def test_public_columns_list_the_views(app_root: Path):
    columns = queries.public_columns(query_engine(app_root))
    assert {"clips", "frames", "robot_frames", "flags"} <= set(columns["view"])
    assert "kp2d_px" in set(columns[columns["view"] == "frames"]["column"])
