"""The cut rules, segment → subtask arithmetic and LeRobot 0.6 stats, on arrays built by hand (#16)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curation.action_layout import STATE_WIDTH
from curation.export_cuts import (
    Cut,
    absent_cuts,
    flag_cuts,
    idle_end_cuts,
    kept_pieces,
    merged_cuts,
    remap_path,
    tracked_hands,
)
from curation.export_episodes import ImageStats, aggregate_stats, vector_stats
from curation.export_language import annotation_indices, persistent_rows, piece_subtasks


def test_a_cut_splits_when_both_pieces_are_long_enough_else_the_longer_stays():
    flag = [Cut(10, 30, "flag", 1)]
    assert kept_pieces(100, flag, 10) == ([(0, 10), (30, 100)], [])
    pieces, dropped = kept_pieces(100, flag, 30)
    assert pieces == [(30, 100)] and dropped == [Cut(0, 10, "short")]
    assert kept_pieces(40, flag, 30)[0] == [(0, 10)]  # neither is long enough: the longer one
    assert kept_pieces(40, [Cut(0, 40, "flag", 1)], 1) == ([], [])  # all cut: nothing
    assert kept_pieces(50, [], 30) == ([(0, 50)], [])


def test_flag_cuts_are_inclusive_clamped_and_skip_whole_clip_flags():
    flags = [{"id": 1, "frame_start": 10, "frame_end": 29}, {"id": 2, "frame_start": None, "frame_end": None},
             {"id": 3, "frame_start": 90, "frame_end": 200}, {"id": 4, "frame_start": float("nan"), "frame_end": 1}]
    assert flag_cuts(flags, 100) == [Cut(10, 30, "flag", 1), Cut(90, 100, "flag", 3)]


def test_idle_ends_are_the_still_frames_at_each_end():
    state = np.zeros((20, STATE_WIDTH))
    state[5:15, 0] = np.arange(10) * 0.01  # the left wrist moves 0.3 m/s from frame 6 to 14 at 30 fps
    state[15:, 0] = state[14, 0]
    assert idle_end_cuts(state, 30.0, 0.02) == [Cut(0, 6, "idle"), Cut(15, 20, "idle")]
    assert idle_end_cuts(np.zeros((4, STATE_WIDTH)), 30.0, 0.02) == [Cut(0, 4, "idle")]


def test_absent_cuts_count_only_hands_the_clip_tracks():
    tracked = np.array([[1, 0], [0, 0], [1, 0], [1, 0], [0, 0]], bool)  # the right hand is never seen
    assert absent_cuts(tracked) == [Cut(1, 2, "absent"), Cut(4, 5, "absent")]
    assert absent_cuts(np.zeros((3, 2), bool)) == []
    rows = pa.table({"hand": ["left", "left", "right"], "frame_index": [0, 2, 1],
                     "q_rad": [[0.0] * 22, None, [0.0] * 22], "wrist_pose": [[0.0] * 9, [0.0] * 9, [0.0] * 9]})
    assert tracked_hands(rows, 3).tolist() == [[True, False], [False, True], [False, False]]


def test_overlapping_cuts_count_each_frame_once_for_the_first_reason():
    merged = merged_cuts([Cut(0, 15, "idle"), Cut(10, 30, "flag", 7), Cut(25, 40, "absent")], 50)
    assert merged == [Cut(0, 10, "idle"), Cut(10, 30, "flag", 7), Cut(30, 40, "absent")]


def test_a_path_keeps_its_steps_on_kept_frames_in_each_episodes_frames():
    path = [[0, 0], [12, 1], [35, 2], [36, 3], [80, 50]]
    parts = remap_path(path, [(0, 10), (30, 100)], [(0, 60)])
    assert parts == {(0, 0): [[0, 0]], (1, 0): [[5, 2], [6, 3], [50, 50]]}


def test_segments_inside_an_episode_in_its_frames():
    segments = [{"frame_start": 40, "frame_end": 90, "text": "grasp"},
                {"frame_start": 5, "frame_end": 12, "text": "reach"},
                {"frame_start": 40, "frame_end": 45, "text": "look"}]
    assert piece_subtasks(segments, 30, 100) == [{"start": 10, "end": 61, "text": "look; grasp"}]
    assert piece_subtasks(segments, 0, 10) == [{"start": 5, "end": 10, "text": "reach"}]
    rows = persistent_rows([{"start": 10, "end": 61, "text": "grasp"}], 30.0)
    assert rows == [{"role": "assistant", "content": "grasp", "style": "subtask", "timestamp": pytest.approx(1 / 3),
                     "camera": None, "tool_calls": None}]
    subtasks = [{"start": 2, "end": 4, "text": "a", "task_index": 5},
                {"start": 3, "end": 6, "text": "b", "task_index": 6}]
    assert annotation_indices(7, subtasks, 0).tolist() == [0, 0, 5, 6, 6, 6, 0]


def test_stats_have_lerobot_06_quantiles_and_aggregate_like_it():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 3)), rng.normal(5, 2, size=(100, 3))
    stats = vector_stats(a)
    assert set(stats) == {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}
    np.testing.assert_allclose(stats["q50"], np.median(a, axis=0))
    both = aggregate_stats([{"x": vector_stats(a)}, {"x": vector_stats(b)}])["x"]
    np.testing.assert_allclose(both["mean"], np.concatenate([a, b]).mean(0))
    np.testing.assert_allclose(both["std"], np.concatenate([a, b]).std(0))
    # LeRobot 0.6 (`aggregate_feature_stats`): quantiles are the count-weighted mean of the episodes'.
    np.testing.assert_allclose(both["q99"], (200 * np.asarray(stats["q99"]) + 100 * np.quantile(b, 0.99, 0)) / 300)


def test_image_stats_quantiles_per_channel_in_unit_range():
    image = ImageStats()
    frame = np.zeros((10, 10, 3), np.uint8)
    frame[:, :, 0] = np.arange(10)[None] * 25  # red 0..225 across the columns
    image.add(frame)
    result = image.result()
    assert np.asarray(result["q50"]).shape == (3, 1, 1)
    assert result["q50"][0][0][0] == pytest.approx(100 / 255) and result["q99"][1][0][0] == 0.0
