"""Background label jobs: progress in the store (a job killed mid-way: tests/reliability/test_crash_label.py)."""

from __future__ import annotations

import time

import pytest

from db.paths import JOB_LOG_DIR
from labeling.pose.label_jobs import job_status, label_jobs, start_label_job
from labeling.sources.ingest import ingest
from tests.conftest import make_video


def _wait(predicate, timeout_s: float = 90.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


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
