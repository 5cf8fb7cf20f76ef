"""Ingest of the real fixtures in ../shared/data: the counts the foundation issue names."""

from __future__ import annotations

import numpy as np
import pytest

from db.engine import QueryEngine
from labeling.sources.ingest import ingest


@pytest.fixture(scope="module")
def catalog(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("fixtures") / "root"
    inputs = [shared_data / "egodex_sample", shared_data / "videos",
              shared_data / "lerobot" / "gr00t_robot_sim.PickNPlace"]
    first = ingest(root, inputs, progress=False)
    second = ingest(root, inputs, progress=False)
    return root, first, second


def test_counts_match_the_fixtures(catalog):
    root, first, _ = catalog
    assert not first.failures
    cursor = QueryEngine(root).cursor()
    egodex = cursor.execute("SELECT n_frames FROM clips WHERE source='egodex' ORDER BY n_frames").fetchall()
    assert [n for (n,) in egodex] == [94, 120, 126]
    assert cursor.execute("SELECT n_frames, codec, fps FROM clips WHERE source='video'").fetchall() == [
        (621, "h264", 30.0)]
    robot = cursor.execute("SELECT count(*), sum(n_frames) FROM clips WHERE kind='robot'").fetchone()
    assert robot == (5, 2096)
    assert cursor.execute("SELECT count(*) FROM robot_frames").fetchone()[0] == 2096


def test_second_run_adds_nothing(catalog):
    root, first, second = catalog
    assert len(first.added) == 9
    assert second.added == [] and second.skipped == 9 and second.ok
    assert QueryEngine(root).cursor().execute("SELECT count(*) FROM clips").fetchone()[0] == 9


def test_egodex_ground_truth_poses_project_into_the_image(catalog):
    root, _, _ = catalog
    cursor = QueryEngine(root).cursor()
    rows = cursor.execute("""
        SELECT f.kp2d_px, f.kp3d_m, c.width, c.height, c.task FROM frames f JOIN clips c USING (clip_id)
        WHERE c.source = 'egodex' AND f.pose_source = 'egodex' AND f.present""").fetchall()
    assert len(rows) == 2 * (94 + 120 + 126)
    kp2d = np.array([r[0] for r in rows], dtype=np.float32)
    kp3d = np.array([r[1] for r in rows], dtype=np.float32)
    assert (kp3d[..., 2] > 0.1).all(), "hands are in front of the camera"
    inside = (kp2d[..., 0] >= 0) & (kp2d[..., 0] < 1920) & (kp2d[..., 1] >= 0) & (kp2d[..., 1] < 1080)
    assert inside.mean() > 0.8
    bone = np.linalg.norm(kp3d[:, 9] - kp3d[:, 0], axis=-1)  # wrist to middle MCP
    assert 0.06 < np.median(bone) < 0.12
    tasks = {r[4] for r in rows}
    assert "Pick up a black stapler from the metal table and place it in the box lid." in tasks


def test_lerobot_episodes_keep_task_vectors_and_video_time(catalog):
    root, _, _ = catalog
    cursor = QueryEngine(root).cursor()
    clip = cursor.execute("""SELECT clip_id, task, video_key, fps, n_frames, video_to_s, path
                             FROM clips WHERE kind='robot' AND episode_index = 0""").fetchone()
    clip_id, task, video_key, fps, n_frames, to_s, path = clip
    assert task == "pick the pear from the counter and place it in the plate"
    assert video_key == "observation.images.ego_view"  # the declared 'egoview' has no files
    assert path.endswith("episode_000000.mp4") and to_s == pytest.approx(n_frames / fps)
    frames = cursor.execute("""SELECT frame_index, timestamp_s, source_timestamp_s, len(state), len(action)
                               FROM robot_frames WHERE clip_id = ? ORDER BY frame_index""", [clip_id]).fetchall()
    assert frames[0] == (0, 0.0, pytest.approx(0.05), 44, 44)
    assert frames[-1][1] == pytest.approx((n_frames - 1) / fps)
