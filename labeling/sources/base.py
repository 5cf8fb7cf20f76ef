"""What every source reader shares: content ids, the item a reader yields, the frames table."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from db.schemas import CLIPS, HANDS, KP2D_TYPE, KP3D_TYPE, N_KEYPOINTS

HASH_CHUNK_BYTES = 1 << 20
CLIP_ID_HEX = 16  # 64 bits: collision odds ~1e-7 at 2.5e6 clips


class IngestError(ValueError):
    """One input that cannot be ingested; `item` names it and the message says why."""

    def __init__(self, item: Path | str, reason: str) -> None:
        super().__init__(f"{item}: {reason}")
        self.item = str(item)
        self.reason = reason


@dataclass(frozen=True)
class FileStamp:
    """Identity of a file on disk, to skip re-hashing files already catalogued."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        stat = path.stat()
        return cls(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def file_digest(path: Path) -> str:
    """BLAKE2b of the file's bytes, hex."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def make_clip_id(*parts: object) -> str:
    """A stable id from content digests (and an episode index for datasets)."""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()[:CLIP_ID_HEX]


# (file stamp, episode index or None) -> clip_id of what is already catalogued.
KnownFiles = dict[tuple[FileStamp, int | None], str]


@dataclass
class SourceItem:
    """Everything one clip contributes to the lake, built fully before anything is written."""

    clip: dict[str, object]
    frames: pa.Table | None = None
    robot_frames: pa.Table | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def clip_id(self) -> str:
        return str(self.clip["clip_id"])


def clip_row(**values: object) -> dict[str, object]:
    """A full `clips` row: unspecified columns are null, `ingested_at` is now."""
    row: dict[str, object] = {name: None for name in CLIPS.names}
    row["ingested_at"] = datetime.now(UTC)
    unknown = set(values) - set(row)
    if unknown:
        raise KeyError(f"not clips columns: {sorted(unknown)}")
    row.update(values)
    return row


def stamp_columns(stamp: FileStamp) -> dict[str, object]:
    return {"hashed_file": stamp.path, "file_size": stamp.size, "file_mtime_ns": stamp.mtime_ns}


def _nested(values: npt.NDArray[np.float32], inner: int, list_type: pa.DataType) -> pa.Array:
    flat = pa.array(np.ascontiguousarray(values, dtype=np.float32).reshape(-1))
    points = pa.FixedSizeListArray.from_arrays(flat, inner)
    return pa.FixedSizeListArray.from_arrays(points, N_KEYPOINTS).cast(list_type)


def frames_table(clip_id: str, fps: float, kp2d_px: npt.NDArray[np.float32],
                 kp3d_m: npt.NDArray[np.float32], present: npt.NDArray[np.bool_],
                 score: npt.NDArray[np.float32], pose_source: str,
                 frame_indices: npt.NDArray[np.int64] | None = None,
                 kp3d_world_m: npt.NDArray[np.float32] | None = None,
                 timestamps_s: npt.NDArray[np.float64] | None = None) -> pa.Table:
    """Build `frames` rows, one per frame and hand (left then right).

    Args:
        kp2d_px: (T, 2, 21, 2) pixels; hand axis is (left, right).
        kp3d_m: (T, 2, 21, 3) metres in the camera frame.
        present: (T, 2) whether the hand is there.
        score: (T, 2) confidence in [0, 1].
        frame_indices: (T,) video frame of each row, default 0..T-1 (a stride labels fewer).
        kp3d_world_m: (T, 2, 21, 3) estimator "world" keypoints (metres, hand-centred), or None
            for null (sources without them).
    """
    n = kp2d_px.shape[0]
    if kp2d_px.shape != (n, 2, N_KEYPOINTS, 2) or kp3d_m.shape != (n, 2, N_KEYPOINTS, 3):
        raise ValueError(f"keypoint shapes {kp2d_px.shape} / {kp3d_m.shape} are not (T,2,21,2|3)")
    if frame_indices is None:
        frame_indices = np.arange(n, dtype=np.int64)
    frame_index = np.repeat(frame_indices, 2).astype(np.int32)
    timestamp_s = frame_index / float(fps) if timestamps_s is None else np.repeat(timestamps_s, 2)
    return pa.table({
        "clip_id": pa.array([clip_id] * (2 * n), pa.string()),
        "frame_index": frame_index,
        "timestamp_s": np.asarray(timestamp_s, np.float64),
        "hand": pa.array(list(HANDS) * n, pa.string()),
        "present": np.asarray(present, dtype=bool).reshape(-1),
        "score": np.asarray(score, dtype=np.float32).reshape(-1),
        "kp2d_px": _nested(kp2d_px.reshape(2 * n, N_KEYPOINTS, 2), 2, KP2D_TYPE),
        "kp3d_m": _nested(kp3d_m.reshape(2 * n, N_KEYPOINTS, 3), 3, KP3D_TYPE),
        "pose_source": pa.array([pose_source] * (2 * n), pa.string()),
        "kp3d_world_m": (pa.nulls(2 * n, KP3D_TYPE) if kp3d_world_m is None
                         else _nested(kp3d_world_m.reshape(2 * n, N_KEYPOINTS, 3), 3, KP3D_TYPE)),
    })


def resolve(path: Path) -> str:
    return os.path.realpath(path)
