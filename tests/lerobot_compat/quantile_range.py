"""LeRobot 0.6.1's QUANTILES normalisation of every frame's state and action; print, as one JSON line, the
share of frames each dimension keeps within [-1, 1].

Runs inside the LeRobot 0.6.1 venv (../shared/tools/lerobot061/build_venv.sh), never imported by our tests:

    VENV/bin/python tests/lerobot_compat/quantile_range.py DATASET_DIR [--convert WORK_DIR]

The stats are those LeRobot reads (`LeRobotDatasetMetadata.stats`, i.e. `meta/stats.json`); the frames are
every row of the dataset's Parquet files (no video decoded). `--convert` first converts a v2.1 dataset with
LeRobot's own converter and puts the export's `meta/stats.json` back, as the README says to (the
converter rewrites it from the per-episode stats, averaging their quantiles; lerobot_load.convert_v21).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
KEYS = ("observation.state", "action")
TOLERANCE = 1e-4  # float32 rounding at the q01 / q99 frames themselves


def frame_vectors(root: Path) -> dict[str, object]:
    """Every row's state and action, `(N, D)` float32 tensors."""
    import numpy as np
    import pyarrow.parquet as pq
    import torch

    tables = [pq.read_table(path, columns=list(KEYS)) for path in sorted((root / "data").rglob("*.parquet"))]
    return {key: torch.from_numpy(np.concatenate([np.asarray(t.column(key).to_pylist(), np.float32)
                                                  for t in tables])) for key in KEYS}


def main(root: Path, convert: Path | None = None) -> dict:
    from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature
    from lerobot.datasets.dataset_metadata import LeRobotDatasetMetadata
    from lerobot.processor import NormalizerProcessorStep, TransitionKey
    from lerobot.processor.converters import create_transition

    if convert is not None:
        from lerobot_load import convert_v21

        root = convert_v21(root, convert)
    meta = LeRobotDatasetMetadata(f"local/{root.name}", root=root)
    vectors = frame_vectors(root)
    features = {"observation.state": PolicyFeature(type=FeatureType.STATE, shape=(vectors[KEYS[0]].shape[1],)),
                "action": PolicyFeature(type=FeatureType.ACTION, shape=(vectors[KEYS[1]].shape[1],))}
    modes = {FeatureType.STATE: NormalizationMode.QUANTILES, FeatureType.ACTION: NormalizationMode.QUANTILES}
    step = NormalizerProcessorStep(features=features, norm_map=modes, stats=meta.stats)
    out = step(create_transition(observation={"observation.state": vectors["observation.state"]},
                                 action=vectors["action"]))
    normalized = {"observation.state": out[TransitionKey.OBSERVATION]["observation.state"],
                  "action": out[TransitionKey.ACTION]}
    return {"frames": len(vectors["action"]),
            "within": {key: ((value.abs() <= 1 + TOLERANCE).float().mean(0)).tolist()
                       for key, value in normalized.items()},
            "extreme": {key: value.abs().max(0).values.tolist() for key, value in normalized.items()}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--convert", type=Path, default=None)
    args = parser.parse_args()
    print(json.dumps(main(args.root.resolve(), args.convert)))
