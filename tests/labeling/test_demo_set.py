"""`egocurate demo`: generated once, ingested through the real readers, idempotent."""

from __future__ import annotations

import json

from click.testing import CliRunner

from app.cli import main
from db.engine import QueryEngine
from labeling.demo_set import build_demo

SMALL = {"n_human": 8, "n_robot": 4, "width": 160, "height": 120}


def test_demo_set_is_catalogued_with_ground_truth_and_robot_episodes(root):
    report = build_demo(root, seed=3, progress=False, **SMALL)
    assert not report.failures and len(report.added) == 12
    cursor = QueryEngine(root).cursor()
    kinds = dict(cursor.execute("SELECT kind, count(*) FROM clips GROUP BY kind").fetchall())
    assert kinds == {"human": 8, "robot": 4}
    assert cursor.execute("SELECT DISTINCT source FROM clips WHERE kind='human'").fetchall() == [("synthetic",)]
    assert cursor.execute("SELECT DISTINCT pose_source FROM frames").fetchall() == [("synthetic",)]
    robot_tasks = {t for (t,) in cursor.execute("SELECT DISTINCT task FROM clips WHERE kind='robot'").fetchall()}
    human_tasks = {t for (t,) in cursor.execute("SELECT DISTINCT task FROM clips WHERE kind='human'").fetchall()}
    assert robot_tasks and robot_tasks <= human_tasks  # robots do some of the humans' tasks
    state_dims = cursor.execute("SELECT DISTINCT len(state) FROM robot_frames").fetchall()
    assert state_dims == [(62,)]
    noise = json.loads((root / "demo" / "injected_noise.json").read_text())
    noisy_files = {entry["file"] for entry in noise}
    paths = {p for (p,) in cursor.execute("SELECT path FROM clips WHERE kind='human'").fetchall()}
    assert noisy_files and all(any(p.endswith(f) for p in paths) for f in noisy_files)


def test_demo_command_is_idempotent(root):
    build_demo(root, seed=3, progress=False, **SMALL)
    result = CliRunner().invoke(main, ["--root", str(root), "demo", "--no-app", "--no-train"])
    assert result.exit_code == 0, result.output
    assert "0 clips added, 12 already catalogued" in result.output
