"""kill -9 during MediaPipe labelling (a background job and its worker pool), then run again: the job
shows as interrupted, only whole commits are visible, and the re-run labels only the clips not done."""

from __future__ import annotations

import os
import signal

from db.engine import QueryEngine
from db.models import Job
from db.store import get_engine, session_scope
from labeling.pose.label import run_label
from labeling.pose.label_jobs import job_status, start_label_job
from labeling.sources.ingest import ingest
from tests.conftest import make_video

from .crash import assert_lake_whole, assert_no_duplicates, assert_store_intact, wait_for

N_CLIPS, N_FRAMES = 6, 90


def _labelled(root) -> dict[str, int]:
    rows = QueryEngine(root).cursor().execute(
        "SELECT clip_id, count(*) FROM frames WHERE pose_source = 'mediapipe' GROUP BY clip_id").fetchall()
    return dict(rows)


def test_a_killed_label_job_resumes_with_the_clips_not_done(root, tmp_path):
    videos = [make_video(tmp_path / f"clip{i}.mp4", n_frames=N_FRAMES, width=320, height=240, seed=i)
              for i in range(N_CLIPS)]
    ingest(root, videos, progress=False)
    job_id = start_label_job(root, workers=1, commit_every_clips=1)
    wait_for(lambda: job_status(root, job_id).n_done, "the job to record its first committed clip")
    with session_scope(root) as session:
        pid = session.get(Job, job_id).pid
    os.killpg(pid, signal.SIGKILL)  # the job leads its own session: this kills its workers too
    status = wait_for(lambda: (s := job_status(root, job_id)).state == "interrupted" and s, "the job to show "
                      "as interrupted", timeout_s=10)
    assert_store_intact(get_engine(root))
    assert_lake_whole(root)
    assert_no_duplicates(root)
    before = _labelled(root)
    assert 1 <= len(before) < N_CLIPS, "killed between the first and the last commit"
    # The row follows the lake: a kill between a commit and the row's update leaves it one group behind.
    assert 1 <= status.n_done <= len(before) and set(before.values()) == {2 * N_FRAMES}

    report = run_label(root, workers=2, progress=False)
    assert sorted(report.skipped) == sorted(before) and len(report.done) == N_CLIPS - len(before)
    after = _labelled(root)
    assert len(after) == N_CLIPS and set(after.values()) == {2 * N_FRAMES}, "every clip once, no duplicates"
    assert_lake_whole(root)
    assert_no_duplicates(root)
