"""The demo's training step: best pairs accepted, an export written, a scaling run started; then nothing more."""

from __future__ import annotations

import time
from pathlib import Path

from curation.pairing import PairConfig, run_pairing
from db.engine import query_engine
from db.queries.annotations import pair_rows
from tests.curation.demo_retargets import paired_demo_root
from trainer.demo_training import DEMO_ACTOR, DEMO_CONFIG, DEMO_FRACTIONS, start_demo_training
from trainer.runs import ACTIVE, list_runs, run_status, stop_run


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
        [run] = list_runs(root)
        assert (run.run_id, run.stage, run.config_name) == (first.run_id, "scaling", DEMO_CONFIG)
        assert run.author == DEMO_ACTOR
        assert Path(run.data_dir) == first.export_dir and tuple(run.fractions) == DEMO_FRACTIONS

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
