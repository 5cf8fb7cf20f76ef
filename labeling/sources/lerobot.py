"""LeRobot datasets (v2.0, v2.1 with optional GR00T `modality.json`, and v3.0): one robot clip
per episode, its task text, video (path and time range inside the file) and state/action vectors.

Metadata that disagrees with the files is reported, not trusted: an episode whose data file is
missing, or whose every declared camera has no video, fails alone with its reason; counts that
differ from what the files hold become warnings.

Which features are the state and action vectors is decided once per dataset
(`labeling.sources.lerobot_features`); the chosen keys and one name per dimension are stored
with every episode (`clips.state_key`, `state_names`, ...). A frame whose vector holds NaN or
infinity is stored without that vector (NULL), and the episode's warning counts such frames.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labeling.media.video import VideoError, VideoInfo, probe_video

from .base import (
    FileStamp,
    IngestError,
    KnownFiles,
    SourceItem,
    clip_row,
    file_digest,
    make_clip_id,
    stamp_columns,
)
from .lerobot_features import FeatureMap, choose_vectors
from .lerobot_layout import (
    CHUNKS_SIZE,
    DATA_CHUNK_COLUMN,
    DATA_FILE_COLUMN,
    EPISODES_FILES_GLOB,
    EPISODES_JSONL_PATH,
    INFO_PATH,
    MODALITY_PATH,
    TASKS_JSONL_PATH,
    TASKS_PARQUET_PATH,
    TIMESTAMP_KEY,
    V30,
    video_column,
)

SUPPORTED_VERSIONS = ("v2.0", "v2.1", V30)


def is_lerobot_dataset(path: Path) -> bool:
    return (path / INFO_PATH).is_file()


@dataclass
class DatasetRead:
    """What reading one dataset gave: episodes, per-episode failures, dataset-level warnings."""

    items: list[SourceItem] = field(default_factory=list)
    failures: list[IngestError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0  # episodes already catalogued
    vectors: FeatureMap | None = None  # which features are the state and action (None: metadata unreadable)


@dataclass
class _Episode:
    index: int
    data_file: Path
    tasks: list[str]
    length: int | None
    videos: dict[str, tuple[Path, float | None, float | None]]  # key -> (path, from_s, to_s)


def _load_json(path: Path, root: Path) -> object:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise IngestError(root, f"missing {path.relative_to(root)}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IngestError(root, f"{path.relative_to(root)} is not valid JSON ({exc})") from exc


def _load_jsonl(path: Path, root: Path) -> list[dict]:
    if not path.is_file():
        raise IngestError(root, f"missing {path.relative_to(root)}")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise IngestError(root, f"{path.relative_to(root)} line {number}: invalid JSON ({exc})") from exc
    return rows


def _format(template: str, root: Path, **values: object) -> Path:
    try:
        path = Path(os.path.normpath(root / template.format(**values)))
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise IngestError(root, f"info.json path template {template!r} cannot be filled: {exc}") from exc
    # Metadata is input too: an absolute or `..` template must not make us read files elsewhere.
    if not path.is_relative_to(root):
        raise IngestError(root, f"info.json path template {template!r} leads outside the dataset ({path})")
    return path


def _episodes_v2(root: Path, info: dict, video_keys: list[str]) -> list[_Episode]:
    chunks_size = int(info.get("chunks_size") or CHUNKS_SIZE)
    episodes = []
    for row in _load_jsonl(root / EPISODES_JSONL_PATH, root):
        index = int(row["episode_index"])
        chunk = index // chunks_size
        data = _format(info["data_path"], root, episode_chunk=chunk, episode_index=index)
        videos = {}
        for key in video_keys:
            path = _format(info.get("video_path") or "", root, episode_chunk=chunk, video_key=key,
                           episode_index=index)
            videos[key] = (path, None, None)
        episodes.append(_Episode(index, data, list(row.get("tasks") or []), row.get("length"), videos))
    return episodes


def _episodes_v3(root: Path, info: dict, video_keys: list[str]) -> list[_Episode]:
    files = sorted(root.glob(EPISODES_FILES_GLOB))
    if not files:
        raise IngestError(root, f"v3.0 dataset without {EPISODES_FILES_GLOB}")
    table = pa.concat_tables(pq.read_table(f) for f in files).to_pylist()
    episodes = []
    for row in table:
        data = _format(info["data_path"], root, chunk_index=row[DATA_CHUNK_COLUMN], file_index=row[DATA_FILE_COLUMN])
        videos = {}
        for key in video_keys:
            chunk, file = row.get(video_column(key, "chunk_index")), row.get(video_column(key, "file_index"))
            if chunk is None or file is None:
                continue
            path = _format(info.get("video_path") or "", root, video_key=key, chunk_index=chunk, file_index=file)
            from_s, to_s = row.get(video_column(key, "from_timestamp")), row.get(video_column(key, "to_timestamp"))
            videos[key] = (path, from_s, to_s)
        episodes.append(_Episode(int(row["episode_index"]), data, list(row.get("tasks") or []),
                                 row.get("length"), videos))
    return episodes


def _task_table(root: Path, version: str) -> dict[int, str]:
    if version == V30:
        path = root / TASKS_PARQUET_PATH
        if not path.is_file():
            raise IngestError(root, f"missing {TASKS_PARQUET_PATH}")
        frame = pq.read_table(path).to_pandas()
        if "task" not in frame.columns:
            frame = frame.reset_index().rename(columns={frame.index.name or "index": "task"})
        return {int(i): str(t) for i, t in zip(frame["task_index"], frame["task"], strict=True)}
    rows = _load_jsonl(root / TASKS_JSONL_PATH, root)
    return {int(r["task_index"]): str(r["task"]) for r in rows}


def read_lerobot(root: Path, known: KnownFiles | None = None, state_key: str | None = None,
                 action_key: str | None = None) -> DatasetRead:
    """Read every episode of a dataset; failures of single episodes do not stop the others.

    `state_key` / `action_key` name the vectors where the dataset's own names do not say
    (`labeling.sources.lerobot_features`).

    Raises:
        IngestError: the dataset itself is unreadable (info.json missing/invalid, unknown version),
            or an override names no float vector feature of it.
    """
    root = root.resolve()
    result = DatasetRead()
    try:
        context, episodes = _open_dataset(root, result, state_key, action_key)
    except IngestError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OSError, pa.ArrowException) as exc:
        # Metadata of the right files can still hold the wrong shapes (rows without keys, strings for numbers).
        raise IngestError(root, f"malformed LeRobot metadata ({type(exc).__name__}: {exc})") from exc
    for episode in episodes:
        try:
            item = context.read_episode(episode, known)
        except IngestError as exc:
            result.failures.append(exc)
            continue
        except (KeyError, TypeError, ValueError, OSError, pa.ArrowException) as exc:
            result.failures.append(IngestError(f"{root} episode {episode.index}",
                                               f"malformed episode data ({type(exc).__name__}: {exc})"))
            continue
        if isinstance(item, str):
            result.skipped += 1
        else:
            result.items.append(item)
    return result


def _open_dataset(root: Path, result: DatasetRead, state_key: str | None = None,
                  action_key: str | None = None) -> tuple[_DatasetContext, list[_Episode]]:
    """Read and check the dataset's metadata; count mismatches go to `result.warnings`."""
    info = _load_json(root / INFO_PATH, root)
    if not isinstance(info, dict):
        raise IngestError(root, "meta/info.json is not a JSON object")
    version = str(info.get("codebase_version", ""))
    if version not in SUPPORTED_VERSIONS:
        raise IngestError(root, f"unsupported LeRobot codebase_version {version!r}; supported: {SUPPORTED_VERSIONS}")
    for key in ("fps", "data_path", "features"):
        if key not in info:
            raise IngestError(root, f"meta/info.json has no {key!r}")
    fps, features = info["fps"], info["features"]
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < 1e6:
        raise IngestError(root, f"meta/info.json 'fps' must be a positive number, got {fps!r}")
    if not isinstance(features, dict) or not isinstance(info["data_path"], str):
        raise IngestError(root, "meta/info.json 'features' must be an object and 'data_path' a string")
    video_keys = [k for k, f in features.items() if isinstance(f, dict) and f.get("dtype") == "video"]
    episodes = (_episodes_v3 if version == V30 else _episodes_v2)(root, info, video_keys)
    context = _DatasetContext(root, info, version, _task_table(root, version), features, state_key, action_key)
    result.vectors = context.vectors
    declared = info.get("total_episodes")
    if declared is not None and declared != len(episodes):
        result.warnings.append(f"{root}: info.json says {declared} episodes, the episode index lists {len(episodes)}")
    return context, episodes


class _DatasetContext:
    """Per-dataset caches (file digests, video probes, data tables) while reading episodes."""

    def __init__(self, root: Path, info: dict, version: str, tasks: dict[int, str], features: dict,
                 state_key: str | None = None, action_key: str | None = None) -> None:
        self.root, self.info, self.version, self.tasks = root, info, version, tasks
        self.fps = float(info["fps"])
        modality = root / MODALITY_PATH
        self.modality = json.loads(modality.read_text()) if modality.is_file() else None
        self.vectors = choose_vectors(features, self.modality, state_key, action_key, root)
        self._digests: dict[Path, str] = {}
        self._probes: dict[Path, VideoInfo] = {}
        self._tables: dict[Path, pa.Table] = {}

    def _table(self, path: Path) -> pa.Table:
        if path not in self._tables:
            try:
                self._tables = {path: pq.read_table(path)}  # keep one: v3 files hold many episodes
            except (OSError, pa.ArrowInvalid) as exc:
                raise IngestError(path, f"unreadable Parquet ({exc})") from exc
        return self._tables[path]

    def _probe(self, path: Path) -> VideoInfo:
        if path not in self._probes:
            try:
                self._probes[path] = probe_video(path)
            except VideoError as exc:
                raise IngestError(path, str(exc).removeprefix(f"{path}: ")) from exc
        return self._probes[path]

    def read_episode(self, episode: _Episode, known: KnownFiles | None) -> SourceItem | str:
        label = f"{self.root} episode {episode.index}"
        if not episode.data_file.is_file():
            raise IngestError(label, f"data file {episode.data_file.relative_to(self.root)} is missing")
        stamp = FileStamp.of(episode.data_file)
        if known and (stamp, episode.index) in known:
            return known[(stamp, episode.index)]
        video_key, (video, from_s, to_s) = self._pick_video(episode, label)
        table = self._episode_rows(episode)
        n = table.num_rows
        if n == 0:
            raise IngestError(label, f"no rows for this episode in {episode.data_file.relative_to(self.root)}")
        warnings = []
        if episode.length is not None and int(episode.length) != n:
            warnings.append(f"{label}: metadata says {episode.length} frames, the data file holds {n}")
        state, state_bad = vector_column(table, self.vectors.state.key, n)
        action, action_bad = vector_column(table, self.vectors.action.key, n)
        for name, bad in (("state", state_bad), ("action", action_bad)):
            if bad:
                warnings.append(f"{label}: {bad} of {n} frames have NaN or infinite values in the {name} vector "
                                f"({getattr(self.vectors, name).key!r}); those frames are stored without it")
        if episode.data_file not in self._digests:
            self._digests[episode.data_file] = file_digest(episode.data_file)
        clip_id = make_clip_id("lerobot", self._digests[episode.data_file], episode.index)
        probe = self._probe(video)
        from_s = float(from_s) if from_s is not None else 0.0
        to_s = float(to_s) if to_s is not None else from_s + n / self.fps
        clip = clip_row(
            clip_id=clip_id, kind="robot", source="lerobot", path=str(video.resolve()), fps=self.fps,
            n_frames=n, duration_s=n / self.fps, width=probe.width, height=probe.height,
            codec=probe.codec, task=self._task_text(table, episode), task_slug=self.root.name,
            dataset=str(self.root), episode_index=episode.index, video_key=video_key,
            video_from_s=from_s, video_to_s=to_s, robot_type=self.info.get("robot_type"),
            state_key=self.vectors.state.key, action_key=self.vectors.action.key,
            state_names=_names_json(self.vectors.state, state), action_names=_names_json(self.vectors.action, action),
            extra=json.dumps({"codebase_version": self.version, "modality": self.modality,
                              "vectors": self.vectors.as_json()}),
            **stamp_columns(stamp))
        frames = self._robot_frames(clip_id, table, state, action)
        return SourceItem(clip=clip, robot_frames=frames, warnings=warnings)

    def _pick_video(self, episode: _Episode, label: str) -> tuple[str, tuple[Path, float | None, float | None]]:
        for key, entry in episode.videos.items():
            if entry[0].is_file():
                return key, entry
        looked = [str(p.relative_to(self.root)) for p, _, _ in episode.videos.values()]
        raise IngestError(label, f"no video file for any declared camera (looked for {looked or 'none declared'})")

    def _episode_rows(self, episode: _Episode) -> pa.Table:
        table = self._table(episode.data_file)
        if "episode_index" in table.column_names:
            table = table.filter(pc.equal(table["episode_index"], episode.index))
        order = "frame_index" if "frame_index" in table.column_names else "index"
        if order in table.column_names:
            table = table.sort_by(order)
        return table

    def _task_text(self, table: pa.Table, episode: _Episode) -> str | None:
        if "task_index" in table.column_names:
            most_common = Counter(table["task_index"].to_pylist()).most_common(1)[0][0]
            if most_common in self.tasks:
                return self.tasks[most_common]
        return episode.tasks[0] if episode.tasks else None

    def _robot_frames(self, clip_id: str, table: pa.Table, state: pa.Array, action: pa.Array) -> pa.Table:
        n = table.num_rows
        frame_index = np.arange(n, dtype=np.int32)
        source_ts = table[TIMESTAMP_KEY].to_numpy() if TIMESTAMP_KEY in table.column_names else np.full(n, np.nan)
        return pa.table({
            "clip_id": pa.array([clip_id] * n, pa.string()),
            "frame_index": frame_index,
            # The video starts at 0 even where a dataset's own timestamps start at 1/fps (GR00T).
            "timestamp_s": frame_index / self.fps,
            "source_timestamp_s": np.asarray(source_ts, np.float64),
            "state": state,
            "action": action,
        })


VECTOR_TYPE = pa.list_(pa.float32())


def vector_column(table: pa.Table, key: str | None, n: int) -> tuple[pa.Array, int]:
    """A vector column as `list<float32>`, and how many rows were set NULL for a NaN or infinite value.

    A missing key gives all NULLs; a scalar float column becomes one-element lists.
    """
    if key is None or key not in table.column_names:
        return pa.nulls(n, VECTOR_TYPE), 0
    column = table[key].combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        column = column.cast(pa.list_(column.type.value_type))
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        column = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), column)
    column = column.cast(VECTOR_TYPE)
    values = pc.list_flatten(column).to_numpy(zero_copy_only=False)
    bad_values = ~np.isfinite(np.asarray(values, dtype=np.float64))
    if not bad_values.any():
        return column, 0
    bad_rows = np.zeros(n, dtype=bool)
    bad_rows[pc.list_parent_indices(column).to_numpy()[bad_values]] = True
    return pc.if_else(pa.array(bad_rows), pa.scalar(None, VECTOR_TYPE), column), int(bad_rows.sum())


def _names_json(choice: object, column: pa.Array) -> str | None:
    """JSON list of one name per dimension of the stored vectors (None when the episode has none)."""
    widths = pc.list_value_length(column).drop_null()
    if choice.key is None or len(widths) == 0:
        return None
    return json.dumps(choice.names(int(pc.max(widths).as_py())))
