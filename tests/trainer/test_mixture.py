"""A mixed-embodiment export as one training set (trainer/mixture.py): episodes numbered across datasets,
tasks merged, and the mixture's sampling weights turned into per-sample probabilities."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from trainer.data import ChunkDataset, Episode, StreamSampler, read_export
from trainer.mixture import is_training_data, read_mixture, read_training_data


def episode(index: int, embodiment: str, length: int, width: int) -> Episode:
    zeros = np.zeros((length, width), np.float32)
    return Episode(index=index, embodiment=embodiment, split="train", task="t", length=length,
                   video_path=Path("v.mp4"), video_start=0, state=zeros, action=zeros, seconds=length / 30)


def dataset(episodes: list[Episode]) -> ChunkDataset:
    norm = {e.embodiment: {k: [0.0] * e.state.shape[1] for k in ("state_mean", "action_mean")}
            | {k: [1.0] * e.state.shape[1] for k in ("state_std", "action_std")} for e in episodes}
    return ChunkDataset(episodes, Path("frames"), 4, norm, sorted(norm), ["t"], (62, 62))


def test_sampling_weights_become_per_sample_probabilities():
    data = dataset([episode(0, "human", 30, 62), episode(1, "human", 30, 62), episode(2, "g1", 20, 26)])
    assert data.sample_probs(None) is None
    assert data.sample_probs({"human": 60, "g1": 20}) is None  # the share uniform sampling gives anyway
    probs = data.sample_probs({"human": 0.5, "g1": 0.5})
    embodiment = np.array([data.episodes[i].embodiment for i, _ in data.index])
    assert probs.sum() == 1.0 or np.isclose(probs.sum(), 1.0)
    assert np.isclose(probs[embodiment == "g1"].sum(), 0.5) and np.isclose(probs[embodiment == "human"].sum(), 0.5)
    sampler = StreamSampler(len(data), 10, seed=3, probs=probs)
    batches = [b for _, b in zip(range(40), iter(sampler), strict=False)]
    drawn = embodiment[np.concatenate(batches)]
    assert abs((drawn == "g1").mean() - 0.5) < 0.1  # 20 of 80 samples, drawn half the time
    again = [b for _, b in zip(range(40), iter(StreamSampler(len(data), 10, seed=3, probs=probs)), strict=False)]
    assert again == batches  # seeded: a resumed run sees the same batches


def test_a_mixture_reads_as_one_set_with_episodes_numbered_across_datasets(demo_exports, tmp_path):
    mixture = tmp_path / "mix"
    for name in ("a", "b"):
        shutil.copytree(demo_exports["v30"], mixture / name)
    (mixture / "mixture.json").write_text(json.dumps({"datasets": [
        {"name": "a", "path": "a", "embodiment": "human", "weight": 0.25},
        {"name": "b", "path": "b", "embodiment": "robot", "weight": 0.75}]}))
    one = read_export(demo_exports["v30"])
    both = read_mixture(mixture)
    assert is_training_data(mixture) and read_training_data(mixture).fingerprint == both.fingerprint
    assert [e.index for e in both.episodes] == list(range(2 * len(one.episodes)))
    assert both.tasks == one.tasks and both.weights == {"human": 0.25, "robot": 0.75}
    assert both.episodes[len(one.episodes)].video_path.parent.parts[-4] == "b"
