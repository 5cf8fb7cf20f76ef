"""Write and check a LeRobot v2.1 dataset (+ GR00T `meta/modality.json`): one Parquet and one mp4 per episode.

    <root>/
      meta/info.json, episodes.jsonl, tasks.jsonl, episodes_stats.jsonl, stats.json, [modality.json]
      data/chunk-000/episode_000000.parquet
      videos/chunk-000/observation.images.ego_view/episode_000000.mp4

`V21Writer` follows LeRobot's create → add episode → finalize; `check_v21` reopens what was written
and compares counts, frame counts of the videos, timestamps and stats. `meta/stats.json` (the dataset
stats, which LeRobot v2.1 itself derives from `episodes_stats.jsonl`) is written too: GR00T's loader
needs it. Segment labels travel as `sub_tasks` in `episodes.jsonl` and, under `gr00t`, as GR00T's
`annotation.human.subtask` column (curation/export_language.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq

from labeling.media.video import probe_video
from labeling.sources import lerobot_layout as layout
from labeling.sources.lerobot_layout import V21_DATA_PATH, V21_VIDEO_PATH, VIDEO_KEY, info_fps, v2_episode_file

from .action_layout import modality_groups
from .export_episodes import (
    QUANTILE_KEYS,
    EpisodeData,
    ImageStats,
    VideoEncoder,
    VideoSpec,
    aggregate_stats,
    episode_vector_stats,
    features,
    frame_table,
)
from .export_language import annotation_column, annotation_feature

STATS_RTOL = 1e-4  # written stats vs stats recomputed from the files


def gr00t_modality() -> dict[str, object]:
    """GR00T `modality.json` for the 62-D layout, the ego-view video and the task annotation."""
    return layout.gr00t_modality(modality_groups())


def sub_tasks(episode: EpisodeData) -> dict[str, list[dict]]:
    """An episode's segments as `episodes.jsonl` carries them (GR00T N1.6's `sub_task` language key)."""
    if not episode.subtasks:
        return {}
    return {"sub_tasks": [{"start": s["start"], "end": s["end"], "text": s["text"]} for s in episode.subtasks]}


class V21Writer:
    """Episodes in, a v2.1 dataset out (under `root`, which the caller makes atomic)."""

    def __init__(self, root: Path, fps: float, video: VideoSpec, names: list[str] | None, robot_type: str,
                 gr00t: bool, modality: dict | None = None, action_names: list[str] | None = None,
                 subtasks: bool = False) -> None:
        self.root, self.fps, self.video, self.names = root, fps, video, names
        self.robot_type, self.gr00t = robot_type, gr00t
        # A robot's own layout (export_mixture): its action names and GR00T groups; None: the 62-D layout.
        self.modality, self.action_names = modality, action_names
        self.annotate = gr00t and subtasks  # GR00T's segment annotation column, on every episode
        self.episodes: list[EpisodeData] = []
        self.total_frames = 0

    def add_episode(self, episode: EpisodeData, frames: Iterable[npt.NDArray[np.uint8]], image_stats: ImageStats
                    ) -> None:
        """Write one episode's Parquet and mp4 (`episode.episode_index` and `task_index` already set)."""
        table = frame_table(episode, self.total_frames, self.fps)
        if self.annotate:
            table = annotation_column(table, episode.subtasks, episode.task_index)
        path = v2_episode_file(self.root, V21_DATA_PATH, episode.episode_index)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        encoder = VideoEncoder(v2_episode_file(self.root, V21_VIDEO_PATH, episode.episode_index), self.fps,
                               self.video)
        try:
            for rgb in frames:
                encoder.add(rgb, keyframe=encoder.frames == 0)
        finally:
            encoder.close()
        episode.stats = episode_vector_stats(table) | {VIDEO_KEY: image_stats.result()}
        self.episodes.append(episode)
        self.total_frames += episode.n_frames

    def finalize(self, tasks: list[str], splits: dict[str, str]) -> None:
        """Write the metadata files once every episode is in."""
        n = len(self.episodes)
        info = {
            "codebase_version": layout.V21, "robot_type": self.robot_type, "total_episodes": n,
            "total_frames": self.total_frames, "total_tasks": len(tasks), "total_videos": n,
            "total_chunks": (max(n - 1, 0) // layout.CHUNKS_SIZE) + 1, "chunks_size": layout.CHUNKS_SIZE,
            "fps": info_fps(self.fps), "splits": splits, "data_path": V21_DATA_PATH, "video_path": V21_VIDEO_PATH,
            "features": features(self.names, self.video, self.fps, self.action_names)
            | (annotation_feature() if self.annotate else {})}
        root = self.root
        (root / layout.META_DIR).mkdir(parents=True, exist_ok=True)
        (root / layout.INFO_PATH).write_text(json.dumps(info, indent=4) + "\n")
        _write_jsonl(root / layout.TASKS_JSONL_PATH, [{"task_index": i, "task": t} for i, t in enumerate(tasks)])
        _write_jsonl(root / layout.EPISODES_JSONL_PATH, [{"episode_index": e.episode_index, "tasks": [e.task],
                                                          "length": e.n_frames, **e.meta(), **sub_tasks(e)}
                                                         for e in self.episodes])
        _write_jsonl(root / layout.EPISODES_STATS_PATH, [{"episode_index": e.episode_index, "stats": e.stats}
                                                         for e in self.episodes])
        if self.episodes:
            stats = aggregate_stats([e.stats for e in self.episodes])
            (root / layout.STATS_PATH).write_text(json.dumps(stats, indent=4) + "\n")
        if self.gr00t:
            modality = json.loads(json.dumps(self.modality)) if self.modality else gr00t_modality()
            if self.annotate:  # the segment channel, in the 62-D layout's modality or a robot's own
                modality.setdefault("annotation", {})[layout.SUBTASK_ANNOTATION] = {}
            (root / layout.MODALITY_PATH).write_text(json.dumps(modality, indent=4) + "\n")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def check_v21(root: Path) -> int:
    """Reopen a v2.1 export and check it; returns the total frames.

    Raises:
        ValueError: a count, file, frame count, timestamp, index or stat disagrees (naming which).
    """
    info = json.loads((root / layout.INFO_PATH).read_text())
    episodes = _read_jsonl(root / layout.EPISODES_JSONL_PATH)
    stats = {row["episode_index"]: row["stats"] for row in _read_jsonl(root / layout.EPISODES_STATS_PATH)}
    tasks = _read_jsonl(root / layout.TASKS_JSONL_PATH)
    if [e["episode_index"] for e in episodes] != list(range(info["total_episodes"])):
        raise ValueError(f"{root}: episodes.jsonl does not list episodes 0..{info['total_episodes'] - 1}")
    if len(tasks) != info["total_tasks"] or sorted(stats) != list(range(len(episodes))):
        raise ValueError(f"{root}: tasks.jsonl or episodes_stats.jsonl disagrees with info.json")
    if not (root / layout.STATS_PATH).is_file():
        raise ValueError(f"{root}: no {layout.STATS_PATH}")
    total = 0
    for row in episodes:
        index, length = row["episode_index"], row["length"]
        table = pq.read_table(v2_episode_file(root, info["data_path"], index))
        frames = probe_video(v2_episode_file(root, info["video_path"], index)).n_frames
        if not table.num_rows == frames == length:
            raise ValueError(f"{root}: episode {index}: {length} in episodes.jsonl, {table.num_rows} rows, "
                             f"{frames} video frames")
        check_rows(table, info["fps"], first_index=total, episode_index=index, label=f"{root}: episode {index}")
        check_stats(episode_vector_stats(table), stats[index], f"{root}: episode {index}")
        total += length
    if total != info["total_frames"]:
        raise ValueError(f"{root}: info.json says {info['total_frames']} frames, the episodes hold {total}")
    return total


def check_rows(table: object, fps: float, first_index: int, episode_index: int, label: str) -> None:
    """One episode's rows: frame_index 0..n-1, timestamp = frame_index / fps, contiguous global index."""
    frame_index = table.column("frame_index").to_numpy()
    n = len(frame_index)
    if not np.array_equal(frame_index, np.arange(n)):
        raise ValueError(f"{label}: frame_index is not 0..{n - 1}")
    if not np.allclose(table.column(layout.TIMESTAMP_KEY).to_numpy(), frame_index / fps, atol=1e-4):
        raise ValueError(f"{label}: timestamps are not frame_index / fps")
    if not np.array_equal(table.column("index").to_numpy(), first_index + np.arange(n)):
        raise ValueError(f"{label}: index is not contiguous from {first_index}")
    if not (table.column("episode_index").to_numpy() == episode_index).all():
        raise ValueError(f"{label}: rows of another episode")
    state = table.column(layout.STATE_KEY).combine_chunks().flatten().to_numpy()
    if not np.isfinite(state).all():
        raise ValueError(f"{label}: {layout.STATE_KEY} holds NaN or infinite values")


def check_stats(recomputed: dict[str, dict], written: dict[str, dict], label: str) -> None:
    """The written stats of every numeric column are those of the data, quantiles included."""
    for key, values in recomputed.items():
        for stat in ("min", "max", "mean", "std", *QUANTILE_KEYS):
            if stat not in written.get(key, {}):
                raise ValueError(f"{label}: no {key} {stat} written")
            if not np.allclose(values[stat], written[key][stat], rtol=STATS_RTOL, atol=1e-5):
                raise ValueError(f"{label}: written {key} {stat} differs from the data")
