"""Load a LeRobot v3.0 dataset with LeRobot's own `LeRobotDataset`; print what it saw as one JSON line.

Runs inside the separate lerobot venv (scripts/lerobot_venv.sh), never imported by our tests:

    /tmp/lerobot-venv/bin/python tests/lerobot_compat/lerobot_load.py DATASET_DIR [FRAMES.npz]

With FRAMES.npz, the decoded images of the probed items are saved there (uint8, (N, H, W, 3)).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def main(root: Path, frames_out: Path | None = None) -> dict:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    dataset = LeRobotDataset(f"local/{root.name}", root=root, video_backend="pyav")
    meta = dataset.meta
    probes = sorted({0, len(dataset) // 2, len(dataset) - 1})
    items, images = [], []
    for index in probes:
        item = dataset[index]
        frame = item["observation.images.ego_view"]
        images.append((frame.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
        items.append({"index": index, "episode_index": int(item["episode_index"]),
                      "frame_index": int(item["frame_index"]), "timestamp": float(item["timestamp"]),
                      "state_shape": list(item["observation.state"].shape), "image_shape": list(frame.shape),
                      "image_mean": float(frame.float().mean()), "task": item["task"]})
    if frames_out is not None:
        import numpy as np

        np.savez(frames_out, frames=np.stack(images))
    episodes = meta.episodes
    return {"num_episodes": dataset.num_episodes, "num_frames": dataset.num_frames, "fps": meta.fps,
            "video_keys": list(meta.video_keys), "tasks": list(meta.tasks.index),
            "embodiments": list(episodes["embodiment"]) if "embodiment" in episodes.column_names else None,
            "pair_ids": list(episodes["pair_id"]) if "pair_id" in episodes.column_names else None,
            "stats_keys": sorted(meta.stats or {}), "items": items}


if __name__ == "__main__":
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    print(json.dumps(main(Path(sys.argv[1]).resolve(), out)))
