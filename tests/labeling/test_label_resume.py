"""Background label jobs: progress in the store, and a job killed mid-way resumed without duplicates."""

from __future__ import annotations

import os
import signal
import time

import pyarrow.parquet as pq
import pytest

from db.engine import QueryEngine
from db.lake import Lake
from db.models import Job
from db.store import session_scope
from labeling.ingest import ingest
from labeling.label import JOB_LOG_DIR, job_status, label_jobs, run_label, start_label_job
from tests.conftest import make_video

N_CLIPS, N_FRAMES = 6, 90


def _wait(predicate, timeout_s: float = 90.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _labelled(root) -> dict[str, int]:
    rows = QueryEngine(root).cursor().execute(
        "SELECT clip_id, count(*) FROM frames WHERE pose_source = 'mediapipe' GROUP BY clip_id").fetchall()
    return dict(rows)


def test_background_job_reports_progress_until_done(root, tmp_path):
    ingest(root, [make_video(tmp_path / "one.mp4", n_frames=20)], progress=False)
    job_id = start_label_job(root, workers=2)  # a process pool inside the detached job
    status = _wait(lambda: (s := job_status(root, job_id)).state not in ("queued", "running") and s,
                   what="the job to finish")
    assert (status.state, status.n_total, status.n_done, status.n_failed) == ("done", 1, 1, 0)
    assert status.frames_done == status.frames_total == 20 and status.frames_per_s > 0 and status.eta_s == 0.0
    assert (root / JOB_LOG_DIR / f"label-{job_id}.log").is_file()
    assert [job.job_id for job in label_jobs(root)] == [job_id]
    with pytest.raises(ValueError, match="stride"):
        start_label_job(root, stride=0)
    with pytest.raises(KeyError):
        job_status(root, 10_000)


def test_a_killed_job_resumes_with_the_clips_not_done(root, tmp_path):
    videos = [make_video(tmp_path / f"clip{i}.mp4", n_frames=N_FRAMES, width=320, height=240, seed=i)
              for i in range(N_CLIPS)]
    ingest(root, videos, progress=False)
    job_id = start_label_job(root, workers=1, commit_every_clips=1)
    _wait(lambda: Lake(root).files("frames"), what="the first commit")
    with session_scope(root) as session:
        pid = session.get(Job, job_id).pid
    os.killpg(pid, signal.SIGKILL)  # the job and everything it started
    status = _wait(lambda: (s := job_status(root, job_id)).state == "interrupted" and s, timeout_s=10,
                   what="the job to show as interrupted")
    before = _labelled(root)
    assert 1 <= len(before) < N_CLIPS, "killed between the first and the last commit"
    assert status.n_done == len(before) and set(before.values()) == {2 * N_FRAMES}

    report = run_label(root, workers=2, progress=False)
    assert sorted(report.skipped) == sorted(before) and len(report.done) == N_CLIPS - len(before)
    after = _labelled(root)
    assert len(after) == N_CLIPS and set(after.values()) == {2 * N_FRAMES}, "every clip once, no duplicates"
    for path in Lake(root).files("frames"):  # every visible file is whole
        assert pq.read_table(path, partitioning=None).num_rows > 0
