"""The exports as LeRobot itself reads them, 0.4.4 and 0.6.1 (#16): a clip cut at a confirmed flag, a CLI
segment as a 0.6 subtask, and 0.6's quantile normalisation from our stats.

Each LeRobot lives in its own venv (their pins clash with ours and with each other): $LEROBOT_VENV (0.4.4,
scripts/lerobot_venv.sh) and $LEROBOT061_VENV (0.6.1, ../shared/tools/lerobot061/build_venv.sh; `make
lerobot061-venv`). Outside CI a test skips when its venv is absent; in CI it builds it. LeRobot reads v3.0
only, so v2.1 exports go through LeRobot's own v2.1 → v3.0 converter first.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from curation.export_episodes import ImageStats, clip_frames
from db.engine import query_engine
from db.queries.clips import get_clip
from tests.curation.cut_exports import LATE_SEGMENT, SEGMENT, VIDEO, cut_exports, episodes_of, exported_states

from .venvs import lerobot_python

LOADER = Path(__file__).with_name("lerobot_load.py")
LOAD_TIMEOUT_S = 900
pytestmark = pytest.mark.slow


def load(version: str, dataset: Path, work: Path, indices: list[int] = (), convert: bool = False,
         quantiles: bool = False) -> tuple[dict, np.ndarray]:
    """What LeRobot `version` sees in `dataset` (see lerobot_load.py), and its decoded images of `indices`."""
    work.mkdir(parents=True, exist_ok=True)
    frames = work / "frames.npz"
    args = [str(lerobot_python(version)), str(LOADER), str(dataset), str(frames)]
    args += ["--indices", ",".join(map(str, indices))] if indices else []
    args += ["--convert", str(work / "converted")] if convert else []
    args += ["--quantiles"] if quantiles else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(work / "hf")}
    done = subprocess.run(args, capture_output=True, text=True, timeout=LOAD_TIMEOUT_S, env=env, cwd=work)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["lerobot"] == version
    return seen, np.load(frames)["frames"].astype(np.int16)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return cut_exports(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def reference(built) -> np.ndarray:
    """The cut clip's source frames with the export's resize."""
    clip = get_clip(query_engine(built.root), built.clip_id)
    return np.stack(list(clip_frames(clip["path"], 0.0, built.n_frames, VIDEO, ImageStats()))).astype(np.int16)


def probes(out: Path, clip_id: str) -> dict[int, tuple[dict, int]]:
    """Global index -> (episode, k) for the first, sixth and last frame of each episode of `clip_id`."""
    found = {}
    for episode in (e for e in episodes_of(out) if e["clip_id"] == clip_id):
        for k in sorted({0, 5, episode["length"] - 1}):
            found[episode["first"] + k] = (episode, k)
    return found


@pytest.mark.parametrize("version", ["0.4.4", "0.6.1"])
@pytest.mark.parametrize("name", ["plain_v3", "split_v21"])
def test_lerobot_loads_the_cut_clip_frame_for_frame(built, reference, tmp_path, version, name):
    out = getattr(built, name)
    chosen = probes(out, built.clip_id)
    seen, images = load(version, out, tmp_path, sorted(chosen), convert=name.endswith("v21"))
    info = json.loads((out / "meta" / "info.json").read_text())
    assert seen["num_frames"] == info["total_frames"] and seen["num_episodes"] == info["total_episodes"]
    kept = [k for c, k in zip(seen["episodes"]["clip_id"], seen["episodes"]["kept_frames"], strict=True)
            if c == built.clip_id]
    assert sorted(kept) == [[[0, 10]], [[30, built.n_frames]]]  # split at frames 10-29
    for item, image in zip(seen["items"], images, strict=True):
        episode, k = chosen[item["index"]]
        assert (item["episode_index"], item["frame_index"]) == (episode["episode_index"], k)
        np.testing.assert_allclose(item["state"], exported_states(out, episode)[k], atol=1e-6)
        source = episode["kept_frames"][0][0] + k  # LeRobot shows the source frame at the recorded index
        error = np.abs(image - reference[source]).mean()
        assert error < 4.0, (item, error)
        for other in range(max(0, source - 3), min(len(reference), source + 4)):
            if other != source and np.abs(reference[other] - reference[source]).mean() > 1.0:
                assert error < np.abs(image - reference[other]).mean(), (item["index"], source, other)


def test_lerobot061_reads_a_cli_segment_as_a_subtask(built, tmp_path):
    later = next(e for e in episodes_of(built.split_v3) if e["clip_id"] == built.clip_id and e["kept_frames"][0][0])
    shift, first = later["kept_frames"][0][0], later["first"]
    frames = {SEGMENT[0] - shift - 1: None, SEGMENT[0] - shift: SEGMENT[2], SEGMENT[1] - shift: SEGMENT[2],
              LATE_SEGMENT[0] - shift: LATE_SEGMENT[2], later["length"] - 1: LATE_SEGMENT[2]}
    seen, _ = load("0.6.1", built.split_v3, tmp_path, [first + k for k in frames])
    assert [item["subtask"] for item in seen["items"]] == list(frames.values())


@pytest.mark.parametrize("name", ["split_v3", "split_v21"])
def test_lerobot061_normalises_state_and_action_by_our_quantiles(built, tmp_path, name):
    out = getattr(built, name)
    seen, _ = load("0.6.1", out, tmp_path, [0, 100, 700], convert=name.endswith("v21"), quantiles=True)
    assert {"q01", "q10", "q50", "q90", "q99"} <= set(seen["stat_names"])
    stats = json.loads((out / "meta" / "stats.json").read_text())  # ours (v2.1: also what the converter derives)
    for key in ("observation.state", "action"):
        q01, q99 = (np.asarray(stats[key][q]) for q in ("q01", "q99"))
        spread = q99 - q01
        values = np.asarray([item[key if key == "action" else "state"] for item in seen["items"]])
        expected = 2 * (values - q01) / np.where(spread == 0, 1e-8, spread) - 1
        moving = spread > 1e-6  # constant dimensions divide by LeRobot's eps; compare the others
        np.testing.assert_allclose(np.asarray(seen["normalized"][key])[:, moving], expected[:, moving], atol=1e-3)
