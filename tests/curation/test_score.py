"""`egocurate score`: frames in, metrics out, rules propose flags; idempotent; real EgoDex poses."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sqlalchemy import select

from curation.flags import confirm_flag, list_flags
from curation.noise import Injection, PoseClip, inject, poses_from_frames, write_pose_clips
from curation.rules import RuleSet
from curation.score import ScoreConfig, run_score
from db.engine import QueryEngine
from db.lake import Lake
from db.models import Job
from db.queries.frames import clip_frames
from db.store import session_scope
from labeling.sources.ingest import ingest
from tests.curation.conftest import pose_clip

NOISE_CATEGORIES = {"jitter": {"jitter"}, "dropout": {"dropout"}, "swap": {"swap"}}


def test_scoring_flags_exactly_the_noisy_clips_at_their_frames(root, noisy_catalog):
    report = run_score(root)
    assert report.scored == 30 and report.flags.created == 3
    rules = RuleSet.from_yaml(ScoreConfig().rules_path)
    flags = {f.clip_id: f for f in list_flags(root)}
    assert set(flags) == {clip for clip, injection in noisy_catalog.items() if injection}
    for clip_id, flag in flags.items():
        injection = noisy_catalog[clip_id]
        assert rules.by_name(flag.rule).category in NOISE_CATEGORIES[injection.kind]
        assert flag.frame_start <= injection.frame_end and flag.frame_end >= injection.frame_start
        assert (flag.state, flag.origin, flag.author) == ("proposed", "rule", "rules")
    assert flags["wave-3"].hand == "left" and flags["wipe-7"].hand is None  # a swap is both hands
    with session_scope(root) as session:
        job = session.execute(select(Job).where(Job.kind == "score")).scalar_one()
        assert job.state == "done" and job.n_done == 30


def test_rescoring_replaces_metrics_and_keeps_decisions(root, noisy_catalog):
    run_score(root)
    first_files = Lake(root).files("metrics")
    flag = list_flags(root, "wave-3")[0]
    confirm_flag(root, flag.id, "ann", expected_version=flag.version)
    report = run_score(root)
    assert report.flags.created == 0 and report.flags.withdrawn == 0
    files = Lake(root).files("metrics")
    assert len(files) == 1 and files != first_files  # the old file is retired in the same commit
    engine = QueryEngine(root)
    assert engine.cursor().execute("SELECT count(*), count(DISTINCT clip_id) FROM metrics").fetchone() == (30, 30)
    assert len(list_flags(root)) == 3 and list_flags(root, "wave-3")[0].state == "confirmed"


def test_partial_rescore_keeps_the_other_clips(root, noisy_catalog):
    run_score(root)
    report = run_score(root, clip_ids=["wave-3"])
    assert report.scored == 1
    engine = QueryEngine(root)
    assert engine.cursor().execute("SELECT count(*) FROM metrics").fetchone()[0] == 30
    assert len(list_flags(root, states=("proposed",))) == 3


def test_retarget_residual_is_null_until_retargets_exist(root):
    write_pose_clips(root, [pose_clip("a"), pose_clip("b", seed=1)])
    run_score(root)
    engine = QueryEngine(root)
    assert engine.cursor().execute("SELECT count(retarget_residual_mm) FROM metrics").fetchone()[0] == 0
    rows = {"clip_id": ["a"] * 4, "frame_index": [0, 1, 0, 1], "hand": ["left", "left", "right", "right"],
            "embodiment": ["egocurate_hand22"] * 4, "q_rad": [[0.0]] * 4, "wrist_pose": [[0.0] * 9] * 4,
            "residual": [0.004, 0.006, 0.010, 0.010]}
    with Lake(root).batch() as batch:
        batch.write("retargets", pa.table(rows), {"embodiment": "egocurate_hand22"})
    run_score(root)
    got = engine.cursor().execute("SELECT left_retarget_residual_mm, right_retarget_residual_mm, "
                                  "retarget_residual_mm FROM metrics WHERE clip_id = 'a'").fetchone()
    assert np.allclose(got, (5.0, 10.0, 10.0))
    assert engine.cursor().execute("SELECT retarget_residual_mm FROM metrics WHERE clip_id = 'b'").fetchone() == (None,)


def test_egodex_ground_truth_is_clean_and_injected_noise_trips_the_rules(root, shared_data):
    ingest(root, [shared_data / "egodex_sample"], progress=False)
    report = run_score(root)
    assert report.scored == 3 and list_flags(root) == []
    engine = QueryEngine(root)
    clip = engine.cursor().execute("SELECT clip_id, fx, fy, cx, cy, task_slug FROM clips ORDER BY clip_id").fetchone()
    poses = poses_from_frames(clip_frames(engine, clip[0]), clip[1:5])
    rng = np.random.default_rng(0)
    noisy = [PoseClip(f"noisy-{kind}", clip[5], inject(poses, Injection(kind, "right", 40, 60, 4.0), rng),
                      pose_source="egodex") for kind in ("jitter", "dropout", "swap")]
    write_pose_clips(root, noisy)
    run_score(root)
    assert {f.clip_id for f in list_flags(root)} == {c.clip_id for c in noisy}


def test_a_score_job_killed_earlier_is_closed_as_interrupted(root):
    import subprocess
    import sys

    from db.jobs import this_host

    write_pose_clips(root, [pose_clip("a")])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with session_scope(root) as session:  # what kill -9 leaves: a row saying running, its process gone
        session.add(Job(kind="score", state="running", pid=gone.pid, host=this_host()))
    report = run_score(root)
    with session_scope(root) as session:
        states = {job.id: job.state for job in session.scalars(select(Job).where(Job.kind == "score"))}
    assert states.pop(report.job_id) == "done" and list(states.values()) == ["interrupted"]
