"""Structural rules of DESIGN.md / HOUSE_STYLE.md that code review alone lets slip."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIBRARY_PACKAGES = ("labeling", "curation", "trainer", "db")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_app_imports_streamlit_and_nothing_imports_app():
    for package in LIBRARY_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            imported = _imports(path)
            assert "streamlit" not in imported, f"{path} imports streamlit (pages render; logic lives below)"
            assert "app" not in imported, f"{path} imports app/ (imports point down)"


def test_cli_starts_without_heavy_imports():
    import subprocess
    import sys

    heavy = "('torch', 'mediapipe', 'streamlit', 'cv2')"
    code = f"import sys, app.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_launcher_passes_every_config_setting():
    from app.launch import CONFIG_FILE, config_flags

    flags = config_flags(**{"server.port": 9999})
    assert "--server.port=9999" in flags and "--server.address=127.0.0.1" in flags
    assert "--browser.gatherUsageStats=false" in flags
    assert CONFIG_FILE.is_file()


def test_state_literal_defaults_match_the_packages():
    from app import state
    from curation.export_plan import FORMATS
    from curation.review import ALL_HUMAN_CLIPS, QUEUE_STATES

    assert state.ALL_HUMAN_CLIPS == ALL_HUMAN_CLIPS
    assert tuple(state.DEFAULTS[state.REVIEW_STATES]) == QUEUE_STATES
    assert state.DEFAULTS[state.EXPORT_FORMAT] in FORMATS
