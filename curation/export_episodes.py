"""What an exported episode holds, computed apart from where it is written (LeRobot v2.1 or v3.0).

    FEATURES                       the per-frame columns every export declares (lerobot `DEFAULT_FEATURES`)
    human_episode_arrays(...)      retargets → 62-D state (wrist relative to the episode start) + action
    frame_table(...)               the Parquet rows of one episode
    VideoEncoder / clip_frames     decode a clip's frames, letterbox them, encode H.264 or AV1 (PyAV), a
                                   keyframe at every episode start, no B-frames
    vector_stats / aggregate_stats LeRobot 0.6's per-feature min, max, mean, std, count and q01..q99

Human episodes carry the EgoScale layout (DESIGN.md): per hand the wrist xyz and 6D rotation
relative to the episode's first frame, then the 22 absolute joint angles; the action is the next
frame's state. Robot episodes keep their own `observation.state` and `action`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from labeling.media.video import displayed_size, upright_rgb
from labeling.sources.lerobot_layout import (
    ACTION_KEY,
    STATE_KEY,
    TIMESTAMP_KEY,
    VIDEO_KEY,
    frame_features,
    hf_features,
    video_feature,
)

from .action_layout import STATE_WIDTH, next_state_actions, relative_wrists

# The per-frame columns; `features(...)` fills in the vector names and the video.
FEATURES: dict[str, dict] = frame_features(STATE_WIDTH, None)
CODECS = {"h264": "libx264", "av1": "libsvtav1"}  # export codec name → PyAV encoder
IMAGE_STATS_EVERY = 5  # image stats sample every n-th frame (LeRobot samples too)
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)  # LeRobot 0.6's DEFAULT_QUANTILES, written as q01 ... q99
QUANTILE_KEYS = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)
Float32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class VideoSpec:
    """How exported videos look."""

    width: int = 320  # pixels, every episode letterboxed to this size (even)
    height: int = 240  # pixels (even)
    codec: str = "h264"  # h264 (browsers, LeRobot's pyav backend) or av1 (smaller; libsvtav1)
    crf: int = 23  # constant rate factor: lower is better quality and bigger
    gop_frames: int = 15  # a keyframe at least this often (and at every episode start), so readers seek fast
    keep_aspect: bool = False  # mixtures: each dataset keeps `width`, its height from its clips' aspect (no bars)

    def __post_init__(self) -> None:
        """Check values; errors name the field."""
        for name in ("width", "height"):
            value = getattr(self, name)
            if value < 16 or value % 2:
                raise ValueError(f"VideoSpec.{name} must be an even number >= 16, got {value}")
        if self.codec not in CODECS:
            raise ValueError(f"VideoSpec.codec must be one of {sorted(CODECS)}, got {self.codec!r}")
        if not 0 <= self.crf <= 63:
            raise ValueError(f"VideoSpec.crf must be in [0, 63], got {self.crf}")
        if self.gop_frames < 1:
            raise ValueError(f"VideoSpec.gop_frames must be >= 1, got {self.gop_frames}")


def features(names: list[str] | None, video: VideoSpec, fps: float, action_names: list[str] | None = None
             ) -> dict[str, dict]:
    """`info.json` features: FEATURES with the vector names and the ego-view video filled in.

    A robot's own layout (`action_names`, or names of another width than 62) sets the vector widths.
    """
    out = json.loads(json.dumps(FEATURES))
    out[STATE_KEY]["names"], out[ACTION_KEY]["names"] = names, action_names if action_names is not None else names
    for key in (STATE_KEY, ACTION_KEY):
        if out[key]["names"] is not None:
            out[key]["shape"] = [len(out[key]["names"])]
    out[VIDEO_KEY] = video_feature(video.width, video.height, video.codec, fps)
    return out


@dataclass
class EpisodeData:
    """One episode to write: its identity, pairing, and per-frame vectors."""

    clip_id: str
    kind: str  # human | robot
    embodiment: str  # "human" or the robot's type
    task: str
    pair_id: int  # the pair group: the smallest accepted pair id among its pairs
    pair_ids: list[int]  # every accepted pair the clip belongs to
    split: str  # train | validation
    video_path: str  # the source video
    video_from_s: float  # where the clip starts inside it
    n_frames: int
    state: Float32  # (T, 62); a robot's own width in a mixed-embodiment export
    action: Float32  # (T, 62); likewise
    filled_frames: int = 0  # hand-frames interpolated from neighbours (human episodes)
    episode_index: int = -1  # set by the writer
    task_index: int = -1
    stats: dict[str, dict[str, list]] = field(default_factory=dict)
    # The source clip's frames this episode holds, half-open [from, to) ranges (a cut keeps part of a clip).
    kept_frames: list[list[int]] = field(default_factory=list)
    # Segment labels inside the episode: {"start", "end" (exclusive), "text", "task_index"}, episode frames.
    subtasks: list[dict] = field(default_factory=list)

    def meta(self) -> dict[str, object]:
        """The extra per-episode metadata every export carries beside LeRobot's own keys."""
        return {"embodiment": self.embodiment, "pair_id": self.pair_id, "pair_ids": self.pair_ids,
                "clip_id": self.clip_id, "kind": self.kind, "split": self.split,
                "kept_frames": self.kept_frames or [[0, self.n_frames]]}


def human_episode_arrays(state_62: npt.ArrayLike) -> tuple[Float32, Float32]:
    """`(T, 62)` state with the wrists relative to frame 0, and its next-state action (float32)."""
    relative = relative_wrists(state_62)
    return relative.astype(np.float32), next_state_actions(relative).astype(np.float32)


def frame_table(episode: EpisodeData, first_index: int, fps: float) -> pa.Table:
    """The episode's Parquet rows: vectors as fixed-size lists, `timestamp = frame_index / fps`."""
    n = episode.n_frames
    frame_index = np.arange(n, dtype=np.int64)
    # 62 for human episodes; a robot's own widths in a mixed-embodiment export (curation/export_mixture.py).
    widths = {STATE_KEY: episode.state.shape[1], ACTION_KEY: episode.action.shape[1]}
    columns = {
        STATE_KEY: pa.FixedSizeListArray.from_arrays(pa.array(episode.state.reshape(-1)), widths[STATE_KEY]),
        ACTION_KEY: pa.FixedSizeListArray.from_arrays(pa.array(episode.action.reshape(-1)), widths[ACTION_KEY]),
        TIMESTAMP_KEY: pa.array((frame_index / fps).astype(np.float32)),
        "frame_index": pa.array(frame_index),
        "episode_index": pa.array(np.full(n, episode.episode_index, np.int64)),
        "index": pa.array(first_index + frame_index),
        "task_index": pa.array(np.full(n, episode.task_index, np.int64)),
    }
    schema = pa.schema([pa.field(k, pa.list_(pa.float32(), widths[k]) if k in widths else v.type)
                        for k, v in columns.items()],
                       metadata={"huggingface": hf_features(widths[STATE_KEY], widths[ACTION_KEY])})
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


def vector_stats(values: npt.ArrayLike) -> dict[str, list]:
    """LeRobot 0.6 stats of `(T, D)` values: per-dimension min, max, mean, std, the count and the quantiles
    q01, q10, q50, q90, q99 (exact, linearly interpolated; LeRobot estimates them from a histogram)."""
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    quantiles = np.quantile(v, QUANTILES, axis=0)
    return {"min": v.min(0).tolist(), "max": v.max(0).tolist(), "mean": v.mean(0).tolist(),
            "std": v.std(0).tolist(), "count": [len(v)]} | {
            key: row.tolist() for key, row in zip(QUANTILE_KEYS, quantiles, strict=True)}


def episode_vector_stats(table: pa.Table) -> dict[str, dict[str, list]]:
    """Stats of every numeric non-video column of an episode's rows (language columns have none)."""
    out = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if pa.types.is_fixed_size_list(column.type):
            values = column.flatten().to_numpy().reshape(len(column), -1)
        elif pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            values = column.to_numpy().reshape(-1, 1)
        else:
            continue
        out[name] = vector_stats(values)
    return out


def aggregate_stats(per_episode: list[dict[str, dict[str, list]]]) -> dict[str, dict[str, list]]:
    """Dataset stats from episode stats: extreme min/max, count-weighted mean, pooled std, and quantiles as
    LeRobot 0.6's `aggregate_stats` makes them (the count-weighted mean of the episodes' quantiles)."""
    out = {}
    for key in per_episode[0]:
        parts = [s[key] for s in per_episode]
        counts = np.array([p["count"][0] for p in parts], dtype=np.float64)
        means = np.stack([np.asarray(p["mean"], np.float64) for p in parts])
        stds = np.stack([np.asarray(p["std"], np.float64) for p in parts])
        weights = (counts / counts.sum()).reshape((-1,) + (1,) * (means.ndim - 1))
        mean = (weights * means).sum(0)
        var = (weights * (stds ** 2 + (means - mean) ** 2)).sum(0)
        out[key] = {"min": np.min(np.stack([np.asarray(p["min"]) for p in parts]), 0).tolist(),
                    "max": np.max(np.stack([np.asarray(p["max"]) for p in parts]), 0).tolist(),
                    "mean": mean.tolist(), "std": np.sqrt(var).tolist(), "count": [int(counts.sum())]}
        for q in QUANTILE_KEYS:
            if all(q in p for p in parts):
                out[key][q] = (weights * np.stack([np.asarray(p[q], np.float64) for p in parts])).sum(0).tolist()
    return out


class ImageStats:
    """Per-channel image stats in [0, 1], shaped (3, 1, 1) as LeRobot writes them, from sampled frames.

    Pixels are 8-bit, so a 256-bin histogram per channel gives their quantiles exactly.
    """

    def __init__(self) -> None:
        self.lo, self.hi = np.full(3, 255.0), np.zeros(3)
        self.sums, self.squares, self.count = np.zeros(3), np.zeros(3), 0
        self.histogram = np.zeros((3, 256), np.int64)

    def add(self, rgb: npt.NDArray[np.uint8]) -> None:
        pixels = rgb.reshape(-1, 3)
        values = pixels.astype(np.float64)
        self.lo, self.hi = np.minimum(self.lo, values.min(0)), np.maximum(self.hi, values.max(0))
        self.sums += values.mean(0)
        self.squares += (values ** 2).mean(0)
        for channel in range(3):
            self.histogram[channel] += np.bincount(pixels[:, channel], minlength=256)
        self.count += 1

    def _quantile(self, q: float) -> npt.NDArray[np.float64]:
        """Per channel, the smallest pixel value with at least a share `q` of the pixels at or below it."""
        cumulative = np.cumsum(self.histogram, axis=1)
        total = np.maximum(cumulative[:, -1:], 1)
        return np.array([np.searchsorted(c, q * t) for c, t in zip(cumulative, total[:, 0], strict=True)],
                        np.float64)

    def result(self) -> dict[str, list]:
        n = max(self.count, 1)
        mean = self.sums / n
        std = np.sqrt(np.maximum(self.squares / n - mean ** 2, 0.0))
        named = [("min", self.lo), ("max", self.hi), ("mean", mean), ("std", std)]
        named += [(key, self._quantile(q)) for key, q in zip(QUANTILE_KEYS, QUANTILES, strict=True)]
        return {key: [[[float(v) / 255.0]] for v in values] for key, values in named} | {"count": [self.count]}


def letterbox_size(width: int, height: int, video: VideoSpec) -> tuple[int, int]:
    """Scaled (width, height) of a `width x height` frame inside the export size, aspect kept, even."""
    scale = min(video.width / width, video.height / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def clip_frames(path: str | Path, from_s: float, n_frames: int, video: VideoSpec, stats: ImageStats,
                skip: int = 0) -> Iterator[npt.NDArray[np.uint8]]:
    """Exactly `n_frames` letterboxed RGB frames of a clip starting `from_s` into its video, after its first
    `skip` frames (an episode cut out of the clip: counted, not timed, so variable frame rates cut true).

    A video that ends early repeats its last frame (the export's check still counts frames).
    """
    canvas = np.zeros((video.height, video.width, 3), np.uint8)
    produced, seen, last = 0, 0, canvas
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if from_s > 0:
            container.seek(int(from_s / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.time is not None and frame.time < from_s - 0.5 / float(stream.average_rate or 30):
                continue
            seen += 1
            if seen <= skip:
                continue
            w, h = letterbox_size(*displayed_size(frame), video)
            small = upright_rgb(frame, w, h)  # phone videos carry a display rotation; exports are upright
            last = canvas.copy()
            top, left = (video.height - h) // 2, (video.width - w) // 2
            last[top:top + h, left:left + w] = small
            if produced % IMAGE_STATS_EVERY == 0:
                stats.add(last)
            yield last
            produced += 1
            if produced == n_frames:
                return
    for _ in range(n_frames - produced):
        yield last


class VideoEncoder:
    """One mp4 being written (frames at pts 0, 1, 2, ... in 1/fps); `frames` counts what went in.

    Readers that cut per episode (Rerun, LeRobot's per-episode decode) start at an episode's first
    frame, so that frame is always a keyframe (an IDR frame in H.264), and frames are never reordered:
    H.264 is written without B-frames; AV1 has none (SVT-AV1's hidden reference frames travel inside
    the temporal unit of a shown frame, so mp4 samples stay in presentation order).
    """

    def __init__(self, path: Path, fps: float, video: VideoSpec) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.frames, self.bytes = path, 0, 0
        self.rate = Fraction(fps).limit_denominator(1001)
        self._container = av.open(str(path), mode="w", options={"movflags": "+faststart"})
        self._stream = self._container.add_stream(CODECS[video.codec], rate=self.rate)
        self._stream.width, self._stream.height, self._stream.pix_fmt = video.width, video.height, "yuv420p"
        self._stream.codec_context.time_base = 1 / self.rate
        options = {"crf": str(video.crf), "g": str(video.gop_frames)}
        if video.codec == "h264":
            options |= {"preset": "veryfast", "bf": "0", "forced-idr": "1"}
        else:
            options["preset"] = "8"  # libsvtav1 speed preset: fast enough for exports
        self._stream.options = options

    def add(self, rgb: npt.NDArray[np.uint8], keyframe: bool = False) -> None:
        """Encode one frame; `keyframe` forces a keyframe there (an episode's first frame)."""
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = self.frames, 1 / self.rate
        if keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        self._mux(self._stream.encode(frame))
        self.frames += 1

    def _mux(self, packets: list) -> None:
        self.bytes += sum(p.size for p in packets)
        self._container.mux(packets)

    def close(self) -> None:
        self._mux(self._stream.encode(None))
        self._container.close()


def sync_dir(path: Path) -> None:
    """fsync a directory so renames inside it survive a crash (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
