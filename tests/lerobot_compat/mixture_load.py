"""Load one dataset of a mixed-embodiment export with LeRobot's own `LeRobotDataset`; print one JSON line.

Runs inside a LeRobot virtualenv (.venv-lerobot: 0.4.4, .venv-lerobot061: 0.6.1), never imported by our tests:

    <venv>/bin/python tests/lerobot_compat/mixture_load.py DATASET_DIR WORK_DIR

A v2.1 dataset is first converted with LeRobot's own converter (`convert_dataset_v21_to_v30`, offline,
on a copy under WORK_DIR), as LeRobot >= 0.4 asks of v2.1 datasets; a v3.0 one is loaded as it is.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def _jsonlines_stand_in() -> None:
    """The converter reads the v2.1 `.jsonl` files with the `jsonlines` package, which LeRobot's wheel does
    not install; where it is missing, a reader of one JSON value per line stands in (that is all it reads)."""
    try:
        import jsonlines  # noqa: F401
    except ModuleNotFoundError:
        import contextlib
        import types

        @contextlib.contextmanager
        def reader(path, mode="r"):  # noqa: ANN001, ANN202 (jsonlines.open's signature)
            with open(path, encoding="utf-8") as handle:
                yield [json.loads(line) for line in handle if line.strip()]

        sys.modules["jsonlines"] = types.SimpleNamespace(open=reader)


def _convert_v21(root: Path, work: Path) -> Path:
    _jsonlines_stand_in()
    from lerobot.datasets.v30.convert_dataset_v21_to_v30 import convert_dataset

    copy = work / "local" / root.name
    shutil.copytree(root, copy)
    convert_dataset(f"local/{root.name}", root=work, push_to_hub=False)
    return copy


def main(root: Path, work: Path) -> dict:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    version = json.loads((root / "meta" / "info.json").read_text())["codebase_version"]
    loaded_from = _convert_v21(root, work) if version == "v2.1" else root
    dataset = LeRobotDataset(f"local/{root.name}", root=loaded_from, video_backend="pyav")
    meta = dataset.meta
    items = []
    for index in sorted({0, len(dataset) // 2, len(dataset) - 1}):
        item = dataset[index]
        items.append({"index": index, "episode_index": int(item["episode_index"]),
                      "state_shape": list(item["observation.state"].shape),
                      "action_shape": list(item["action"].shape),
                      "image_shape": list(item["observation.images.ego_view"].shape), "task": item["task"]})
    episodes = meta.episodes
    return {"version": version, "num_episodes": dataset.num_episodes, "num_frames": dataset.num_frames,
            "fps": meta.fps, "state_names": meta.features["observation.state"]["names"],
            "action_names": meta.features["action"]["names"],
            "embodiments": list(episodes["embodiment"]) if "embodiment" in episodes.column_names else None,
            "items": items}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())))
