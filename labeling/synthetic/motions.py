"""Evaluate a `TaskScene` at arbitrary times: wrist poses, 22-DoF joint angles, keypoints, props, camera.

Times are continuous, so the same scene can be sampled on a time-warped clock (the robot episodes)
and still give the exact motion. Keypoints are forward kinematics of `egocurate_hand22` placed at
the wrist pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from labeling.hands import MEDIAPIPE21_LINKS, SIDES, hand_tree
from labeling.kinematics.fk import link_poses
from labeling.kinematics.rotations import matrix_to_rot6d

from .geometry import homogeneous, interpolate_keys, look_at_c2w, min_jerk, rot_y
from .grips import grip_q, hand_rotation, joint_limits
from .tasks import TABLE_Y_M, HandTrack, TaskScene

Array = npt.NDArray[np.float64]
METACARPAL_FRACTION = 0.3  # metacarpal joint = this far from the wrist toward the knuckle
MCP_INDICES = (5, 9, 13, 17)  # MediaPipe index, middle, ring, pinky MCP


@dataclass(frozen=True)
class CameraPath:
    """A head camera looking down at the table, swaying a little."""

    eye_m: tuple[float, float, float] = (0.0, TABLE_Y_M + 0.5, 0.03)
    target_m: tuple[float, float, float] = (0.0, TABLE_Y_M, -0.36)
    sway_m: float = 0.008  # amplitude of the head sway, per axis
    phases_rad: tuple[float, ...] = (0.0,) * 6  # per-axis sway phases (eye xyz, target xyz)

    def poses(self, t_s: Array) -> Array:
        """OpenCV camera-to-world poses `(T, 4, 4)` at times `t_s (T,)`."""
        freqs_hz = np.array([0.23, 0.31, 0.17, 0.19, 0.27, 0.13])
        wave = self.sway_m * np.sin(2 * np.pi * freqs_hz * t_s[:, None] + np.asarray(self.phases_rad))
        eye = np.asarray(self.eye_m) + wave[:, :3]
        target = np.asarray(self.target_m) + 1.5 * wave[:, 3:]
        return look_at_c2w(eye, target)


@dataclass(frozen=True)
class ClipMotion:
    """One clip's motion sampled at `t_s`; hand axis order is (left, right)."""

    t_s: Array  # (T,) seconds
    wrist_pose: Array  # (T, 2, 4, 4) world
    q_rad: Array  # (T, 2, 22) joint angles, hand_tree(side).dof_joint_names order
    keypoint_pose: Array  # (T, 2, 21, 4, 4) world pose of each MediaPipe-21 link
    metacarpal_pose: Array  # (T, 2, 4, 4, 4) index, middle, ring, little metacarpal, world
    prop_pose: Array  # (T, P, 4, 4) world pose of each prop (bottom centre)
    camera_c2w: Array  # (T, 4, 4) OpenCV camera-to-world

    @property
    def keypoints_world_m(self) -> Array:
        """`(T, 2, 21, 3)` keypoint positions in the world."""
        return self.keypoint_pose[..., :3, 3]

    def state_62(self) -> npt.NDArray[np.float32]:
        """`(T, 62)` per hand, left then right: wrist xyz (3), wrist 6D rotation (6), 22 joint angles."""
        parts = []
        for h in range(2):
            pose = self.wrist_pose[:, h]
            parts += [pose[:, :3, 3], matrix_to_rot6d(pose[:, :3, :3]), self.q_rad[:, h]]
        return np.concatenate(parts, axis=1).astype(np.float32)


def evaluate_scene(scene: TaskScene, t_s: npt.ArrayLike, camera: CameraPath, seed: int,
                   offset_m: npt.ArrayLike = (0.0, 0.0, 0.0)) -> ClipMotion:
    """Sample a scene at times `t_s (T,)`.

    `seed` fixes the small natural wobble of fingers and idle hands; `offset_m` shifts hands and
    props (not the camera).
    """
    t = np.asarray(t_s, dtype=np.float64)
    rng = np.random.default_rng(seed)
    wobble = [rng.uniform(0, 2 * np.pi, size=(3 + 22,)) for _ in SIDES]
    wrist = np.stack([_wrist_pose(track, t, wobble[h][:3]) for h, track in enumerate(scene.tracks)], 1)
    q = np.stack([_joint_angles(track, t, wobble[h][3:]) for h, track in enumerate(scene.tracks)], 1)
    keypoints, metacarpals = _hand_links(wrist, q)
    props = _prop_poses(scene, t, wobble)
    shift = np.asarray(offset_m, dtype=np.float64)
    for poses in (wrist, keypoints, metacarpals, props):
        poses[..., :3, 3] += shift
    return ClipMotion(t_s=t, wrist_pose=wrist, q_rad=q, keypoint_pose=keypoints, metacarpal_pose=metacarpals,
                      prop_pose=props, camera_c2w=camera.poses(t))


def _wrist_pose(track: HandTrack, t: Array, phases: Array) -> Array:
    """`(T, 4, 4)` world pose of a wrist from its keyframes, circles and idle sway."""
    keys_t = np.asarray(track.t_s)
    pos = interpolate_keys(t, keys_t, np.asarray(track.pos_m))
    ypr = interpolate_keys(t, keys_t, np.asarray(track.ypr_rad))
    if track.circle is not None:
        start_s, end_s, radius_m, turns = track.circle
        angle = 2 * np.pi * turns * min_jerk((t - start_s) / (end_s - start_s))
        pos = pos + radius_m * np.stack([np.sin(angle), np.zeros_like(angle), np.cos(angle) - 1.0], 1)
    if track.idle:
        freqs_hz = np.array([0.21, 0.29, 0.16])
        pos = pos + 0.005 * np.sin(2 * np.pi * freqs_hz * t[:, None] + phases)
    return homogeneous(hand_rotation(ypr[:, 0], ypr[:, 1], ypr[:, 2]), pos)


def _joint_angles(track: HandTrack, t: Array, phases: Array) -> Array:
    """`(T, 22)` joint angles: rest blended toward the track's grip shape, plus a slight wobble."""
    grip = interpolate_keys(t, np.asarray(track.t_s), np.asarray(track.grip)[:, None])
    rest, shape = grip_q(track.side, "rest"), grip_q(track.side, track.shape)
    wobble = 0.025 * np.sin(2 * np.pi * 0.35 * t[:, None] + phases)
    limits = joint_limits(track.side)
    return np.clip(rest + grip * (shape - rest) + wobble, limits[:, 0], limits[:, 1])


def _hand_links(wrist: Array, q: Array) -> tuple[Array, Array]:
    """World poses of the 21 keypoint links `(T, 2, 21, 4, 4)` and 4 metacarpals `(T, 2, 4, 4, 4)`."""
    keypoints, metacarpals = [], []
    for h, side in enumerate(SIDES):
        local = link_poses(hand_tree(side), q[:, h])
        in_world = np.stack([wrist[:, h] @ local[name] for name in MEDIAPIPE21_LINKS[side]], axis=1)
        keypoints.append(in_world)
        meta = np.repeat(wrist[:, h, None], 4, axis=1)  # wrist orientation, point toward the knuckle
        knuckles = in_world[:, list(MCP_INDICES)][..., :3, 3]
        meta[..., :3, 3] += METACARPAL_FRACTION * (knuckles - wrist[:, h, None, :3, 3])
        metacarpals.append(meta)
    return np.stack(keypoints, axis=1), np.stack(metacarpals, axis=1)


def _prop_poses(scene: TaskScene, t: Array, wobble: list[Array]) -> Array:
    """`(T, P, 4, 4)` prop poses: at rest, or carried rigidly by a hand between grasp and release."""
    out = np.empty((len(t), len(scene.props), 4, 4))
    tracks = dict(zip(SIDES, scene.tracks, strict=True))
    for p, prop in enumerate(scene.props):
        base = homogeneous(rot_y(prop.yaw_rad), np.asarray(prop.position_m))
        poses = np.broadcast_to(base, (len(t), 4, 4)).copy()
        for grab in sorted((a for a in scene.attachments if a.prop == prop.name), key=lambda a: a.t_grasp_s):
            phases = wobble[SIDES.index(grab.side)][:3]
            track = tracks[grab.side]
            ends = _wrist_pose(track, np.array([grab.t_grasp_s, grab.t_release_s]), phases)
            carry = _wrist_pose(track, t, phases) @ np.linalg.inv(ends[0]) @ base
            held = (t >= grab.t_grasp_s) & (t <= grab.t_release_s)
            poses[held] = carry[held]
            base = ends[1] @ np.linalg.inv(ends[0]) @ base
            poses[t > grab.t_release_s] = base
        out[:, p] = poses
    return out
