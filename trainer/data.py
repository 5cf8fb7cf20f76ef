"""Read EgoCurate exports (LeRobot v2.1 [+ GR00T modality] and v3.0) for training, with a frame cache.

    export = read_export(Path("exports/demo_v30"))            # metadata + state/action vectors in memory
    frames = cache_frames(export, Path("cache/trainer"), 64)  # decode + resize every frame once (uint8 .npy)
    ds = ChunkDataset(export, frames, episodes, chunk=16, norm=norm)
    loader = make_loader(ds, batch_size=32, seed=0, start_batch=0, workers=2)

Frames are decoded once per (dataset fingerprint, size) and stored as one uint8 `(T, S, S, 3)` array per
episode, memory-mapped by the loader's worker processes, so training never decodes video. The batch
sampler is an endless, seeded stream of batches: resuming at batch `k` gives exactly the batches an
uninterrupted run would have seen (the loader state is one integer).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from labeling.sources import lerobot_layout as layout
from labeling.sources.lerobot_layout import ACTION_KEY, STATE_KEY, VIDEO_KEY, v2_episode_file, video_column

HUMAN = "human"  # the embodiment name exports give human episodes
Float32 = npt.NDArray[np.float32]


@dataclass
class Episode:
    """One exported episode: identity, split, where its frames are, and its vectors."""

    index: int
    embodiment: str
    split: str  # train | validation
    task: str
    length: int
    video_path: Path
    video_start: int  # frame index of the episode's first frame inside `video_path`
    state: Float32  # (T, state_dim)
    action: Float32  # (T, action_dim)
    seconds: float


@dataclass
class ExportData:
    """An export read into memory (vectors only; frames come from `cache_frames`)."""

    root: Path
    version: str
    fps: float
    tasks: list[str]
    episodes: list[Episode]
    fingerprint: str  # sha256 of the metadata files: names the frame cache and goes into checkpoints
    weights: dict[str, float] | None = None  # a mixture's sampling weight per embodiment (trainer/mixture.py)

    def select(self, split: str | None = None, embodiments: set[str] | None = None) -> list[Episode]:
        """Episodes of one split (or all) and of some embodiments (or all)."""
        return [e for e in self.episodes if (split is None or e.split == split)
                and (embodiments is None or e.embodiment in embodiments)]

    def dims(self) -> dict[str, tuple[int, int]]:
        """embodiment -> (state_dim, action_dim)."""
        return {e.embodiment: (e.state.shape[1], e.action.shape[1]) for e in self.episodes}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _vectors(table: object, key: str) -> Float32:
    column = table.column(key).combine_chunks()
    return column.flatten().to_numpy().astype(np.float32).reshape(len(column), -1)


def read_export(root: Path) -> ExportData:
    """Read an export's metadata and vectors.

    Raises:
        ValueError: not a LeRobot v2.1/v3.0 dataset, or its metadata disagrees with its files (naming which).
    """
    root = Path(root)
    info_path = root / layout.INFO_PATH
    if not info_path.is_file():
        raise ValueError(f"{root}: not a LeRobot dataset (no meta/info.json)")
    info = json.loads(info_path.read_text())
    version, fps = str(info.get("codebase_version")), float(info["fps"])
    digest = hashlib.sha256(info_path.read_bytes())
    if version.startswith("v2"):
        rows, tasks = _meta_v2(root, digest)
    elif version == layout.V30:
        rows, tasks = _meta_v3(root, digest)
    else:
        raise ValueError(f"{info_path}: codebase_version {version!r} is not v2.x or v3.0")
    tables = _data_tables(root, info, rows, version)
    episodes = []
    for row in rows:
        index = int(row["episode_index"])
        table = tables.get(index)
        if table is None or table.num_rows != int(row["length"]):
            raise ValueError(f"{root}: episode {index} has {0 if table is None else table.num_rows} rows, "
                             f"meta says {row['length']}")
        video, start = _video_of(root, info, row, version, fps)
        episodes.append(Episode(
            index=index, embodiment=str(row.get("embodiment") or HUMAN), split=str(row.get("split") or "train"),
            task=str(list(row["tasks"])[0]), length=int(row["length"]), video_path=video, video_start=start,
            state=_vectors(table, STATE_KEY), action=_vectors(table, ACTION_KEY), seconds=int(row["length"]) / fps))
    return ExportData(root, version, fps, tasks, episodes, digest.hexdigest())


def _meta_v2(root: Path, digest: object) -> tuple[list[dict], list[str]]:
    episodes_path, tasks_path = root / layout.EPISODES_JSONL_PATH, root / layout.TASKS_JSONL_PATH
    for path in (episodes_path, tasks_path):
        if not path.is_file():
            raise ValueError(f"{root}: missing {path.relative_to(root)}")
        digest.update(path.read_bytes())
    tasks = [t["task"] for t in sorted(_jsonl(tasks_path), key=lambda t: t["task_index"])]
    return _jsonl(episodes_path), tasks


def _meta_v3(root: Path, digest: object) -> tuple[list[dict], list[str]]:
    files = sorted(root.glob(layout.EPISODES_FILES_GLOB))
    if not files:
        raise ValueError(f"{root}: v3.0 dataset without {layout.EPISODES_FILES_GLOB}")
    rows = []
    for path in files:
        digest.update(path.read_bytes())
        rows += pq.read_table(path).to_pylist()
    tasks_table = pq.read_table(root / layout.TASKS_PARQUET_PATH).to_pandas()
    tasks = [str(t) for t in tasks_table.sort_values("task_index").index]
    return sorted(rows, key=lambda r: r["episode_index"]), tasks


def _data_tables(root: Path, info: dict, rows: list[dict], version: str) -> dict[int, object]:
    """episode_index -> its rows (sorted by frame_index), reading each data file once."""
    files: set[Path] = set()
    for row in rows:
        index = int(row["episode_index"])
        if version.startswith("v2"):
            files.add(v2_episode_file(root, info["data_path"], index, _chunks_size(info)))
        else:
            files.add(root / info["data_path"].format(chunk_index=row[layout.DATA_CHUNK_COLUMN],
                                                      file_index=row[layout.DATA_FILE_COLUMN]))
    out = {}
    for path in sorted(files):
        if not path.is_file():
            raise ValueError(f"{root}: missing data file {path.relative_to(root)}")
        frame = pq.read_table(path, columns=["episode_index", "frame_index", STATE_KEY, ACTION_KEY])
        order = np.lexsort((frame.column("frame_index").to_numpy(), frame.column("episode_index").to_numpy()))
        frame = frame.take(order)
        episode = frame.column("episode_index").to_numpy()
        for index in np.unique(episode):
            lo, hi = np.searchsorted(episode, index), np.searchsorted(episode, index, side="right")
            out[int(index)] = frame.slice(lo, hi - lo)
    return out


def _chunks_size(info: dict) -> int:
    return int(info.get("chunks_size") or layout.CHUNKS_SIZE)


def _video_of(root: Path, info: dict, row: dict, version: str, fps: float) -> tuple[Path, int]:
    index = int(row["episode_index"])
    if version.startswith("v2"):
        return v2_episode_file(root, info["video_path"], index, _chunks_size(info)), 0
    path = root / info["video_path"].format(video_key=VIDEO_KEY,
                                            chunk_index=row[video_column(VIDEO_KEY, "chunk_index")],
                                            file_index=row[video_column(VIDEO_KEY, "file_index")])
    return path, int(round(float(row[video_column(VIDEO_KEY, "from_timestamp")]) * fps))


def cache_frames(export: ExportData, cache_dir: Path, size: int) -> Path:
    """Decode and resize (to `size x size`) every episode's frames once; returns the cache folder.

    Each video file is decoded once, front to back, whatever number of episodes share it (v3.0).
    Files are written to a temporary name and renamed, so a killed run never leaves a short file.
    """
    out = Path(cache_dir) / f"{export.fingerprint[:16]}-{size}px"
    out.mkdir(parents=True, exist_ok=True)
    todo: dict[Path, list[Episode]] = {}
    for episode in export.episodes:
        if not (out / f"episode_{episode.index:06d}.npy").is_file():
            todo.setdefault(episode.video_path, []).append(episode)
    for path, episodes in todo.items():
        _decode_into(path, episodes, size, out)
    return out


def _decode_into(path: Path, episodes: list[Episode], size: int, out: Path) -> None:
    if not path.is_file():
        raise ValueError(f"{path}: video file missing")
    buffers = {e.index: np.zeros((e.length, size, size, 3), np.uint8) for e in episodes}
    end = max(e.video_start + e.length for e in episodes)
    last = np.zeros((size, size, 3), np.uint8)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for number, frame in enumerate(container.decode(stream)):
            if number >= end:
                break
            wanted = [e for e in episodes if e.video_start <= number < e.video_start + e.length]
            if not wanted:
                continue
            last = frame.reformat(width=size, height=size, format="rgb24").to_ndarray()
            for e in wanted:
                buffers[e.index][number - e.video_start] = last
    for e in episodes:
        tmp = out / f".episode_{e.index:06d}.{os.getpid()}.npy"
        np.save(tmp, buffers[e.index])
        os.replace(tmp, out / f"episode_{e.index:06d}.npy")


STD_FLOOR = 0.05  # the least std a dimension is divided by, in its own unit (0.05 rad ~ 3 deg, 5 cm, 5% of 0..1)


def fit_norm(episodes: list[Episode]) -> dict[str, dict[str, list[float]]]:
    """Per-embodiment mean and std of state and action over `episodes`, std floored at `STD_FLOOR`.

    A dimension that barely moves in the training episodes (a finger held still) would otherwise be
    divided by its tiny std, and the validation loss would be its first real motion blown up a
    thousandfold, not comparable to the training loss.
    """
    out: dict[str, dict[str, list[float]]] = {}
    for name in sorted({e.embodiment for e in episodes}):
        mine = [e for e in episodes if e.embodiment == name]
        stats = {}
        for key in ("state", "action"):
            values = np.concatenate([getattr(e, key) for e in mine]).astype(np.float64)
            stats[f"{key}_mean"] = values.mean(0).tolist()
            stats[f"{key}_std"] = np.maximum(values.std(0), STD_FLOOR).tolist()
        out[name] = stats
    return out


class ChunkDataset(Dataset):
    """One sample per (episode, frame): image, normalized state, the next `chunk` normalized actions.

    A chunk running past the episode's end repeats the last action (the robot holds still). Vectors
    are zero-padded to `widths` (the widest state and action of the policy's embodiments), so one
    batch can mix embodiments.
    """

    def __init__(self, episodes: list[Episode], frames_dir: Path, chunk: int, norm: dict[str, dict[str, list[float]]],
                 embodiments: list[str], tasks: list[str], widths: tuple[int, int]) -> None:
        self.episodes, self.frames_dir, self.chunk, self.widths = episodes, Path(frames_dir), chunk, widths
        self.index = np.array([(i, t) for i, e in enumerate(episodes) for t in range(e.length)], np.int64)
        self.embodiment_ids = [embodiments.index(e.embodiment) for e in episodes]
        self.task_ids = [tasks.index(e.task) for e in episodes]
        self.norm = {k: {s: np.asarray(v, np.float32) for s, v in n.items()} for k, n in norm.items()}
        self._frames: dict[int, np.ndarray] = {}  # memory maps, opened lazily in each worker

    def __len__(self) -> int:
        return len(self.index)

    def sample_probs(self, weights: dict[str, float] | None) -> npt.NDArray[np.float64] | None:
        """Per-sample probabilities giving each embodiment its share `weights` (None: sample uniformly).

        None too when the weights give what uniform sampling does (each embodiment's share of the samples).
        """
        if not weights or not len(self.index):
            return None
        embodiment = np.array([self.episodes[i].embodiment for i, _ in self.index])
        names, counts = np.unique(embodiment, return_counts=True)
        if any(str(n) not in weights for n in names):  # weights for another set of embodiments: ignore them
            return None
        share = np.array([max(float(weights[str(n)]), 0.0) for n in names])
        if share.sum() <= 0 or np.allclose(share / share.sum(), counts / counts.sum(), atol=1e-6):
            return None
        per_sample = (share / share.sum() / counts)[np.searchsorted(names, embodiment)]
        return per_sample / per_sample.sum()

    def frames(self, i: int) -> np.ndarray:
        if i not in self._frames:
            path = self.frames_dir / f"episode_{self.episodes[i].index:06d}.npy"
            self._frames[i] = np.load(path, mmap_mode="r")
        return self._frames[i]

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        i, t = (int(v) for v in self.index[item])
        episode, norm = self.episodes[i], self.norm[self.episodes[i].embodiment]
        steps = np.minimum(np.arange(t, t + self.chunk), episode.length - 1)
        state = (episode.state[t] - norm["state_mean"]) / norm["state_std"]
        action = (episode.action[steps] - norm["action_mean"]) / norm["action_std"]
        state = np.pad(state, (0, self.widths[0] - len(state))).astype(np.float32)
        action = np.pad(action, ((0, 0), (0, self.widths[1] - action.shape[1]))).astype(np.float32)
        image = np.ascontiguousarray(self.frames(i)[t]).transpose(2, 0, 1)
        return {"image": torch.from_numpy(np.ascontiguousarray(image)), "state": torch.from_numpy(state),
                "action": torch.from_numpy(action),
                "embodiment": torch.tensor(self.embodiment_ids[i]), "task": torch.tensor(self.task_ids[i])}


class StreamSampler(Sampler[list[int]]):
    """An endless stream of batches: epoch `k` is a permutation seeded by `seed + k`, batches drop the tail.

    Starting at batch `start` is the same stream with the first `start` batches skipped, which is
    what makes resume exact. Under DDP each rank takes its `rank::world` slice of every global batch.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int = 0, rank: int = 0, world: int = 1,
                 probs: npt.NDArray[np.float64] | None = None) -> None:
        if n < batch_size:
            raise ValueError(f"batch_size {batch_size} exceeds the {n} training samples")
        self.n, self.batch_size, self.seed, self.start, self.rank, self.world = n, batch_size, seed, start, rank, world
        self.probs = probs  # a mixture's per-sample probabilities: epochs draw with replacement (None: permute)

    def __iter__(self) -> Iterator[list[int]]:
        per_epoch = self.n // self.batch_size
        batch = self.start
        while True:
            epoch, offset = divmod(batch, per_epoch)
            rng = np.random.default_rng(self.seed + epoch)
            order = rng.permutation(self.n) if self.probs is None else rng.choice(self.n, self.n, p=self.probs)
            for b in range(offset, per_epoch):
                yield order[b * self.batch_size:(b + 1) * self.batch_size][self.rank::self.world].tolist()
            batch = (epoch + 1) * per_epoch


def make_loader(dataset: ChunkDataset, batch_size: int, seed: int, start_batch: int, workers: int,
                rank: int = 0, world: int = 1, probs: npt.NDArray[np.float64] | None = None) -> DataLoader:
    """A DataLoader over the endless batch stream, starting after `start_batch` batches."""
    sampler = StreamSampler(len(dataset), batch_size, seed, start_batch, rank, world, probs)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=workers, pin_memory=torch.cuda.is_available(),
                      persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None)


def nested_subset(episodes: list[Episode], fraction: float, seed: int) -> list[Episode]:
    """The human episodes making up the first `fraction` of human hours in one seeded order; others kept.

    The order does not depend on `fraction`, so smaller fractions are subsets of larger ones (the
    scaling runs' nested data). It deals the tasks round-robin, so a fraction spreads over the tasks
    as evenly as its size allows: a plain shuffle can leave a task out of half the hours, and the
    loss then measures which tasks were drawn more than how much data there was. At least one human
    episode is kept when there is one.
    """
    human = [e for e in episodes if e.embodiment == HUMAN]
    if fraction >= 1.0 or not human:
        return list(episodes)
    order = _task_round_robin(human, seed)
    budget, kept, seconds = fraction * sum(e.seconds for e in human), set(), 0.0
    for i in order:
        if kept and seconds >= budget:
            break
        kept.add(human[i].index)
        seconds += human[i].seconds
    return [e for e in episodes if e.embodiment != HUMAN or e.index in kept]


def _task_round_robin(episodes: list[Episode], seed: int) -> list[int]:
    """Indices of `episodes`: one episode of each task in turn (tasks and episodes within a task in a seeded order)."""
    rng = np.random.default_rng(seed)
    tasks = sorted({e.task for e in episodes})
    by_task = [[i for i in rng.permutation(len(episodes)).tolist() if episodes[i].task == task]
               for task in (tasks[k] for k in rng.permutation(len(tasks)))]
    return [queue[k] for k in range(max(map(len, by_task))) for queue in by_task if k < len(queue)]
