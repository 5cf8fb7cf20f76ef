"""Factories that write real tiny datasets in the formats we read (no mocks of our code)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import make_video


def write_lerobot_v3(root: Path, lengths: tuple[int, ...] = (12, 8), fps: float = 10.0, dim: int = 4) -> Path:
    """A LeRobot v3.0 dataset: all episodes in one data file and one concatenated video."""
    key = "observation.images.cam"
    total = sum(lengths)
    make_video(root / "videos" / key / "chunk-000" / "file-000.mp4", n_frames=total, fps=fps, seed=3)
    rows, starts = [], np.cumsum((0,) + lengths)
    for episode, length in enumerate(lengths):
        for frame in range(length):
            value = [float(episode * 100 + frame + d / 10) for d in range(dim)]
            rows.append({"observation.state": value, "action": value, "timestamp": frame / fps,
                         "frame_index": frame, "episode_index": episode, "index": len(rows),
                         "task_index": episode % 2})
    (root / "data" / "chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "data" / "chunk-000" / "file-000.parquet")
    tasks = pd.DataFrame({"task_index": [0, 1]}, index=pd.Index(["stack the cups", "open the box"], name="task"))
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    tasks.to_parquet(root / "meta" / "tasks.parquet")
    episodes = [{
        "episode_index": e, "tasks": [["stack the cups", "open the box"][e % 2]], "length": n,
        "data/chunk_index": 0, "data/file_index": 0,
        "dataset_from_index": int(starts[e]), "dataset_to_index": int(starts[e + 1]),
        f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": 0,
        f"videos/{key}/from_timestamp": starts[e] / fps, f"videos/{key}/to_timestamp": starts[e + 1] / fps,
    } for e, n in enumerate(lengths)]
    pq.write_table(pa.Table.from_pylist(episodes), root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")
    info = {
        "codebase_version": "v3.0", "robot_type": "toy_arm", "total_episodes": len(lengths),
        "total_frames": total, "total_tasks": 2, "fps": fps, "chunks_size": 1000,
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": {
            key: {"dtype": "video", "shape": [48, 64, 3], "names": ["height", "width", "channel"]},
            "observation.state": {"dtype": "float32", "shape": [dim], "names": [f"j{d}" for d in range(dim)]},
            "action": {"dtype": "float32", "shape": [dim], "names": [f"j{d}" for d in range(dim)]},
        },
    }
    (root / "meta" / "info.json").write_text(json.dumps(info))
    return root


def write_egodex_pair(folder: Path, name: str = "0", n_frames: int = 6, drop: str | None = None) -> Path:
    """A minimal EgoDex pair; `drop` removes one HDF5 dataset to make it broken."""
    from labeling.sources.egodex import MEDIAPIPE21_FROM_ARKIT

    video = make_video(folder / f"{name}.mp4", n_frames=n_frames, width=64, height=48, seed=7)
    with h5py.File(folder / f"{name}.hdf5", "w") as h5:
        h5.attrs["task"] = "toy_task"
        h5.attrs["llm_description"] = "Move the toy."
        h5["camera/intrinsic"] = np.array([[50, 0, 32], [0, 50, 24], [0, 0, 1]], np.float32)
        h5["transforms/camera"] = np.tile(np.eye(4, dtype=np.float32), (n_frames, 1, 1))
        for side in ("left", "right"):
            for k, suffix in enumerate(MEDIAPIPE21_FROM_ARKIT):
                pose = np.tile(np.eye(4, dtype=np.float32), (n_frames, 1, 1))
                pose[:, :3, 3] = [(-0.1 if side == "left" else 0.1) + 0.005 * k, 0.01 * k, 0.5]
                h5[f"transforms/{side}{suffix}"] = pose
                h5[f"confidences/{side}{suffix}"] = np.full(n_frames, 0.9, np.float32)
        if drop:
            del h5[drop]
    return video
