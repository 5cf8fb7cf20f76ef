"""Write the demo's robot episodes as a LeRobot v2.1 dataset with a GR00T `meta/modality.json`.

    <root>/
      meta/info.json, episodes.jsonl, tasks.jsonl, episodes_stats.jsonl, modality.json
      data/chunk-000/episode_000000.parquet
      videos/chunk-000/observation.images.ego_view/episode_000000.mp4

Episodes are written one at a time (`write_episode_video`, `write_episode_data`; videos may be
encoded in worker processes), then `write_meta` adds the metadata and `check_dataset` reads the
whole dataset back and compares frame counts, timestamps and files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from labeling.hands import SIDES, hand_tree
from labeling.media.video import probe_video, write_h264
from labeling.sources import lerobot_layout as layout
from labeling.sources.lerobot_layout import (
    ACTION_KEY,
    STATE_KEY,
    TIMESTAMP_KEY,
    V21_DATA_PATH,
    V21_VIDEO_PATH,
    VIDEO_KEY,
    v2_episode_file,
)

Image = npt.NDArray[np.uint8]


def state_names() -> list[str]:
    """Name the 62 dimensions of `observation.state` / `action`.

    Per hand (left, right): wrist xyz, 6D rotation (first two columns of the world rotation
    matrix), then the 22 joint angles.
    """
    names: list[str] = []
    for side in SIDES:
        names += [f"{side}_wrist_{axis}" for axis in "xyz"]
        names += [f"{side}_wrist_rot6d_{i}" for i in range(6)]
        names += list(hand_tree(side).dof_joint_names)
    return names


def modality() -> dict[str, object]:
    """GR00T `modality.json`: 62-D state/action groups, the video, the task annotation."""
    groups: dict[str, dict[str, int]] = {}
    start = 0
    for side in SIDES:
        for group, width in (("wrist_pos", 3), ("wrist_rot6d", 6), ("hand", 22)):
            groups[f"{side}_{group}"] = {"start": start, "end": start + width}
            start += width
    return layout.gr00t_modality(groups)


@dataclass(frozen=True)
class EpisodeRecord:
    """What `write_meta` needs to know about a written episode."""

    index: int
    task_index: int
    task: str
    length: int  # frames
    stats: dict[str, dict[str, list]]  # feature → min/max/mean/std/count


def write_episode_video(root: Path, index: int, frames: Iterable[Image], fps: float,
                        sample_every: int = 5) -> dict[str, list]:
    """Encode an episode's ego-view video (H.264) and return its LeRobot image stats.

    Stats cover every `sample_every`-th frame, per channel in [0, 1], shaped (3, 1, 1).
    """
    sums, sq, lo, hi, count = np.zeros(3), np.zeros(3), np.full(3, 255.0), np.zeros(3), 0

    def sampled(stream: Iterable[Image]) -> Iterator[Image]:
        nonlocal sums, sq, lo, hi, count
        for i, frame in enumerate(stream):
            if i % sample_every == 0:
                mean, std = (v.reshape(3) for v in cv2.meanStdDev(frame))
                sums, sq, count = sums + mean, sq + std ** 2 + mean ** 2, count + 1
                lo = np.minimum(lo, frame.min(axis=(0, 1)))
                hi = np.maximum(hi, frame.max(axis=(0, 1)))
            yield frame

    write_h264(v2_episode_file(root, V21_VIDEO_PATH, index), sampled(frames), fps, threads=1)
    mean = sums / max(count, 1)
    std = np.sqrt(np.maximum(sq / max(count, 1) - mean ** 2, 0.0))
    return {key: [[[float(v) / 255.0]] for v in values] for key, values in
            (("min", lo), ("max", hi), ("mean", mean), ("std", std))} | {"count": [count]}


def write_episode_data(root: Path, index: int, first_global_index: int, task_index: int,
                       state: npt.NDArray[np.float32], fps: float) -> dict[str, dict[str, list]]:
    """Write an episode's parquet (action = next state; the last frame repeats); return its stats."""
    n, width = state.shape
    action = np.concatenate([state[1:], state[-1:]], axis=0)
    frame_index = np.arange(n, dtype=np.int64)
    columns = {
        STATE_KEY: state.astype(np.float32), ACTION_KEY: action.astype(np.float32),
        TIMESTAMP_KEY: (frame_index / fps).astype(np.float32), "frame_index": frame_index,
        "episode_index": np.full(n, index, np.int64), "index": first_global_index + frame_index,
        "task_index": np.full(n, task_index, np.int64),
    }
    vector = pa.list_(pa.float32(), width)
    arrays = [pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), width) if v.ndim == 2 else pa.array(v)
              for v in columns.values()]
    schema = pa.schema([pa.field(k, vector if v.ndim == 2 else pa.from_numpy_dtype(v.dtype))
                        for k, v in columns.items()], metadata={"huggingface": layout.hf_features(width)})
    path = v2_episode_file(root, V21_DATA_PATH, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), tmp)
    os.replace(tmp, path)
    return {key: _stats(value.reshape(n, -1).astype(np.float64)) for key, value in columns.items()}


def write_meta(root: Path, episodes: list[EpisodeRecord], tasks: list[str], fps: float, robot_type: str,
               width: int, height: int) -> Path:
    """Write info.json, episodes.jsonl, tasks.jsonl, episodes_stats.jsonl and modality.json."""
    names = state_names()
    info = {
        "codebase_version": layout.V21, "robot_type": robot_type,
        "total_episodes": len(episodes), "total_frames": sum(e.length for e in episodes),
        "total_tasks": len(tasks), "total_videos": len(episodes),
        "total_chunks": (max((e.index for e in episodes), default=0) // layout.CHUNKS_SIZE) + 1,
        "chunks_size": layout.CHUNKS_SIZE, "fps": fps, "splits": {"train": f"0:{len(episodes)}"},
        "data_path": V21_DATA_PATH, "video_path": V21_VIDEO_PATH,
        "features": {VIDEO_KEY: layout.video_feature(width, height, "h264", fps),
                     **layout.frame_features(len(names), names)},
    }
    _write_text(root / layout.INFO_PATH, json.dumps(info, indent=4))
    _write_text(root / layout.MODALITY_PATH, json.dumps(modality(), indent=4))
    _write_jsonl(root / layout.TASKS_JSONL_PATH, [{"task_index": i, "task": t} for i, t in enumerate(tasks)])
    _write_jsonl(root / layout.EPISODES_JSONL_PATH, [{"episode_index": e.index, "tasks": [e.task], "length": e.length}
                                                     for e in episodes])
    _write_jsonl(root / layout.EPISODES_STATS_PATH, [{"episode_index": e.index, "stats": e.stats} for e in episodes])
    return root


def check_dataset(root: Path) -> int:
    """Read a written dataset back; returns total frames.

    Raises:
        ValueError: counts in info/episodes/parquet/video disagree, a file is missing, or
            timestamps are not frame_index / fps.
    """
    info = json.loads((root / layout.INFO_PATH).read_text())
    episodes = [json.loads(line) for line in (root / layout.EPISODES_JSONL_PATH).read_text().splitlines()]
    if len(episodes) != info["total_episodes"]:
        raise ValueError(f"{root}: info.json has {info['total_episodes']} episodes, episodes.jsonl {len(episodes)}")
    total = 0
    for row in episodes:
        index, length = row["episode_index"], row["length"]
        table = pq.read_table(v2_episode_file(root, info["data_path"], index))
        video = probe_video(v2_episode_file(root, info["video_path"], index))
        if not table.num_rows == video.n_frames == length:
            raise ValueError(f"{root}: episode {index}: {length} in episodes.jsonl, {table.num_rows} parquet rows, "
                             f"{video.n_frames} video frames")
        stamps = table.column(TIMESTAMP_KEY).to_numpy()
        frames = table.column("frame_index").to_numpy()
        if not np.allclose(stamps, frames / info["fps"], atol=1e-4):
            raise ValueError(f"{root}: episode {index}: timestamps are not frame_index / fps")
        total += length
    if total != info["total_frames"]:
        raise ValueError(f"{root}: info.json has {info['total_frames']} frames, the episodes {total}")
    return total


def _stats(values: npt.NDArray[np.float64]) -> dict[str, list]:
    return {"min": values.min(0).tolist(), "max": values.max(0).tolist(), "mean": values.mean(0).tolist(),
            "std": values.std(0).tolist(), "count": [len(values)]}


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    _write_text(path, "\n".join(json.dumps(row) for row in rows))
