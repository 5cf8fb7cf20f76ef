"""Where the LeRobot oracle venvs live and how a test gets one (skipped outside CI when absent, built in CI).

    $LEROBOT_VENV     LeRobot 0.4.4, built by scripts/lerobot_venv.sh (`make lerobot-venv`)
    $LEROBOT061_VENV  LeRobot 0.6.1, built by ../shared/tools/lerobot061/build_venv.sh (`make lerobot061-venv`)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENVS = {  # version -> (venv, the marker its builder leaves when done, its build command)
    "0.4.4": (Path(os.environ.get("LEROBOT_VENV", "/tmp/lerobot-venv")), ".egocurate-ready",
              ["bash", str(REPO / "scripts" / "lerobot_venv.sh")]),
    "0.6.1": (Path(os.environ.get("LEROBOT061_VENV", REPO / ".venv-lerobot061")), ".lerobot061-ready",
              ["bash", str(REPO.parent / "shared" / "tools" / "lerobot061" / "build_venv.sh")]),
}


def lerobot_python(version: str) -> Path:
    """The python of the LeRobot `version` venv; skips outside CI when it is absent, builds it in CI."""
    venv, marker, build = VENVS[version]
    if not (venv / marker).is_file():
        if not os.environ.get("CI"):
            pytest.skip(f"no LeRobot {version} venv at {venv} (make lerobot-venv lerobot061-venv)")
        subprocess.run([*build, str(venv)], check=True, timeout=1800)
    return venv / "bin" / "python"
