"""Read a mixed-embodiment export (curation/export_mixture.py) as one training set: one adapter per embodiment.

    data = read_training_data(Path("exports/g1-mix"))   # a mixture folder, or one LeRobot export
    data.weights                                        # embodiment -> sampling weight (mixture.json), or None

Every dataset of the mixture is read with `read_export`; episodes are numbered across datasets (the
frame cache and checkpoints name them by that number), tasks are merged, and the fingerprint covers
`mixture.json` and every dataset's. Each dataset holds one embodiment, so its sampling weight is that
embodiment's: `ChunkDataset.sample_probs` turns the weights into per-sample probabilities.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from labeling.sources.lerobot_layout import INFO_PATH, MIXTURE_PATH

if TYPE_CHECKING:  # trainer.data imports torch and PyAV: the Train page checks folders without them
    from .data import ExportData


def is_training_data(folder: Path | str) -> bool:
    """Whether a folder is something `read_training_data` reads: a LeRobot export or a mixture of them."""
    return (Path(folder) / INFO_PATH).is_file() or (Path(folder) / MIXTURE_PATH).is_file()


def read_training_data(root: Path | str) -> ExportData:
    """A mixture folder (every dataset, weights from its manifest), else one LeRobot export."""
    from .data import read_export

    root = Path(root)
    return read_mixture(root) if (root / MIXTURE_PATH).is_file() else read_export(root)


def read_mixture(root: Path) -> ExportData:
    """Every dataset of a mixture as one `ExportData`.

    Raises:
        ValueError: mixture.json is unreadable or names a dataset that cannot be read (naming which).
    """
    from .data import ExportData, read_export

    path = root / MIXTURE_PATH
    try:
        mixture = json.loads(path.read_text())
        datasets = list(mixture["datasets"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a mixture manifest ({exc})") from exc
    digest = hashlib.sha256(path.read_bytes())
    episodes, tasks, parts = [], [], []
    for entry in datasets:
        part = read_export(root / str(entry["path"]))
        digest.update(part.fingerprint.encode())
        offset = len(episodes)
        episodes += [dataclasses.replace(e, index=offset + e.index) for e in part.episodes]
        tasks += [t for t in part.tasks if t not in tasks]
        parts.append(part)
    if not parts:
        raise ValueError(f"{path}: lists no datasets")
    weights = {str(e["embodiment"]): float(e.get("weight", 1.0)) for e in datasets}
    return ExportData(root, parts[0].version, parts[0].fps, tasks, episodes, digest.hexdigest(), weights)
