"""Label jobs in the background: start `run_label` as a detached process, and read its progress from the store.

    job_id = start_label_job(root, clip_ids=[...], workers=2)   # returns at once; the job outlives the caller
    job_status(root, job_id)    # LabelProgress: state (interrupted when its process vanished), speed, ETA
    python -m labeling.pose.label_jobs --root R --job-id N       (what start_label_job runs, detached)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from db.jobs import FAILED, QUEUED, effective_state, end_row, start_job
from db.models import Job, JobError
from db.store import session_scope

from .label import STAGE_NAME, LabelFailure, LabelProgress, check_run_options, run_label
from .label_worker import LabelConfig


def start_label_job(root: Path | str, **options: object) -> int:
    """Start `run_label(root, **options)` in a detached process (it outlives the caller); its job id.

    Options are checked here first, so a bad one raises ValueError instead of failing in the job.
    """
    root = Path(root).resolve()
    clip_ids = options.pop("clip_ids", None)
    run = {k: options.pop(k) for k in ("workers", "executor") if k in options}
    LabelConfig(**options)
    check_run_options(run.get("workers", 2), run.get("executor", "local"))
    params = {"options": {**options, **run}, "clip_ids": None if clip_ids is None else list(clip_ids)}
    return start_job(root, STAGE_NAME, params, "labeling.pose.label_jobs")


def job_status(root: Path | str, job_id: int) -> LabelProgress:
    """A labelling job's progress, failures, speed and ETA. Raises KeyError for an unknown job."""
    with session_scope(Path(root)) as session:
        job = session.get(Job, job_id)
        if job is None or job.kind != STAGE_NAME:
            raise KeyError(f"no label job {job_id}")
        errors = session.scalars(select(JobError).where(JobError.job_id == job_id).order_by(JobError.id)).all()
        return _progress(job, tuple(LabelFailure(e.item, e.item, e.reason) for e in errors))


def label_jobs(root: Path | str, limit: int = 20) -> list[LabelProgress]:
    """The newest labelling jobs (without their failure lists), e.g. to find a running one again."""
    with session_scope(Path(root)) as session:
        jobs = session.scalars(select(Job).where(Job.kind == STAGE_NAME).order_by(Job.id.desc()).limit(limit)).all()
        return [_progress(job, ()) for job in jobs]


def _progress(job: Job, failures: tuple[LabelFailure, ...]) -> LabelProgress:
    done = (job.params or {}).get("progress", {})
    return LabelProgress(job.id, effective_state(job), job.n_total, job.n_done, job.n_failed,
                         int(done.get("frames_done", 0)), int(done.get("frames_total", 0)),
                         float(done.get("elapsed_s", 0.0)), job.message or "", failures)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a job made by `start_label_job` (in its detached process)."""
    parser = argparse.ArgumentParser(prog="python -m labeling.pose.label_jobs")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--job-id", type=int, required=True)
    args = parser.parse_args(argv)
    with session_scope(args.root) as session:
        params = dict(session.get(Job, args.job_id).params or {})
    try:
        report = run_label(args.root, params.get("clip_ids"), progress=False, job_id=args.job_id,
                           **params.get("options", {}))
    except Exception as exc:  # the row must not stay 'queued' when the run could not even start
        with session_scope(args.root) as session:
            job = session.get(Job, args.job_id)
            if job.state == QUEUED:
                end_row(job, FAILED, f"{type(exc).__name__}: {exc}")
        raise
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
