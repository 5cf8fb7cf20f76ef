"""Export of mixed embodiments: one LeRobot dataset per embodiment, a mixture manifest, pairs across them.

When an export's robot episodes do not all share the human 62-D layout, `run_export` writes a folder:

```
<out>/
  mixture.json              datasets: name, path, embodiment tag, kind, episodes, frames, hours, sampling weight,
                            state/action names and widths, fps, splits; how `pairs.jsonl` links them
  pairs.jsonl               one line per accepted pair: {"human": {dataset, episode}, "robot": {dataset, episode}, ...}
  egocurate_manifest.json   the export's manifest (view, flags, pairs in and out, counts, file hashes)
  human/                    a LeRobot dataset (v2.1 or v3.0): the human episodes, 62-D layout
  <embodiment>/             a LeRobot dataset per robot embodiment, in its native state and action
                            (its own names and width), `meta/modality.json` from its spec under --gr00t
```

Every dataset is written by the format's own writer, checked, and read back with our LeRobot reader
before the folder is renamed into place (`run_export` makes it atomic). Sampling weights default
to each dataset's share of the hours (what sampling frames uniformly over the mixture gives). Cut clips
and segment labels go in as in a single dataset (the plan's episodes are pieces of clips: export_cuts,
export_language).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from db.engine import query_engine
from db.queries.clips import clips_by_id
from db.queries.frames import robot_state_rows
from db.queries.retargets import retarget_rows
from labeling.embodiment.spec import EmbodimentSpec
from labeling.embodiment.store import episode_specs
from labeling.sources import lerobot_layout as layout
from labeling.sources.lerobot import read_lerobot

from .action_layout import next_state_actions, state_names
from .export_cuts import EpisodesOfClip, pair_parts
from .export_episodes import EpisodeData, ImageStats, VideoSpec, clip_frames, human_episode_arrays
from .export_language import episode_subtasks, segments_by_clip, with_segment_tasks
from .export_manifest import build_manifest
from .export_plan import HUMAN_EMBODIMENT, ExportConfig, ExportPlan, split_ranges
from .export_v21 import V21Writer, check_v21, gr00t_modality
from .export_v30 import V30Writer, check_v30
from .pairing import human_state_62

Progress = Callable[[int, int, str], None]
WRITERS = {"lerobot-v2.1": (V21Writer, check_v21), "lerobot-v3": (V30Writer, check_v30)}
HUMAN_ROBOT_TYPE = "egocurate_human_hand22"  # info.json robot_type of the human dataset


class MixtureError(RuntimeError):
    """A mixed-embodiment export cannot be written (run_export reports it as its ExportError)."""


def _names(value: object) -> list[str] | None:
    names = json.loads(value) if isinstance(value, str) else None
    return [str(n) for n in names] if isinstance(names, list) else None


def needs_mixture(plan: ExportPlan) -> bool:
    """Whether some robot episode's state is not the 62-D human layout (then: one dataset per embodiment)."""
    robots = plan.episodes[plan.episodes["kind"] == "robot"]
    return any(_names(n) != list(state_names()) for n in robots["state_names"])


def dataset_name(embodiment: str) -> str:
    """The folder of an embodiment's dataset: its name, made a plain folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", embodiment).strip("-._")[:100] or "robot"


def embodiment_summary(plan: ExportPlan) -> pd.DataFrame:
    """Per embodiment: the dataset it goes to (one per embodiment when layouts differ), episodes, hours, state width."""
    columns = ["embodiment", "dataset", "episodes", "frames", "hours", "state_dims"]
    if plan.episodes.empty:
        return pd.DataFrame(columns=columns)
    mixed = needs_mixture(plan)
    rows = []
    for embodiment, group in plan.episodes.groupby("embodiment", sort=True):
        names = list(state_names()) if embodiment == HUMAN_EMBODIMENT else _names(group["state_names"].iloc[0])
        rows.append({"embodiment": embodiment, "dataset": dataset_name(embodiment) if mixed else "(one dataset)",
                     "episodes": len(group), "frames": int(group["n_frames"].sum()),
                     "hours": float(group["duration_s"].sum()) / 3600.0, "state_dims": len(names or [])})
    return pd.DataFrame(rows, columns=columns)


def spec_modality(spec: EmbodimentSpec | None, names: list[str], action_names: list[str]) -> dict[str, object]:
    """GR00T `modality.json` for a robot's own layout: groups from its spec (hands, wrists, named groups)."""
    return layout.gr00t_modality(spec_groups(spec, names)) | {"action": spec_groups(spec, action_names)}


def spec_groups(spec: EmbodimentSpec | None, names: list[str]) -> dict[str, dict[str, int]]:
    """`{group: {start, end}}` over `names`: each spec hand, wrist and named group (contiguous runs), rest `other`."""
    label = [""] * len(names)
    if spec is not None:
        wanted = {f"{side}_hand": [m.dim for m in hand.joints] for side, hand in spec.hands.items()}
        wanted |= {f"{side}_wrist": list(w.dims) for side, w in spec.wrist.items()} | dict(spec.groups)
        for group, dims in wanted.items():
            for dim in dims:
                if dim in names and not label[names.index(dim)]:
                    label[names.index(dim)] = group
    groups: dict[str, dict[str, int]] = {}
    start = 0
    for i in range(1, len(names) + 1):
        if i == len(names) or label[i] != label[start]:
            base = label[start] or ("state" if spec is None else "other")
            key, n = base, 2
            while key in groups:
                key, n = f"{base}_{n}", n + 1
            groups[key] = {"start": start, "end": i}
            start = i
    return groups


def _robot_arrays(root: Path, clip_id: str, n_frames: int, kept: slice = slice(None)
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The `kept` frames' state and action (without recorded actions: the next kept frame's state)."""
    rows = robot_state_rows(query_engine(root), [clip_id])
    states = rows.column("state").to_pylist()
    if len(states) != n_frames or any(s is None for s in states) or len({len(s) for s in states}) != 1:
        raise MixtureError(f"robot episode {clip_id}: state vectors missing or of varying width")
    state = np.asarray(states, dtype=np.float32)[kept]
    actions = rows.column("action").to_pylist()
    if any(a is None for a in actions) or len({len(a) for a in actions}) != 1:
        return state, next_state_actions(state).astype(np.float32)
    return state, np.asarray(actions, dtype=np.float32)[kept]


def _episode(root: Path, row: object, cfg: ExportConfig) -> EpisodeData:
    """Source frames `[frame_from, frame_to)` of the row's clip (human wrists relative to the first of them)."""
    filled, kept = 0, slice(row.frame_from, row.frame_to)
    if row.kind == "human":
        rows = retarget_rows(query_engine(root), [row.clip_id], cfg.embodiment)
        state_62, filled = human_state_62(rows, row.clip_n_frames)
        state, action = human_episode_arrays(state_62[kept])
    else:
        state, action = _robot_arrays(root, row.clip_id, row.clip_n_frames, kept)
    return EpisodeData(clip_id=row.clip_id, kind=row.kind, embodiment=row.embodiment, task=row.task,
                       pair_id=int(row.pair_id), pair_ids=list(row.pair_ids), split=row.split,
                       video_path=row.path, video_from_s=row.video_from_s, n_frames=row.n_frames,
                       state=state, action=action, filled_frames=filled,
                       kept_frames=[[int(row.frame_from), int(row.frame_to)]])


def _fps(episodes: pd.DataFrame, cfg: ExportConfig, name: str) -> float:
    rates = sorted(set(episodes["fps"].round(6)))
    if cfg.fps is not None and any(not math.isclose(r, cfg.fps, rel_tol=1e-6) for r in rates):
        raise MixtureError(f"{name}: clips run at {rates} fps; resampling to {cfg.fps} fps is not supported")
    if len(rates) > 1:
        raise MixtureError(f"{name}: the clips run at different frame rates {rates}: narrow the view to one")
    return float(rates[0])


def _layout(root: Path, name: str, episodes: pd.DataFrame) -> tuple[list[str], list[str], EmbodimentSpec | None]:
    """State names, action names and spec of one dataset (every episode must share them)."""
    if name == HUMAN_EMBODIMENT:
        return list(state_names()), list(state_names()), None
    clips = clips_by_id(query_engine(root), episodes["clip_id"].tolist())
    layouts = {(s, a) for s, a in zip(clips["state_names"], clips["action_names"], strict=True)}
    if len(layouts) != 1:
        raise MixtureError(f"the robot episodes of embodiment {name!r} have {len(layouts)} different state layouts: "
                           "give each its own embodiment spec")
    names, actions = (_names(v) for v in next(iter(layouts)))
    specs = [s for s in episode_specs(query_engine(root), episodes["clip_id"].tolist()).values()
             if isinstance(s, EmbodimentSpec)]
    return names or [], actions or names or [], specs[0] if specs else None


def dataset_video(root: Path, episodes: pd.DataFrame, video: VideoSpec) -> VideoSpec:
    """One dataset's video size: `video` as given, or (`keep_aspect`) its width and the height of the aspect most
    of its clips have, so 256x256 robot views are not pillarboxed into 320x240."""
    if not video.keep_aspect:
        return video
    sizes = clips_by_id(query_engine(root), episodes["clip_id"].tolist())[["width", "height"]].dropna()
    sizes = sizes[(sizes["width"] > 0) & (sizes["height"] > 0)]
    if sizes.empty:
        return video
    width, height = sizes.value_counts().index[0]
    return replace(video, height=max(16, round(video.width * float(height) / float(width) / 2) * 2))


def write_mixture(root: Path, cfg: ExportConfig, plan: ExportPlan, tmp: Path, export_id: int,
                  progress: Progress | None = None) -> dict:
    """Write every embodiment's dataset under `tmp`, then `pairs.jsonl`, `mixture.json` and the manifest.

    Returns the manifest (with the mixture under `"mixture"`). Raises MixtureError, or the writers' errors.
    """
    writer_cls, check = WRITERS[cfg.format]
    tmp.mkdir()
    groups = {name: group for name, group in plan.episodes.groupby("embodiment", sort=True)}
    total, done, where, datasets = len(plan.episodes), 0, {}, []
    subtasks = cfg.subtasks and not plan.segments.empty
    segments = segments_by_clip(plan.segments) if subtasks else {}
    for embodiment, episodes in groups.items():
        name, fps = dataset_name(embodiment), _fps(episodes, cfg, embodiment)
        names, actions, spec = _layout(root, embodiment, episodes)
        modality = gr00t_modality() if embodiment == HUMAN_EMBODIMENT else spec_modality(spec, names, actions)
        robot_type = HUMAN_ROBOT_TYPE if embodiment == HUMAN_EMBODIMENT else embodiment
        video = dataset_video(root, episodes, cfg.video)
        writer = writer_cls(tmp / name, fps, video, names, robot_type, cfg.gr00t, modality, actions,
                            subtasks=subtasks)
        tasks = list(dict.fromkeys(episodes["task"]))
        if subtasks and cfg.format == "lerobot-v2.1" and cfg.gr00t:  # GR00T's annotation column points here
            mine = dict.fromkeys(episodes["clip_id"])
            tasks = with_segment_tasks(tasks, [s for clip_id in mine for s in segments.get(clip_id, [])])
        try:
            for index, row in enumerate(episodes.itertuples()):
                if progress:
                    progress(done, total, f"{name}: episode {index + 1}/{len(episodes)} {row.clip_id[:12]}")
                episode = _episode(root, row, cfg)
                episode.episode_index, episode.task_index = index, tasks.index(row.task)
                episode.subtasks = episode_subtasks(segments.get(row.clip_id, []), row.frame_from, row.frame_to,
                                                    tasks)
                stats = ImageStats()
                frames = clip_frames(row.path, row.video_from_s, row.n_frames, video, stats, skip=row.frame_from)
                writer.add_episode(episode, frames, stats)
                where.setdefault(row.clip_id, []).append(({"dataset": name, "episode": index}, row.frame_from,
                                                          row.frame_to))
                done += 1
        finally:
            if hasattr(writer, "close_files"):
                writer.close_files()
        splits = split_ranges(episodes)
        writer.finalize(tasks, splits)
        _read_back(tmp / name, check, len(episodes), len(names))
        datasets.append({"name": name, "path": name, "embodiment": embodiment,
                         "kind": "human" if embodiment == HUMAN_EMBODIMENT else "robot", "format": cfg.format,
                         "episodes": len(episodes), "frames": int(episodes["n_frames"].sum()),
                         "hours": float(episodes["duration_s"].sum()) / 3600.0, "fps": fps, "splits": splits,
                         "state_dim": len(names), "action_dim": len(actions), "state_names": names,
                         "action_names": actions, "spec": spec.name if spec else None,
                         "video_size": [video.width, video.height]})
    hours = sum(d["hours"] for d in datasets) or 1.0
    for d in datasets:
        d["weight"] = d["hours"] / hours
    mixture = {"egocurate_mixture": 1, "export_id": export_id, "format": cfg.format, "datasets": datasets,
               "pairs": layout.MIXTURE_PAIRS_PATH, "weights": "share of the hours (edit to resample)"}
    _write_pairs(tmp, plan, where)
    (tmp / layout.MIXTURE_PATH).write_text(json.dumps(mixture, indent=2) + "\n")
    if progress:
        progress(total, total, "checked every dataset")
    manifest = build_manifest(tmp, cfg, plan, {d["name"]: d["fps"] for d in datasets}, export_id, where)
    manifest["mixture"] = mixture
    (tmp / layout.MIXTURE_MANIFEST_PATH).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def _write_pairs(tmp: Path, plan: ExportPlan, where: EpisodesOfClip) -> None:
    """A line per pair and per (human episode, robot episode) its warping path crosses, steps in their frames."""
    lines = [json.dumps({"pair_id": int(row.id), "pair_group": int(row.pair_id), "human": human, "robot": robot,
                         "cost": None if pd.isna(row.cost) else float(row.cost), "path": steps})
             for row, human, robot, steps in pair_parts(plan.pairs, where)]
    (tmp / layout.MIXTURE_PAIRS_PATH).write_text("".join(line + "\n" for line in lines))


def _read_back(folder: Path, check: Callable[[Path], int], n_episodes: int, width: int) -> None:
    """The format's own check, then our LeRobot reader must see every episode, its length and state width."""
    total = check(folder)
    read = read_lerobot(folder)
    problems = [f"{f.item}: {f.reason}" for f in read.failures] + read.warnings
    if problems or len(read.items) != n_episodes:
        raise MixtureError(f"{folder.name}: read-back found {len(read.items)}/{n_episodes} episodes: {problems[:3]}")
    if sum(item.clip["n_frames"] for item in read.items) != total:
        raise MixtureError(f"{folder.name}: read-back frame counts differ from the written episodes")
    if any(len(json.loads(item.clip["state_names"]) or []) != width for item in read.items):
        raise MixtureError(f"{folder.name}: read-back state width differs from {width}")
