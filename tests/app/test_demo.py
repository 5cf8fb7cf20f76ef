"""`egocurate demo` (app/demo.py): the set generated once, ingested through the real readers, idempotent;
its training step accepts the best pairs, writes an export, starts a scaling run, then nothing more."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner

from app.cli import main
from app.demo import DEMO_ACTOR, DEMO_CONFIG, DEMO_FRACTIONS, DEMO_SEEDS, build_demo, start_demo_training
from curation.pairing import PairConfig, run_pairing
from db.engine import QueryEngine, query_engine
from db.models import Run
from db.queries.annotations import pair_rows
from db.store import session_scope
from tests.curation.demo_retargets import paired_demo_root
from trainer.runs import ACTIVE, list_runs, run_status, stop_run

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


def test_the_demo_exports_its_best_pairs_and_starts_one_scaling_run(tmp_path_factory):
    root = paired_demo_root(tmp_path_factory.getbasetemp())
    run_pairing(root, PairConfig())
    proposed = pair_rows(query_engine(root), ["proposed"])
    first = start_demo_training(root)
    try:
        robots = proposed["robot_clip_id"][proposed["cost"].notna()].nunique()
        assert first.accepted == robots and first.exported and first.started
        accepted = pair_rows(query_engine(root), ["accepted"])
        assert set(accepted["decided_by"]) == {DEMO_ACTOR} and accepted["robot_clip_id"].is_unique
        best = proposed.dropna(subset=["cost"]).sort_values("cost").drop_duplicates("robot_clip_id")
        assert set(accepted["id"]) == set(best["id"])  # each robot episode's lowest-cost proposal
        assert len(pair_rows(query_engine(root), ["proposed"])) == len(proposed) - robots  # the rest await review
        assert (first.export_dir / "meta" / "info.json").is_file()
        counts = json.loads((first.export_dir / "meta" / "egocurate_manifest.json").read_text())["counts"]
        assert counts["unpaired_human"] > 0 and counts["pairs"] == robots  # every human clip: pretraining hours
        [run] = list_runs(root)
        assert (run.run_id, run.stage, run.config_name) == (first.run_id, "scaling", DEMO_CONFIG)
        assert run.author == DEMO_ACTOR
        assert Path(run.data_dir) == first.export_dir and tuple(run.fractions) == DEMO_FRACTIONS
        with session_scope(root) as session:
            assert session.get(Run, run.run_id).config["scaling"]["seeds"] == DEMO_SEEDS

        again = start_demo_training(root)
        assert (again.accepted, again.exported, again.started) == (0, False, False)
        assert (again.export_dir, again.run_id) == (first.export_dir, first.run_id)
        assert len(list_runs(root)) == 1
    finally:  # its training is the runs tests' business: stop it and wait for its process to end
        stop_run(root, first.run_id)
        deadline = time.monotonic() + 120
        while run_status(root, first.run_id).state in ACTIVE and time.monotonic() < deadline:
            time.sleep(0.2)
    assert run_status(root, first.run_id).state == "stopped"
