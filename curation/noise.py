"""Known noise, injected into clean poses, to measure what the noisy-demo rules find.

The three kinds real hand tracking shows: `jitter` (Gaussian noise on every keypoint), `dropout`
(the hand is lost for a while) and `swap` (left and right labels exchanged). Arrays have a hand
axis `(left, right)` like `labeling.sources.base.frames_table` takes: keypoints `(T, 2, 21, D)`,
`present` and `score` `(T, 2)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from db.lake import Lake
from db.schemas import HANDS

NOISE_KINDS = ("jitter", "dropout", "swap")


@dataclass(frozen=True)
class Injection:
    """One injected problem on one hand over frames `frame_start..frame_end` (row indices, inclusive)."""

    kind: str  # jitter | dropout | swap
    hand: str  # left | right (a swap exchanges both hands; `hand` is the one reported)
    frame_start: int  # first noisy row
    frame_end: int  # last noisy row (inclusive)
    strength: float = 0.0  # jitter: noise standard deviation in mm per axis; unused otherwise

    def __post_init__(self) -> None:
        if self.kind not in NOISE_KINDS:
            raise ValueError(f"Injection.kind must be one of {NOISE_KINDS}, got {self.kind!r}")
        if self.hand not in HANDS:
            raise ValueError(f"Injection.hand must be one of {HANDS}, got {self.hand!r}")
        if not 0 <= self.frame_start <= self.frame_end:
            raise ValueError(f"Injection frames must have 0 <= start <= end, got {self.frame_start}..{self.frame_end}")


@dataclass(frozen=True)
class Poses:
    """Two hands' poses over a clip; `intrinsics` (fx, fy, cx, cy) re-project noisy 3D into pixels."""

    kp3d_m: npt.NDArray[np.float32]  # (T, 2, 21, 3)
    kp2d_px: npt.NDArray[np.float32]  # (T, 2, 21, 2)
    present: npt.NDArray[np.bool_]  # (T, 2)
    score: npt.NDArray[np.float32]  # (T, 2)
    intrinsics: tuple[float, float, float, float] | None = None


def _project(points_m: np.ndarray, intrinsics: tuple[float, float, float, float]) -> np.ndarray:
    fx, fy, cx, cy = intrinsics
    z = np.where(np.abs(points_m[..., 2]) < 1e-6, 1e-6, points_m[..., 2])
    return np.stack([fx * points_m[..., 0] / z + cx, fy * points_m[..., 1] / z + cy], axis=-1)


def inject(poses: Poses, injection: Injection, rng: np.random.Generator) -> Poses:
    """A copy of `poses` with `injection` applied (the input is not changed)."""
    kp3d, kp2d = poses.kp3d_m.copy(), poses.kp2d_px.copy()
    present, score = poses.present.copy(), poses.score.copy()
    rows = slice(injection.frame_start, injection.frame_end + 1)
    h = HANDS.index(injection.hand)
    if injection.kind == "jitter":
        noise = rng.normal(0.0, injection.strength / 1000.0, size=kp3d[rows, h].shape)
        kp3d[rows, h] += noise.astype(kp3d.dtype)
        if poses.intrinsics is not None:
            kp2d[rows, h] = _project(kp3d[rows, h].astype(np.float64), poses.intrinsics)
    elif injection.kind == "dropout":
        present[rows, h] = False
        score[rows, h] = 0.0
        kp3d[rows, h] = np.nan
        kp2d[rows, h] = np.nan
    else:
        for array in (kp3d, kp2d, present, score):
            array[rows] = array[rows][:, ::-1].copy()
    return Poses(kp3d, kp2d, present, score, poses.intrinsics)


@dataclass(frozen=True)
class PoseClip:
    """A clip made only of poses (an evaluation sample), written to the lake like an ingested one."""

    clip_id: str
    task: str
    poses: Poses
    fps: float = 30.0
    width: int = 1920
    height: int = 1080
    path: str = ""
    source: str = "evaluation"
    pose_source: str = "synthetic"


def write_pose_clips(root: Path, clips: list[PoseClip]) -> None:
    """Write `clips` rows and their `frames` in one lake commit (what the scoring stage reads)."""
    from labeling.sources.base import clip_row, frames_table

    rows = [clip_row(clip_id=c.clip_id, kind="human", source=c.source, path=c.path or f"{c.clip_id}.mp4",
                     fps=c.fps, n_frames=len(c.poses.present), duration_s=len(c.poses.present) / c.fps,
                     width=c.width, height=c.height, task=c.task, task_slug=c.task) for c in clips]
    frames = [frames_table(c.clip_id, c.fps, c.poses.kp2d_px, c.poses.kp3d_m, c.poses.present, c.poses.score,
                           c.pose_source) for c in clips]
    with Lake(root).batch(stage="evaluation") as batch:
        batch.write("clips", pa.Table.from_pylist(rows), {"source": clips[0].source})
        for pose_source in sorted({c.pose_source for c in clips}):
            chosen = [f for f, c in zip(frames, clips, strict=True) if c.pose_source == pose_source]
            batch.write("frames", pa.concat_tables(chosen), {"source": clips[0].source, "pose_source": pose_source})


def poses_from_frames(frames: pd.DataFrame, intrinsics: tuple[float, float, float, float] | None = None) -> Poses:
    """`Poses` of one clip from its `frames` rows (`db.queries.frames.clip_frames`), both hands every frame."""
    frames = frames.sort_values(["frame_index", "hand"])
    n = frames["frame_index"].nunique()

    def stack(column: str, dim: int) -> np.ndarray:
        values = np.stack([np.asarray([list(p) for p in kp], dtype=np.float32) for kp in frames[column]])
        return values.reshape(n, 2, 21, dim)

    return Poses(kp3d_m=stack("kp3d_m", 3), kp2d_px=stack("kp2d_px", 2),
                 present=frames["present"].to_numpy(bool).reshape(n, 2),
                 score=frames["score"].to_numpy(np.float32).reshape(n, 2), intrinsics=intrinsics)
