"""Every dataset of a mixed-embodiment export loads in LeRobot's own `LeRobotDataset` (issue 15).

The export of the humanoid-with-Inspire-hands case (tests/curation/g1_inspire.py), as v3.0 and as
v2.1 + GR00T: the human dataset keeps the 62-D layout, the robot's its 26 named dimensions. LeRobot
0.4.4 ($LEROBOT_VENV, the project's .venv-lerobot) loads v3.0 as it is and v2.1 through its own
converter; LeRobot 0.6.1 ($LEROBOT061_VENV, default .venv-lerobot061) loads v3.0. Outside CI a
missing venv skips its part.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from tests.curation.g1_inspire import NAMES, g1_root

REPO = Path(__file__).resolve().parents[2]
VENVS = {"0.4.4": Path(os.environ.get("LEROBOT_VENV", "/tmp/lerobot-venv")),
         "0.6.1": Path(os.environ.get("LEROBOT061_VENV", REPO / ".venv-lerobot061"))}
LOADER = Path(__file__).with_name("mixture_load.py")
LOAD_TIMEOUT_S = 600
pytestmark = pytest.mark.slow


def lerobot_python(version: str) -> Path:
    python = VENVS[version] / "bin" / "python"
    if not python.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"no LeRobot {version} venv at {VENVS[version]} (required in CI)")
        pytest.skip(f"no LeRobot {version} venv at {VENVS[version]}")
    return python


@pytest.fixture(scope="module")
def exports(tmp_path_factory, shared_data) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("g1-lerobot")
    root, spec_file, datasets, _ = g1_root(folder, shared_data)

    def cli(*args: str) -> None:
        result = CliRunner().invoke(main, ["--root", str(root), *args])
        assert result.exit_code == 0, result.output

    cli("ingest", *map(str, datasets), "--embodiment", str(spec_file), "--quiet")
    cli("retarget", "--hand", "egocurate_hand22", "--device", "cpu", "--quiet")
    cli("pair", "--quiet")
    cli("pair", "accept", "1")
    out = {}
    for fmt, extra in (("lerobot-v3", ()), ("lerobot-v2.1", ("--gr00t",))):
        out[fmt] = folder / f"mix-{fmt}"
        cli("export", "--out", str(out[fmt]), "--format", fmt, "--size", "64x48", "--quiet", *extra)
    return out


def load(version: str, dataset: Path, work: Path) -> dict:
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(work / "hf")}
    done = subprocess.run([str(lerobot_python(version)), str(LOADER), str(dataset), str(work)], capture_output=True,
                          text=True, timeout=LOAD_TIMEOUT_S, env=env, cwd=work)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("version", "fmt"), [("0.4.4", "lerobot-v3"), ("0.6.1", "lerobot-v3"),
                                              ("0.4.4", "lerobot-v2.1")])
def test_every_dataset_of_the_mixture_loads_in_lerobot(exports, version, fmt, tmp_path):
    mixture = json.loads((exports[fmt] / "mixture.json").read_text())
    for entry in mixture["datasets"]:
        seen = load(version, exports[fmt] / entry["path"], tmp_path / entry["name"])
        assert seen["num_episodes"] == entry["episodes"] and seen["num_frames"] == entry["frames"]
        width = 26 if entry["kind"] == "robot" else 62
        assert all(item["state_shape"] == [width] and item["action_shape"] == [width] for item in seen["items"])
        assert set(seen["embodiments"]) == {entry["embodiment"]}
        if entry["kind"] == "robot":
            assert seen["state_names"] == NAMES and seen["action_names"] == NAMES
