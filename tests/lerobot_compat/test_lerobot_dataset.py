"""Our LeRobot v3.0 export loads in LeRobot's own `LeRobotDataset` (lerobot 0.4.4 and 0.6.1, each in its own venv).

lerobot's pins clash with ours, so each lives in a separate virtualenv (tests/lerobot_compat/venvs.py:
$LEROBOT_VENV built by `scripts/lerobot_venv.sh`, $LEROBOT061_VENV by `../shared/tools/lerobot061/build_venv.sh`).
Outside CI the test skips when a venv is absent; in CI it builds it (about 2-3 minutes, 1.5 GB) rather than skip.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.export_episodes import VideoSpec
from curation.export_lerobot import run_export
from curation.export_plan import ExportConfig
from labeling.media.video import iter_frames_rgb
from tests.curation.demo_retargets import accept_replayed_pairs, paired_demo_root

from . import venvs

LOADER = Path(__file__).with_name("lerobot_load.py")
LOAD_TIMEOUT_S = 600
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["0.4.4", "0.6.1"])
def lerobot_python(request) -> Path:
    return venvs.lerobot_python(request.param)


@pytest.fixture(scope="module")
def export_v30(tmp_path_factory) -> Path:
    root = paired_demo_root(tmp_path_factory.getbasetemp())
    accept_replayed_pairs(root)
    out = tmp_path_factory.mktemp("lerobot") / "demo-v30"
    return run_export(root, ExportConfig(out_dir=out, format="lerobot-v3", video=VideoSpec(width=96, height=72))
                      ).out_dir


def test_lerobot_dataset_loads_our_v30_export(lerobot_python, export_v30, tmp_path):
    frames_npz = tmp_path / "frames.npz"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([str(lerobot_python), str(LOADER), str(export_v30), str(frames_npz)], capture_output=True,
                          text=True, timeout=LOAD_TIMEOUT_S, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    info = json.loads((export_v30 / "meta" / "info.json").read_text())
    assert seen["num_episodes"] == info["total_episodes"] == 8
    assert seen["num_frames"] == info["total_frames"]
    assert sorted(seen["embodiments"]) == ["egocurate_hand22_bimanual"] * 4 + ["human"] * 4
    assert len(set(seen["pair_ids"])) == 4
    episodes = pq.read_table(export_v30 / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    lerobot_frames = np.load(frames_npz)["frames"].astype(np.int16)
    for item, image in zip(seen["items"], lerobot_frames, strict=True):
        assert item["state_shape"] == [62] and item["image_shape"] == [3, 72, 96]
        episode = episodes[item["episode_index"]]
        assert item["timestamp"] == pytest.approx(item["frame_index"] / 30.0, abs=1e-5)
        # LeRobot must decode the very frame we encoded there: frame `from_timestamp * fps + frame_index`.
        position = round(episode["videos/observation.images.ego_view/from_timestamp"] * 30) + item["frame_index"]
        video = export_v30 / "videos/observation.images.ego_view/chunk-000/file-000.mp4"
        ours = {i: f.astype(np.int16) for i, f in iter_frames_rgb(video) if abs(i - position) <= 3}
        errors = {i: np.abs(f - image).mean() for i, f in ours.items()}
        assert errors[position] < 4.0 and errors[position] == min(errors.values()), (position, errors)

