"""The retargeting stage on a real EgoDex clip: rows in the DuckDB `retargets` view, resumability,
wrist frames, absent hands, and the robot hand overlay the viewer draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from db.engine import query_engine
from db.queries.frames import hand_frames
from db.queries.retargets import clip_retargets, retarget_embodiments
from labeling.hands import MEDIAPIPE21_LINKS
from labeling.kinematics.rotations import matrix_to_rot6d, rot6d_to_matrix
from labeling.retarget.config import ConfigError
from labeling.retarget.overlay import robot_keypoints_camera, robot_overlay
from labeling.retarget.registry import hand_configs, resolve_embodiment
from labeling.retarget.stage import compute_retargets, run_retarget
from labeling.retarget.wrist import compute_wrist_frames
from labeling.sources.ingest import ingest


@pytest.fixture(scope="module")
def lid_root(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, str, Path]:
    """A data root with the EgoDex `add_remove_lid` clip (94 frames, both hands) retargeted to the built-in hand."""
    root = tmp_path_factory.mktemp("retarget") / "root"
    report = ingest(root, [shared_data / "egodex_sample" / "add_remove_lid"], progress=False)
    (clip_id,) = report.added
    retarget = run_retarget(root, "egocurate_hand22", progress=False)
    assert retarget.ok and sorted(retarget.done) == [(clip_id, "left"), (clip_id, "right")]
    assert retarget.frames == 2 * 94 and not retarget.failures
    return root, clip_id, shared_data


def test_stage_writes_the_retargets_view(lid_root: tuple[Path, str, Path]) -> None:
    root, clip_id, _ = lid_root
    cursor = query_engine(root).cursor()
    rows = cursor.execute("""SELECT hand, count(*), min(len(q_rad)), max(len(q_rad)), avg(residual), max(residual)
                             FROM retargets WHERE clip_id = ? AND embodiment = 'egocurate_hand22'
                             GROUP BY hand ORDER BY hand""", [clip_id]).fetchall()
    assert [r[:4] for r in rows] == [("left", 94, 22, 22), ("right", 94, 22, 22)]
    assert all(r[4] < 0.008 and r[5] < 0.02 for r in rows), rows  # mean bone-vector error under 8 mm
    summary = retarget_embodiments(query_engine(root), clip_id)
    assert summary["frames"].tolist() == [94, 94]


def test_rerun_skips_what_is_there(lid_root: tuple[Path, str, Path]) -> None:
    root, clip_id, _ = lid_root
    again = run_retarget(root, "egocurate_hand22", clip_ids=[clip_id, "no-such-clip"], progress=False)
    assert again.done == [] and sorted(again.skipped) == [(clip_id, "left"), (clip_id, "right")]
    assert [f.clip_id for f in again.failures] == ["no-such-clip"] and again.ok
    count = query_engine(root).cursor().execute("SELECT count(*) FROM retargets").fetchone()[0]
    assert count == 2 * 94


def test_wrist_pose_places_the_robot_on_the_human_wrist(lid_root: tuple[Path, str, Path]) -> None:
    root, clip_id, _ = lid_root
    engine = query_engine(root)
    human = hand_frames(engine, [clip_id], "egodex").to_pandas()
    for hand in ("left", "right"):
        wrist_cam = np.stack([np.stack(k)[0] for k in human[human.hand == hand].kp3d_m])
        overlay = robot_overlay(root, clip_id, hand, "egocurate_hand22")
        assert overlay.link_names == MEDIAPIPE21_LINKS[hand] and overlay.xyz_m.shape == (94, 21, 3)
        np.testing.assert_allclose(overlay.xyz_m[:, 0], wrist_cam, atol=1e-5)
        fingertips = np.stack([np.stack(k)[[4, 8, 12, 16, 20]] for k in human[human.hand == hand].kp3d_m])
        assert np.linalg.norm(overlay.xyz_m[:, [4, 8, 12, 16, 20]] - fingertips, axis=-1).mean() < 0.02
        rows = clip_retargets(engine, clip_id, hand, "egocurate_hand22")
        rot = rot6d_to_matrix(np.stack(rows.wrist_pose.to_list())[:, 3:])
        np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rot.shape), atol=1e-5)
    np.testing.assert_array_equal(robot_keypoints_camera(root, clip_id, "left", "egocurate_hand22"),
                                  robot_overlay(root, clip_id, "left", "egocurate_hand22").xyz_m)


def test_g1_dex3_from_shared_configs(lid_root: tuple[Path, str, Path]) -> None:
    root, clip_id, shared_data = lid_root
    report = run_retarget(root, "g1_dex3", config_dir=shared_data / "retargeting_configs",
                          urdf_dir=shared_data / "urdf", progress=False)
    assert sorted(report.done) == [(clip_id, "left"), (clip_id, "right")]
    rows = clip_retargets(query_engine(root), clip_id, "right", "g1_dex3")
    assert len(rows) == 94 and {len(q) for q in rows.q_rad} == {7} and rows.residual.max() < 0.06
    overlay = robot_overlay(root, clip_id, "right", "g1_dex3")
    assert "thumb_tip" in overlay.link_names and overlay.edges and np.isfinite(overlay.xyz_m).all()
    with pytest.raises(LookupError, match="no retargets"):
        robot_overlay(root, clip_id, "right", "allegro")


def test_wrist_frames_match_dex_retargeting(shared_data: Path) -> None:
    mano = np.load(shared_data / "hand_keypoints" / "dexretargeting_human_joint_right.npz")["keypoints"]
    rot, again = compute_wrist_frames(mano, "right")  # already in dex-retargeting's frame: identity
    np.testing.assert_allclose(rot, np.broadcast_to(np.eye(3), rot.shape), atol=1e-5)
    np.testing.assert_allclose(again, mano, atol=1e-6)
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    camera = mano @ turn.T + np.array([0.1, 0.2, 0.5])
    rot, again = compute_wrist_frames(camera, "right")  # any rigid motion gives the same wrist-frame points
    np.testing.assert_allclose(again, mano, atol=1e-6)
    mirrored = mano * np.array([1.0, -1.0, 1.0])  # the mirror image is a left hand, in its MANO frame already
    rot, again = compute_wrist_frames(mirrored, "left")  # (x out of the palm, y toward the little finger)
    np.testing.assert_allclose(rot, np.broadcast_to(np.eye(3), rot.shape), atol=1e-5)
    np.testing.assert_allclose(again, mirrored, atol=1e-6)
    np.testing.assert_allclose(rot6d_to_matrix(matrix_to_rot6d(rot)), rot, atol=1e-9)


def test_absent_frames_keep_null_rows(shared_data: Path) -> None:
    retargeter = hand_configs("egocurate_hand22", sides=("right",))["right"].build("cpu")
    mano = np.load(shared_data / "hand_keypoints" / "dexretargeting_human_joint_right.npz")["keypoints"][:30]
    keypoints = mano + np.array([0.0, 0.0, 0.4])
    present = np.ones(30, bool)
    present[10:14] = False
    keypoints[12] = np.nan
    solved = compute_retargets(keypoints, present, "right", retargeter)
    assert np.isnan(solved["q_rad"][10:14]).all() and np.isnan(solved["residual"][10:14]).all()
    assert np.isfinite(solved["q_rad"][present]).all() and np.isfinite(solved["wrist_pose"][present]).all()
    nothing = compute_retargets(keypoints, np.zeros(30, bool), "right", retargeter)
    assert np.isnan(nothing["q_rad"]).all() and nothing["solve_s"] == 0.0


def test_hands_by_name_or_file(shared_data: Path) -> None:
    config = shared_data / "retargeting_configs" / "dex-retargeting" / "teleop" / "allegro_hand_left.yml"
    embodiment = resolve_embodiment(config, urdf_dir=shared_data / "urdf")
    assert embodiment.name == "allegro_hand" and set(embodiment.configs) == {"left", "right"}
    with pytest.raises(ConfigError, match="unknown hand 'robotiq'"):
        resolve_embodiment("robotiq")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_embodiment(shared_data / "nope_right.yml")


def test_worker_processes_give_the_same_rows(lid_root: tuple[Path, str, Path], tmp_path: Path) -> None:
    _, clip_id, shared_data = lid_root
    root = tmp_path / "root"
    ingest(root, [shared_data / "egodex_sample" / "add_remove_lid"], progress=False)
    report = run_retarget(root, "egocurate_hand22", progress=False, workers=2)
    assert sorted(report.done) == [(clip_id, "left"), (clip_id, "right")] and not report.failures
    ours = clip_retargets(query_engine(root), clip_id, "right", "egocurate_hand22")
    reference = clip_retargets(query_engine(lid_root[0]), clip_id, "right", "egocurate_hand22")
    np.testing.assert_allclose(np.stack(ours.q_rad.to_list()), np.stack(reference.q_rad.to_list()), atol=1e-5)


@pytest.mark.parametrize("side", ["left", "right"])
def test_wrist_pose_is_the_robot_root_pose_that_made_the_keypoints(side: str) -> None:
    """Keypoints from the built-in hand's own FK at a known camera pose give back that pose.

    The human wrist frame is estimated from the wrist, index MCP and middle MCP; the model's palm
    arches, so the config's nominal `input_rotation` alone is off by ~6° (`palm_rotation` corrects it).
    """
    import torch
    from scipy.spatial.transform import Rotation

    retargeter = hand_configs("egocurate_hand22", sides=(side,))[side].build(device="cpu")
    rng = np.random.default_rng(3)
    lower, upper = retargeter.target_limits[:, 0], retargeter.target_limits[:, 1]
    x = lower + rng.uniform(0.1, 0.6, size=(12, len(lower))) * (upper - lower)
    q = retargeter.full_q(torch.as_tensor(x, dtype=retargeter.dtype)).numpy()
    rot_cam_root = Rotation.random(12, random_state=4).as_matrix()
    origin = rng.uniform(-0.2, 0.2, size=(12, 3)) + [0, 0, 0.5]
    points_root = retargeter.link_positions(q, MEDIAPIPE21_LINKS[side])
    points_cam = np.einsum("tij,tkj->tki", rot_cam_root, points_root) + origin[:, None]
    solved = compute_retargets(points_cam, np.ones(12, bool), side, retargeter)
    error_deg = np.degrees(Rotation.from_matrix(
        rot6d_to_matrix(solved["wrist_pose"][:, 3:]).transpose(0, 2, 1) @ rot_cam_root).magnitude())
    assert error_deg.max() < 0.5, error_deg
    np.testing.assert_allclose(solved["wrist_pose"][:, :3], origin, atol=2e-3)
