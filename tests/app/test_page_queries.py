"""The db.queries functions the pages call, on the ingested fixtures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from db.engine import query_engine
from db.queries import clips, door, frames, views
from db.view_spec import ViewSpec


def test_clip_page_counts_pages_and_clamps(app_root: Path):
    engine = query_engine(app_root)
    by_duration = ViewSpec(order_by="duration_s", descending=True)
    page = views.clip_page(engine, by_duration, page=0, page_size=4)
    assert (page.total, page.n_pages, len(page.rows)) == (9, 3, 4)
    assert list(page.rows["duration_s"]) == sorted(page.rows["duration_s"], reverse=True)
    last = views.clip_page(engine, by_duration, page=99, page_size=4)
    assert last.page == 2 and len(last.rows) == 1
    empty = views.clip_page(engine, ViewSpec(task_contains="nothing like this"))
    assert (empty.total, empty.page, empty.n_pages) == (0, 0, 1)
    with pytest.raises(ValueError):
        views.clip_page(engine, page_size=0)


def test_filters_are_bound_not_formatted(app_root: Path):
    engine = query_engine(app_root)
    hostile = ViewSpec(task_contains="'; DROP TABLE clips; --")
    assert views.count_view(engine, hostile) == 0
    assert views.count_view(engine, ViewSpec()) == 9


def test_facets_and_totals(app_root: Path):
    engine = query_engine(app_root)
    facets = clips.clip_facets(engine)
    assert facets == clips.ClipFacets(9, ("human", "robot"), ("egodex", "lerobot", "video"), 23.5)
    totals = clips.catalog_totals(engine)
    assert (totals.clips, totals.human_clips, totals.robot_clips, totals.clips_with_poses) == (9, 4, 5, 3)
    assert totals.robot_hours == pytest.approx(2096 / 20 / 3600)
    assert set(clips.clip_totals(engine, "source")["source"]) == {"egodex", "lerobot", "video"}
    with pytest.raises(ValueError):
        clips.clip_totals(engine, "path; DROP")
    assert len(clips.task_totals(engine, limit=2)) == 2
    coverage = frames.pose_coverage_by_hand(engine)
    assert list(coverage["hand"]) == ["left", "right"] and set(coverage["clips"]) == {3}


def test_neighbours_follow_filter_and_order(app_root: Path):
    engine = query_engine(app_root)
    spec = ViewSpec(kinds=("robot",), order_by="clip_id")
    ids = list(views.list_clips(engine, spec)["clip_id"])
    assert views.clip_neighbours(engine, ids[0], spec) == (None, ids[1])
    assert views.clip_neighbours(engine, ids[2], spec) == (ids[1], ids[3])
    assert views.clip_neighbours(engine, ids[2], replace(spec, descending=True)) == (ids[3], ids[1])
    assert views.clip_neighbours(engine, "not-there", spec) == (None, None)


def test_pose_track_is_compact(app_root: Path, egodex_clip: dict):
    engine = query_engine(app_root)
    assert frames.clip_pose_sources(engine, egodex_clip["clip_id"]) == ["egodex"]
    track = frames.clip_pose_track(engine, egodex_clip["clip_id"], ["egodex"])
    assert len(track) == 2 * 126 and set(track["hand"]) == {"left", "right"}
    assert all(len(kp) == 42 for kp in track["kp"])
    assert frames.clip_pose_track(engine, egodex_clip["clip_id"], ["mediapipe"]).empty


def test_public_columns_list_the_views(app_root: Path):
    columns = door.public_columns(query_engine(app_root))
    assert {"clips", "frames", "robot_frames", "flags"} <= set(columns["view"])
    assert "kp2d_px" in set(columns[columns["view"] == "frames"]["column"])
