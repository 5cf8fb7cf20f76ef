"""Write and check a LeRobot v3.0 dataset: episodes concatenated into chunked Parquet and mp4 files.

    <root>/
      meta/info.json, stats.json, tasks.parquet
      meta/episodes/chunk-000/file-000.parquet     one row per episode: where its rows and video are, its stats
      data/chunk-000/file-000.parquet              many episodes per file
      videos/observation.images.ego_view/chunk-000/file-000.mp4

An episode's video is the frames `[from_timestamp, to_timestamp)` of its file: frames are encoded
back to back at pts 0, 1, 2, ... so an episode starting at frame k starts at exactly `k / fps`, on a
keyframe. Segment labels become LeRobot 0.6's subtask rows (`language_persistent`, only when the
export has segments: LeRobot 0.4.4 cannot read that column type) and `sub_tasks` in meta/episodes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labeling.media.video import probe_video
from labeling.sources import lerobot_layout as layout
from labeling.sources.lerobot_layout import (
    CHUNKS_SIZE,
    DATA_CHUNK_COLUMN,
    DATA_FILE_COLUMN,
    V30_DATA_PATH,
    V30_EPISODES_PATH,
    V30_VIDEO_PATH,
    VIDEO_KEY,
    info_fps,
    language_features,
    stats_column,
    video_column,
)

from .export_episodes import (
    EpisodeData,
    ImageStats,
    VideoEncoder,
    VideoSpec,
    aggregate_stats,
    episode_vector_stats,
    features,
    frame_table,
)
from .export_language import language_columns
from .export_v21 import check_rows, check_stats, gr00t_modality

SUB_TASK = pa.struct([pa.field("start", pa.int64()), pa.field("end", pa.int64()), pa.field("text", pa.string())])

DATA_FILE_MB = 100  # a data file is closed once it holds this much (LeRobot's default)
VIDEO_FILE_MB = 200  # a video file likewise


def next_file(chunk: int, file: int) -> tuple[int, int]:
    """LeRobot's file numbering: files 0..CHUNKS_SIZE-1 per chunk, then the next chunk."""
    return (chunk + 1, 0) if file + 1 >= CHUNKS_SIZE else (chunk, file + 1)


class V30Writer:
    """Episodes in, a v3.0 dataset out (under `root`, which the caller makes atomic)."""

    def __init__(self, root: Path, fps: float, video: VideoSpec, names: list[str] | None, robot_type: str,
                 gr00t: bool = False, modality: dict | None = None, action_names: list[str] | None = None,
                 subtasks: bool = False) -> None:
        self.root, self.fps, self.video, self.names, self.robot_type = root, fps, video, names, robot_type
        self.gr00t = gr00t
        # A robot's own layout (export_mixture): its action names and GR00T groups; None: the 62-D layout.
        self.modality, self.action_names = modality, action_names
        self.subtasks = subtasks  # LeRobot 0.6's language columns, on every episode (one schema per file)
        self.rows: list[dict] = []  # the meta/episodes rows
        self.stats: list[dict] = []
        self.total_frames = 0
        self._data_at, self._data_writer, self._data_bytes = (0, 0), None, 0
        self._video_at, self._video = (0, 0), None

    def add_episode(self, episode: EpisodeData, frames: Iterable[npt.NDArray[np.uint8]], image_stats: ImageStats
                    ) -> None:
        table = frame_table(episode, self.total_frames, self.fps)
        if self.subtasks:
            table = language_columns(table, episode.subtasks, self.fps)
        data_at = self._data_file(table)
        self._data_writer.write_table(table)
        self._data_bytes += table.nbytes
        encoder, video_at = self._video_file()
        from_s, first = encoder.frames / self.fps, encoder.frames
        for rgb in frames:
            encoder.add(rgb, keyframe=encoder.frames == first)  # readers cut the file at episode starts
        stats = episode_vector_stats(table) | {VIDEO_KEY: image_stats.result()}
        self.stats.append(stats)
        self.rows.append({
            "episode_index": episode.episode_index, "tasks": [episode.task], "length": episode.n_frames,
            DATA_CHUNK_COLUMN: data_at[0], DATA_FILE_COLUMN: data_at[1],
            "dataset_from_index": self.total_frames, "dataset_to_index": self.total_frames + episode.n_frames,
            video_column(VIDEO_KEY, "chunk_index"): video_at[0], video_column(VIDEO_KEY, "file_index"): video_at[1],
            video_column(VIDEO_KEY, "from_timestamp"): from_s,
            video_column(VIDEO_KEY, "to_timestamp"): encoder.frames / self.fps,
            **{stats_column(key, stat): value for key, values in stats.items() for stat, value in values.items()},
            layout.EPISODES_CHUNK_COLUMN: 0, layout.EPISODES_FILE_COLUMN: 0, **episode.meta(),
            **({"sub_tasks": [{k: s[k] for k in ("start", "end", "text")} for s in episode.subtasks]}
               if self.subtasks else {})})
        self.total_frames += episode.n_frames

    def _data_file(self, table: pa.Table) -> tuple[int, int]:
        if self._data_writer is not None and self._data_bytes >= DATA_FILE_MB * 1e6:
            self._data_writer.close()
            self._data_writer, self._data_at, self._data_bytes = None, next_file(*self._data_at), 0
        if self._data_writer is None:
            path = self.root / V30_DATA_PATH.format(chunk_index=self._data_at[0], file_index=self._data_at[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            self._data_writer = pq.ParquetWriter(path, table.schema)
        return self._data_at

    def _video_file(self) -> tuple[VideoEncoder, tuple[int, int]]:
        if self._video is not None and self._video.bytes >= VIDEO_FILE_MB * 1e6:
            self._video.close()
            self._video, self._video_at = None, next_file(*self._video_at)
        if self._video is None:
            path = self.root / V30_VIDEO_PATH.format(video_key=VIDEO_KEY, chunk_index=self._video_at[0],
                                                     file_index=self._video_at[1])
            self._video = VideoEncoder(path, self.fps, self.video)
        return self._video, self._video_at

    def close_files(self) -> None:
        """Close the open data and video files (also on failure, so nothing holds them open)."""
        if self._data_writer is not None:
            self._data_writer.close()
            self._data_writer = None
        if self._video is not None:
            self._video.close()
            self._video = None

    def finalize(self, tasks: list[str], splits: dict[str, str]) -> None:
        self.close_files()
        fps = info_fps(self.fps)
        feats = features(self.names, self.video, self.fps, self.action_names)
        feats |= language_features() if self.subtasks else {}
        for feature in feats.values():
            if feature["dtype"] != "video":
                feature["fps"] = fps
        info = {
            "codebase_version": layout.V30, "robot_type": self.robot_type,
            "total_episodes": len(self.rows), "total_frames": self.total_frames, "total_tasks": len(tasks),
            "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": DATA_FILE_MB,
            "video_files_size_in_mb": VIDEO_FILE_MB, "fps": fps, "splits": splits, "data_path": V30_DATA_PATH,
            "video_path": V30_VIDEO_PATH, "features": feats}
        episodes_file = self.root / V30_EPISODES_PATH.format(chunk_index=0, file_index=0)
        episodes_file.parent.mkdir(parents=True, exist_ok=True)
        (self.root / layout.INFO_PATH).write_text(json.dumps(info, indent=4) + "\n")
        pd.DataFrame({"task_index": range(len(tasks))}, index=pd.Index(tasks, name="task")).to_parquet(
            self.root / layout.TASKS_PARQUET_PATH)
        episodes = pa.Table.from_pylist(self.rows)
        if self.subtasks:  # typed, also when no episode kept a segment (an inferred list<null> reads badly)
            column = pa.array([row["sub_tasks"] for row in self.rows], pa.list_(SUB_TASK))
            episodes = episodes.set_column(episodes.schema.get_field_index("sub_tasks"), "sub_tasks", column)
        pq.write_table(episodes, episodes_file)
        (self.root / layout.STATS_PATH).write_text(json.dumps(aggregate_stats(self.stats), indent=4) + "\n")
        if self.gr00t:  # GR00T reads v2.x; the file rides along so a v3 → v2.1 conversion keeps it
            modality = self.modality or gr00t_modality()
            (self.root / layout.MODALITY_PATH).write_text(json.dumps(modality, indent=4) + "\n")


def check_v30(root: Path) -> int:
    """Reopen a v3.0 export and check it; returns the total frames.

    Raises:
        ValueError: a count, file, frame count, timestamp, index or stat disagrees (naming which).
    """
    info = json.loads((root / layout.INFO_PATH).read_text())
    episodes = pq.read_table(root / V30_EPISODES_PATH.format(chunk_index=0, file_index=0)).to_pylist()
    tasks = pd.read_parquet(root / layout.TASKS_PARQUET_PATH)
    if [e["episode_index"] for e in episodes] != list(range(info["total_episodes"])):
        raise ValueError(f"{root}: meta/episodes does not list episodes 0..{info['total_episodes'] - 1}")
    if len(tasks) != info["total_tasks"] or list(tasks["task_index"]) != list(range(len(tasks))):
        raise ValueError(f"{root}: meta/tasks.parquet disagrees with info.json")
    total, video_frames = 0, {}
    for row in episodes:
        index = row["episode_index"]
        label = f"{root}: episode {index}"
        data = pq.read_table(root / info["data_path"].format(chunk_index=row[DATA_CHUNK_COLUMN],
                                                              file_index=row[DATA_FILE_COLUMN]))
        table = data.filter(pc.equal(data["episode_index"], index))
        if table.num_rows != row["length"] or row["dataset_from_index"] != total:
            raise ValueError(f"{label}: {row['length']} frames in meta/episodes, {table.num_rows} rows")
        check_rows(table, info["fps"], first_index=total, episode_index=index, label=label)
        written = {key.split("/")[1]: {} for key in row if key.startswith(layout.STATS_PREFIX)}
        for key, value in row.items():
            if key.startswith(layout.STATS_PREFIX):
                written[key.split("/")[1]][key.split("/")[2]] = value
        check_stats(episode_vector_stats(table), written, label)
        video = (row[video_column(VIDEO_KEY, "chunk_index")], row[video_column(VIDEO_KEY, "file_index")])
        start = video_frames.get(video, 0)
        if not np.isclose(row[video_column(VIDEO_KEY, "from_timestamp")] * info["fps"], start, atol=1e-3):
            raise ValueError(f"{label}: from_timestamp does not start at frame {start} of its video")
        video_frames[video] = start + row["length"]
        total += row["length"]
    for (chunk, file), expected in video_frames.items():
        path = root / info["video_path"].format(video_key=VIDEO_KEY, chunk_index=chunk, file_index=file)
        if probe_video(path).n_frames != expected:
            raise ValueError(f"{path}: {probe_video(path).n_frames} frames, its episodes hold {expected}")
        starts = {round(row[video_column(VIDEO_KEY, "from_timestamp")] * info["fps"]) for row in episodes
                  if (row[video_column(VIDEO_KEY, "chunk_index")], row[video_column(VIDEO_KEY, "file_index")])
                  == (chunk, file)}
        late = sorted(starts - keyframe_frames(path, info["fps"]))
        if late:
            raise ValueError(f"{path}: the episodes starting at frames {late} do not start on a keyframe")
    if total != info["total_frames"]:
        raise ValueError(f"{root}: info.json says {info['total_frames']} frames, the episodes hold {total}")
    return total


def keyframe_frames(path: Path, fps: float) -> set[int]:
    """The frame numbers (pts x fps) of a video's keyframes, from its packets (nothing decoded)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {round(float(p.pts * stream.time_base) * fps) for p in container.demux(stream)
                if p.size and p.is_keyframe and p.pts is not None}
