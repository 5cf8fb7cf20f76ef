"""Factories for curation tests: two rigid synthetic hands moving smoothly, written as real lake clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from curation.noise import Injection, PoseClip, Poses, inject, write_pose_clips

FPS = 30.0
INTRINSICS = (500.0, 500.0, 320.0, 240.0)  # fx, fy, cx, cy of a 640x480 camera


def hand_template_m(side: str) -> np.ndarray:
    """(21, 3) MediaPipe-21 keypoints of a flat-ish hand in its own frame, thumb on the anatomical side."""
    points = np.zeros((21, 3))
    finger_x = {1: 0.03, 5: 0.022, 9: 0.0, 13: -0.02, 17: -0.038}
    for base, x in finger_x.items():
        thumb = base == 1
        for k in range(4):
            # Thumb joints sit off the palm plane (z), the fingers curl a little toward the palm.
            points[base + k] = [x + (0.02 * k if thumb else 0.0), 0.03 + (0.025 if not thumb else 0.0) + 0.025 * k,
                                0.015 + 0.004 * k if thumb else -0.003 * k]
    if side == "left":
        points[:, 0] *= -1  # a mirror image: the thumb ends up on the other side of the palm
    return points


def two_hand_poses(n_frames: int = 90, seed: int = 0) -> Poses:
    """Both hands moving smoothly (slow sway + rotation) 40 cm in front of the camera, always tracked."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / FPS
    kp3d = np.zeros((n_frames, 2, 21, 3), np.float32)
    for h, side in enumerate(("left", "right")):
        phase = rng.uniform(0, 2 * np.pi)
        centre = np.stack([(-0.12 if side == "left" else 0.12) + 0.05 * np.sin(1.3 * t + phase),
                           0.03 * np.cos(0.9 * t + phase), 0.4 + 0.02 * np.sin(0.7 * t)], axis=1)
        angle = 0.4 * np.sin(0.8 * t + phase)
        c, s = np.cos(angle), np.sin(angle)
        rotation = np.zeros((n_frames, 3, 3))
        rotation[:, 0, 0], rotation[:, 0, 1], rotation[:, 1, 0], rotation[:, 1, 1] = c, -s, s, c
        rotation[:, 2, 2] = 1.0
        kp3d[:, h] = np.einsum("tij,kj->tki", rotation, hand_template_m(side)) + centre[:, None, :]
    fx, fy, cx, cy = INTRINSICS
    kp2d = np.stack([fx * kp3d[..., 0] / kp3d[..., 2] + cx, fy * kp3d[..., 1] / kp3d[..., 2] + cy], axis=-1)
    present = np.ones((n_frames, 2), bool)
    score = np.full((n_frames, 2), 0.9, np.float32)
    return Poses(kp3d, kp2d.astype(np.float32), present, score, INTRINSICS)


def pose_clip(clip_id: str, task: str = "wave", n_frames: int = 90, seed: int = 0,
              injection: Injection | None = None) -> PoseClip:
    poses = two_hand_poses(n_frames, seed)
    if injection is not None:
        poses = inject(poses, injection, np.random.default_rng(seed + 1000))
    return PoseClip(clip_id, task, poses, fps=FPS, width=640, height=480)


@pytest.fixture
def noisy_catalog(root: Path) -> dict[str, Injection | None]:
    """A root with 3 tasks x 10 clips; three clips carry known noise. Returns clip_id -> injection."""
    plan: dict[str, Injection | None] = {}
    for task in ("wave", "pour", "wipe"):
        for i in range(10):
            plan[f"{task}-{i}"] = None
    plan["wave-3"] = Injection("jitter", "left", 20, 50, 8.0)
    plan["pour-5"] = Injection("dropout", "right", 30, 50)
    plan["wipe-7"] = Injection("swap", "right", 40, 60)
    clips = [pose_clip(clip_id, clip_id.split("-")[0], seed=n, injection=inj)
             for n, (clip_id, inj) in enumerate(plan.items())]
    write_pose_clips(root, clips)
    return plan

