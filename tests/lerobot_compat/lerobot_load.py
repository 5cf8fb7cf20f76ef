"""Load a dataset with LeRobot's own `LeRobotDataset` (0.4.4 or 0.6.1); print what it saw as one JSON line.

Runs inside a separate LeRobot venv (scripts/lerobot_venv.sh: 0.4.4; ../shared/tools/lerobot061/build_venv.sh:
0.6.1), never imported by our tests:

    VENV/bin/python tests/lerobot_compat/lerobot_load.py DATASET_DIR [FRAMES.npz] [--indices 0,17,40]
        [--convert WORK_DIR] [--quantiles]

With FRAMES.npz, the decoded images of the probed items are saved there (uint8, (N, H, W, 3)).
`--convert` first converts a v2.1 dataset with LeRobot's own v2.1 → v3.0 converter (on a copy under
WORK_DIR). `--quantiles` (0.6.1) normalises the probed items' state and action with LeRobot's
`NormalizerProcessorStep` in QUANTILES mode from the dataset's stats and reports them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
VIDEO_KEY = "observation.images.ego_view"


def _jsonlines_shim() -> None:
    """LeRobot 0.4.4's converter reads .jsonl with `jsonlines.open(path)`, a package its venv may lack
    (scripts/lerobot_venv.sh installs it now; a venv built before does not have it): the same reading."""
    try:
        import jsonlines  # noqa: F401
    except ModuleNotFoundError:
        import contextlib
        import sys
        import types

        @contextlib.contextmanager
        def open_(path: Path, mode: str = "r"):  # noqa: ANN202
            with open(path) as handle:
                yield [json.loads(line) for line in handle if line.strip()]

        sys.modules["jsonlines"] = types.SimpleNamespace(open=open_)


def convert_v21(root: Path, work: Path) -> Path:
    """A v3.0 copy of the v2.1 dataset `root`, made by LeRobot's own converter (either version's API)."""
    _jsonlines_shim()
    try:  # 0.6.x: --root is the dataset folder itself
        from lerobot.scripts.convert_dataset_v21_to_v30 import convert_dataset

        target = work / root.name
        shutil.copytree(root, target)
        convert_dataset(repo_id=f"local/{root.name}", root=str(target), push_to_hub=False)
    except ModuleNotFoundError:  # 0.4.x: the dataset lives at <root>/<repo_id>
        from lerobot.datasets.v30.convert_dataset_v21_to_v30 import convert_dataset

        target = work / "local" / root.name
        shutil.copytree(root, target)
        convert_dataset(repo_id=f"local/{root.name}", root=str(work), push_to_hub=False)
    return target


def subtask_at(item: dict) -> str | None:
    """The subtask LeRobot 0.6's renderer resolves at the item's timestamp (None without language rows)."""
    rows = item.get("language_persistent")
    if rows is None:
        return None
    from lerobot.datasets.language_render import active_at

    row = active_at(float(item["timestamp"]), persistent=rows, style="subtask")
    return None if row is None else row["content"]


def quantile_check(dataset: object, items: list[dict]) -> dict:
    """LeRobot 0.6's QUANTILES normalisation of the items' state and action, from the dataset's stats."""
    import torch
    from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature
    from lerobot.processor import NormalizerProcessorStep, TransitionKey
    from lerobot.processor.converters import create_transition

    width = len(items[0]["observation.state"])
    features = {"observation.state": PolicyFeature(type=FeatureType.STATE, shape=(width,)),
                "action": PolicyFeature(type=FeatureType.ACTION, shape=(width,))}
    modes = {FeatureType.STATE: NormalizationMode.QUANTILES, FeatureType.ACTION: NormalizationMode.QUANTILES}
    step = NormalizerProcessorStep.from_lerobot_dataset(dataset, features, modes)
    state = torch.stack([item["observation.state"] for item in items])
    action = torch.stack([item["action"] for item in items])
    out = step(create_transition(observation={"observation.state": state}, action=action))
    return {"observation.state": out[TransitionKey.OBSERVATION]["observation.state"].tolist(),
            "action": out[TransitionKey.ACTION].tolist()}


def main(root: Path, frames_out: Path | None = None, indices: list[int] | None = None,
         convert: Path | None = None, quantiles: bool = False) -> dict:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    if convert is not None:
        root = convert_v21(root, convert)
    dataset = LeRobotDataset(f"local/{root.name}", root=root, video_backend="pyav")
    meta = dataset.meta
    probes = indices if indices else sorted({0, len(dataset) // 2, len(dataset) - 1})
    items, images, raw = [], [], []
    for index in probes:
        item = dataset[index]
        raw.append(item)
        frame = item[VIDEO_KEY]
        images.append((frame.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
        items.append({"index": index, "episode_index": int(item["episode_index"]),
                      "frame_index": int(item["frame_index"]), "timestamp": float(item["timestamp"]),
                      "state_shape": list(item["observation.state"].shape), "image_shape": list(frame.shape),
                      "state": item["observation.state"].tolist(), "action": item["action"].tolist(),
                      "image_mean": float(frame.float().mean()), "task": item["task"], "subtask": subtask_at(item)})
    if frames_out is not None:
        import numpy as np

        np.savez(frames_out, frames=np.stack(images))
    episodes = meta.episodes
    extra = {key: list(episodes[key]) for key in ("embodiment", "pair_id", "clip_id", "kept_frames", "length")
             if key in episodes.column_names}
    return {"lerobot": metadata.version("lerobot"), "root": str(root), "num_episodes": dataset.num_episodes,
            "num_frames": dataset.num_frames, "fps": meta.fps, "video_keys": list(meta.video_keys),
            "tasks": list(meta.tasks.index), "embodiments": extra.get("embodiment"), "pair_ids": extra.get("pair_id"),
            "episodes": extra, "stats_keys": sorted(meta.stats or {}),
            "stat_names": sorted((meta.stats or {}).get("observation.state", {})), "items": items,
            "normalized": quantile_check(dataset, raw) if quantiles else None}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("frames", type=Path, nargs="?", default=None)
    parser.add_argument("--indices", default="")
    parser.add_argument("--convert", type=Path, default=None)
    parser.add_argument("--quantiles", action="store_true")
    args = parser.parse_args()
    chosen = [int(i) for i in args.indices.split(",") if i.strip()]
    print(json.dumps(main(args.root.resolve(), args.frames, chosen, args.convert, args.quantiles), default=str))
