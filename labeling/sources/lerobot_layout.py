"""LeRobot's on-disk layout and frame feature keys: the one copy the exporters (curation/export_*.py),
the reader (labeling/sources/lerobot.py), the demo writer (labeling/synthetic/lerobot_writer.py) and
the trainer (trainer/data.py) share.

```
<dataset>/
  meta/info.json                                   version, fps, features, the data/video path templates
  meta/episodes.jsonl, tasks.jsonl, episodes_stats.jsonl             v2.x
  meta/episodes/chunk-000/file-000.parquet, tasks.parquet             v3.0 (one row per episode)
  meta/stats.json                                  dataset feature stats (v3.0; EgoCurate's v2.1 too, for GR00T)
  meta/modality.json                               GR00T's state/action groups (optional)
  meta/egocurate_manifest.json, meta/pairs.jsonl   EgoCurate exports only
<mixture>/mixture.json, pairs.jsonl, egocurate_manifest.json, <embodiment>/...   a mixed-embodiment export
  data/chunk-000/episode_000000.parquet            v2.x: one file per episode
  data/chunk-000/file-000.parquet                  v3.0: many episodes per file
  videos/chunk-000/<video_key>/episode_000000.mp4  v2.x
  videos/<video_key>/chunk-000/file-000.mp4        v3.0
```

Writers declare these templates in `info.json`; readers fill the templates a dataset's own
`info.json` declares (other tools may lay files out differently).
"""

from __future__ import annotations

import json
from pathlib import Path

META_DIR = "meta"
DATA_DIR = "data"
VIDEOS_DIR = "videos"
INFO_PATH = "meta/info.json"
EPISODES_JSONL_PATH = "meta/episodes.jsonl"  # v2.x: one line per episode (index, tasks, length)
TASKS_JSONL_PATH = "meta/tasks.jsonl"  # v2.x: task_index -> task text
EPISODES_STATS_PATH = "meta/episodes_stats.jsonl"  # v2.1: per-episode feature stats
TASKS_PARQUET_PATH = "meta/tasks.parquet"  # v3.0: task text (index) -> task_index
STATS_PATH = "meta/stats.json"  # dataset feature stats (v3.0; v2.0; GR00T reads it from v2.1 too)
EPISODES_FILES_GLOB = "meta/episodes/chunk-*/file-*.parquet"  # v3.0: the episode rows
MODALITY_PATH = "meta/modality.json"  # GR00T: state/action groups, video and annotation keys
MANIFEST_PATH = "meta/egocurate_manifest.json"  # EgoCurate: how to reproduce the export (export_manifest)
# A mixed-embodiment export is a folder of LeRobot datasets, one per embodiment (curation/export_mixture.py):
MIXTURE_PATH = "mixture.json"  # the datasets, their embodiment tags, hours and sampling weights
MIXTURE_PAIRS_PATH = "pairs.jsonl"  # one line per pair: (dataset, episode) of both sides, cost, warping path
MIXTURE_MANIFEST_PATH = "egocurate_manifest.json"  # the export's manifest (export_manifest), for the whole folder
PAIRS_PATH = "meta/pairs.jsonl"  # EgoCurate: one line per exported pair: both episode indices, cost, warping path

V21 = "v2.1"
V30 = "v3.0"
CHUNKS_SIZE = 1000  # LeRobot's default: episodes (v2.x) or files (v3.0) per chunk folder
V21_DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
V21_VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
V30_DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
V30_VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
V30_EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"

STATE_KEY = "observation.state"
ACTION_KEY = "action"
TIMESTAMP_KEY = "timestamp"
INDEX_KEYS = ("frame_index", "episode_index", "index", "task_index")
IMAGES_PREFIX = "observation.images."  # camera features are `observation.images.<camera>`
VIDEO_KEY = f"{IMAGES_PREFIX}ego_view"  # the one camera of EgoCurate's exports and demo dataset
# v3.0 `meta/episodes` columns: where an episode's rows (and its own row) are; videos and stats below.
DATA_CHUNK_COLUMN, DATA_FILE_COLUMN = "data/chunk_index", "data/file_index"
EPISODES_CHUNK_COLUMN, EPISODES_FILE_COLUMN = "meta/episodes/chunk_index", "meta/episodes/file_index"
STATS_PREFIX = "stats/"
# LeRobot 0.6's language layer (lerobot.datasets.language): per-frame lists of rows; a subtask is a
# `language_persistent` row of style "subtask" stamped at its first frame, active until the next one.
LANGUAGE_PERSISTENT, LANGUAGE_EVENTS = "language_persistent", "language_events"
SUBTASK_STYLE = "subtask"
# GR00T: an annotation channel is a per-frame column of indices into the tasks (`annotation.<source>.<type>`).
SUBTASK_ANNOTATION = "human.subtask"


def video_column(video_key: str, name: str) -> str:
    """A v3.0 episode row's video column: `name` is chunk_index, file_index, from_timestamp or to_timestamp."""
    return f"{VIDEOS_DIR}/{video_key}/{name}"


def stats_column(feature: str, stat: str) -> str:
    """A v3.0 episode row's stats column (`stats/observation.state/mean`)."""
    return f"{STATS_PREFIX}{feature}/{stat}"


def v2_episode_file(root: Path, template: str, index: int, chunks_size: int = CHUNKS_SIZE,
                    video_key: str = VIDEO_KEY) -> Path:
    """An episode's data or video file from a v2.x `info.json` path template."""
    return root / template.format(episode_chunk=index // chunks_size, episode_index=index, video_key=video_key)


def frame_features(width: int, names: list[str] | None) -> dict[str, dict]:
    """`info.json` features of the per-frame columns: `width`-D state and action, timestamp, the indices."""
    vector = {"dtype": "float32", "shape": [width], "names": names}
    return {STATE_KEY: dict(vector), ACTION_KEY: dict(vector),
            TIMESTAMP_KEY: {"dtype": "float32", "shape": [1], "names": None},
            **{key: {"dtype": "int64", "shape": [1], "names": None} for key in INDEX_KEYS}}


def info_fps(fps: float) -> int | float:
    """`fps` as `info.json` holds it: an integer (LeRobot's `DatasetInfo.fps: int`) unless it is not one."""
    return int(fps) if float(fps).is_integer() else float(fps)


def video_feature(width: int, height: int, codec: str, fps: float) -> dict[str, object]:
    """`info.json` feature of an RGB video (yuv420p, no audio)."""
    return {"dtype": "video", "shape": [height, width, 3], "names": ["height", "width", "channels"],
            "info": {"video.height": height, "video.width": width, "video.codec": codec,
                     "video.pix_fmt": "yuv420p", "video.is_depth_map": False, "video.fps": info_fps(fps),
                     "video.channels": 3, "has_audio": False}}


def language_features() -> dict[str, dict]:
    """`info.json` features of LeRobot 0.6's two language columns (`language_feature_info`)."""
    return {key: {"dtype": "language", "shape": [1], "names": None} for key in (LANGUAGE_PERSISTENT, LANGUAGE_EVENTS)}


def hf_features(width: int, action_width: int | None = None) -> str:
    """The `huggingface` schema metadata (datasets Features JSON) LeRobot's Parquet files carry."""
    value = {"dtype": "float32", "_type": "Value"}
    lengths = {STATE_KEY: width, ACTION_KEY: width if action_width is None else action_width}
    features = {key: {"feature": value, "length": lengths[key], "_type": "Sequence"} for key in lengths}
    features |= {TIMESTAMP_KEY: value} | {key: {"dtype": "int64", "_type": "Value"} for key in INDEX_KEYS}
    return json.dumps({"info": {"features": features}})


def gr00t_modality(groups: dict[str, dict[str, int]]) -> dict[str, object]:
    """GR00T `modality.json`: the state/action `groups` ({name: {start, end}}), the video, the task annotation.

    Groups named `*rot6d*` are tagged `"rotation_type": "rotation_6d"` (GR00T's schema). An export with
    segments adds the channel `SUBTASK_ANNOTATION` (curation/export_v21.py).
    """
    tagged = {name: {**span, **({"rotation_type": "rotation_6d"} if "rot6d" in name else {})}
              for name, span in groups.items()}
    return {"state": tagged, "action": tagged, "video": {"ego_view": {"original_key": VIDEO_KEY}},
            "annotation": {"human.task_description": {"original_key": "task_index"}}}
