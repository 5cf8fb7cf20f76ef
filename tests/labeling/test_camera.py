"""Camera model, PnP placement of hands, wrist frames and rigid alignment, by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from labeling.pose.camera import (
    CameraIntrinsics,
    compute_aligned_error_m,
    compute_camera_keypoints,
    compute_chirality,
    compute_wrist_pose,
    match_chirality,
)


@pytest.fixture(scope="module")
def hand_shapes_m(shared_data) -> np.ndarray:
    """Real hand shapes: MediaPipe world keypoints of the dex-retargeting clip, (621, 21, 3) metres."""
    return np.load(shared_data / "hand_keypoints" / "dexretargeting_human_joint_right.npz")["keypoints"]


def test_intrinsics_from_the_clip_or_an_assumed_fov():
    assumed = CameraIntrinsics.for_clip(None, None, None, None, 1280, 720, assumed_hfov_deg=90.0)
    assert assumed.source == "assumed" and assumed.fx_px == pytest.approx(640.0)
    assert (assumed.cx_px, assumed.cy_px) == (640.0, 360.0)
    assert "90 deg" in assumed.note()["text"]
    egodex = CameraIntrinsics.for_clip(736.6339, 736.6339, 960.0, 540.0, 1920, 1080)
    assert egodex.source == "clip" and egodex.hfov_deg == pytest.approx(105.0, abs=0.5)
    assert CameraIntrinsics.for_clip(math.nan, 700.0, 960.0, 540.0, 1920, 1080).source == "assumed"
    with pytest.raises(ValueError, match="fx_px"):
        CameraIntrinsics(0.0, 1.0, 0.0, 0.0, 10, 10, "clip", 60.0)
    with pytest.raises(ValueError, match="hfov_deg"):
        CameraIntrinsics.from_hfov(100, 100, 180.0)


def test_pnp_recovers_a_projected_hand(hand_shapes_m):
    camera = CameraIntrinsics.from_hfov(1280, 720, 70.0)
    rng = np.random.default_rng(0)
    world = hand_shapes_m[::60].astype(np.float64)  # 11 different poses
    rotations = Rotation.random(len(world), random_state=1).as_matrix()
    translations = np.column_stack([rng.uniform(-0.1, 0.1, (len(world), 2)), rng.uniform(0.3, 0.8, len(world))])
    truth = np.einsum("nij,nkj->nki", rotations, world) + translations[:, None]
    pixels = truth[..., :2] / truth[..., 2:] * [camera.fx_px, camera.fy_px] + [camera.cx_px, camera.cy_px]
    fit = compute_camera_keypoints(pixels, world, camera)
    np.testing.assert_allclose(fit.kp3d_m, truth, atol=2e-4)
    assert np.nanmax(fit.reprojection_px) < 0.01


def test_pnp_leaves_unusable_hands_nan(hand_shapes_m):
    camera = CameraIntrinsics.from_hfov(640, 480)
    pixels = np.full((2, 21, 2), 320.0)
    pixels[0, 3] = np.nan
    fit = compute_camera_keypoints(pixels, hand_shapes_m[:2], camera)
    assert np.isnan(fit.kp3d_m[0]).all()
    with pytest.raises(ValueError, match="shapes"):
        compute_camera_keypoints(pixels[:, :20], hand_shapes_m[:2], camera)


def test_wrist_frames_are_rotations_and_mirror_between_hands(hand_shapes_m):
    right = hand_shapes_m[:50].astype(np.float64)
    pose = compute_wrist_pose(right, "right")
    rotation = pose[:, :3, :3].astype(np.float64)
    np.testing.assert_allclose(rotation @ rotation.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (50, 3, 3)),
                               atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(rotation), 1.0, atol=1e-5)
    np.testing.assert_allclose(pose[:, :3, 3], right[:, 0], atol=1e-6)
    # A left hand is the mirror image of a right one: x (to the knuckles) and z (out of the back
    # of the hand) mirror, y (across the knuckles) turns from the thumb to the little finger.
    mirror = np.diag([-1.0, 1.0, 1.0])
    left_pose = compute_wrist_pose(right @ mirror, "left")
    np.testing.assert_allclose(left_pose[:, :3, :3], mirror @ rotation @ np.diag([1.0, -1.0, 1.0]), atol=1e-5)
    with pytest.raises(ValueError, match="hand"):
        compute_wrist_pose(right, "both")


def test_rigid_alignment_ignores_pose_but_not_shape(hand_shapes_m):
    shapes = hand_shapes_m[:20].astype(np.float64)
    rotations = Rotation.random(20, random_state=2).as_matrix()
    moved = np.einsum("nij,nkj->nki", rotations, shapes) + np.array([0.3, -0.2, 1.0])
    np.testing.assert_allclose(compute_aligned_error_m(moved, shapes), 0.0, atol=1e-9)
    scaled = compute_aligned_error_m(shapes * 1.1, shapes)
    assert (scaled > 0.002).all(), "scaling is not aligned away"
    mirrored = compute_aligned_error_m(shapes * [-1.0, 1.0, 1.0], shapes)
    assert (mirrored > 0.005).all(), "a reflection is not a rigid motion"
    with_nan = shapes.copy()
    with_nan[0, 0, 0] = np.nan
    assert np.isnan(compute_aligned_error_m(with_nan, shapes)[0])


def test_chirality_tells_a_hand_from_its_mirror_image_and_match_undoes_the_mirror(hand_shapes_m):
    right = hand_shapes_m[::20]
    rotated = right @ Rotation.random(random_state=1).as_matrix().T
    mirrored = right * np.array([1.0, 1.0, -1.0])  # the depth flip MediaPipe sometimes makes
    assert (compute_chirality(right) == 1).all() and (compute_chirality(rotated) == 1).all()
    assert (compute_chirality(mirrored) == -1).all()
    sides = ["right"] * len(right)
    fixed, flipped = match_chirality(mirrored, sides)
    assert flipped.all()
    np.testing.assert_allclose(fixed, right, atol=1e-7)
    kept, flipped = match_chirality(right, sides)
    assert not flipped.any() and np.array_equal(kept, right.astype(np.float32))
    assert match_chirality(right, ["left"] * len(right))[1].all()
    assert compute_chirality(np.full((1, 21, 3), np.nan))[0] == 0  # undefined, never flipped
