"""kill -9 during ingest and during retargeting, then run again: whole files only, no duplicates, the
job resumes where it stopped and ends where an uninterrupted run ends."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.compute as pc

from db import paths
from db.engine import query_engine
from db.lake import Lake
from db.models import Job
from db.store import get_engine, session_scope
from labeling.retarget.stage import run_retarget
from labeling.sources.ingest import ingest
from tests.conftest import make_video

from .crash import assert_lake_whole, assert_no_duplicates, assert_store_intact, kill_when, lake_commits, start_cli

N_EXTRA_VIDEOS = 60  # tiny videos after the demo's: enough work left when the kill lands
N_RETARGET_CLIPS = 6
HAND = "egocurate_hand22"


def _clip_ids(root: Path) -> list[str]:
    return [r[0] for r in query_engine(root).cursor().execute("SELECT clip_id FROM clips ORDER BY 1").fetchall()]


def _ingest_inputs(paired_root: Path, tmp_path: Path) -> list[Path]:
    extra = tmp_path / "extra"
    for i in range(N_EXTRA_VIDEOS):
        make_video(extra / f"v{i:03d}.mp4", seed=1000 + i)
    demo = paired_root / paths.DEMO_DIR
    return [demo / "human", demo / "robot", extra]


def test_ingest_killed_between_commits_resumes_without_duplicates(paired_root, tmp_path):
    inputs = _ingest_inputs(paired_root, tmp_path)
    root = tmp_path / "root"
    process = start_cli(root, ["ingest", "--quiet", *map(str, inputs)],
                        settings={"labeling.sources.ingest": {"BATCH_CLIPS": 1}})
    kill_when(process, lambda: lake_commits(root) >= 2, "the second ingest commit")

    assert_store_intact(get_engine(root))
    assert_lake_whole(root)
    before = _clip_ids(root)
    expected = ingest(tmp_path / "uninterrupted", inputs, progress=False)  # the reference
    total = len(expected.added)
    assert 2 <= len(before) < total, "killed between the first and the last commit"
    assert_no_duplicates(root)

    report = ingest(root, inputs, progress=False)
    assert report.skipped == len(before) and len(report.added) == total - len(before), "finished work is not redone"
    assert _clip_ids(root) == _clip_ids(tmp_path / "uninterrupted")
    assert assert_no_duplicates(root) == assert_no_duplicates(tmp_path / "uninterrupted")
    assert_lake_whole(root)
    with session_scope(root) as session:
        states = [job.state for job in session.query(Job).filter(Job.kind == "ingest").order_by(Job.id)]
    assert states == ["interrupted", "done"], "the killed run's job row does not stay 'running' forever"


def _retarget_rows(root: Path) -> dict[tuple[str, int, str], tuple]:
    table = Lake(root).read("retargets")
    table = table.filter(pc.equal(table.column("embodiment"), HAND))
    return {(r["clip_id"], r["frame_index"], r["hand"]): (r["q_rad"], r["wrist_pose"], r["residual"])
            for r in table.to_pylist()}


def _without_retargets(root: Path) -> Path:
    """Retire the ground-truth retargets (one commit), so the stage has every clip to do."""
    lake = Lake(root)
    with lake.batch(stage="test", note="retire ground truth") as batch:
        batch.remove([f.relative_to(lake.dir).as_posix() for f in lake.files("retargets")])
    return root


def test_retarget_killed_between_commits_resumes_without_duplicates(paired_root, tmp_path):
    root = _without_retargets(paired_root)
    clips = [r[0] for r in query_engine(root).cursor().execute(
        "SELECT clip_id FROM clips WHERE kind = 'human' ORDER BY clip_id LIMIT ?", [N_RETARGET_CLIPS]).fetchall()]
    reference = tmp_path / "uninterrupted"
    shutil.copytree(root, reference)
    clip_args = [arg for clip_id in clips for arg in ("--clips", clip_id)]
    process = start_cli(root, ["retarget", "--hand", HAND, "--quiet", *clip_args],
                        settings={"labeling.retarget.stage": {"COMMIT_MAX_ROWS": 1}})  # one commit per clip
    kill_when(process, lambda: lake_commits(root, "retarget") >= 1, "the first retarget commit")

    assert_store_intact(get_engine(root))
    assert_lake_whole(root)
    assert_no_duplicates(root)
    done = {(c, h) for c, _, h in _retarget_rows(root)}
    assert 2 <= len(done) < 2 * N_RETARGET_CLIPS, "killed between the first and the last commit"

    report = run_retarget(root, HAND, clips, progress=False)
    assert sorted(report.skipped) == sorted(done), "finished clips are not redone"
    assert len(report.done) == 2 * N_RETARGET_CLIPS - len(done) and not report.failures
    assert_lake_whole(root)
    assert_no_duplicates(root)
    run_retarget(reference, HAND, clips, progress=False)
    resumed, expected = _retarget_rows(root), _retarget_rows(reference)
    assert resumed.keys() == expected.keys()
    assert resumed == expected, "a resumed run writes what an uninterrupted run writes"
    with session_scope(root) as session:
        states = [job.state for job in session.query(Job).filter(Job.kind == "retarget").order_by(Job.id)]
    assert states == ["interrupted", "done"]
