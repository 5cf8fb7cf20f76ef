"""Browser proxies made before anyone asks: a detached, resumable job over every clip a browser cannot play.

    job_id = start_proxy_job(root)     # what `egocurate ingest` does when it catalogued such clips
    proxy_jobs(root)                   # ProxyProgress of the newest jobs: state, clips done of total, failures
    run_proxies(root)                  # the job's body, in the foreground: `egocurate proxies`
    python -m labeling.media.proxy_jobs --root R --job-id N      (what start_proxy_job runs, detached)

A run makes the H.264 proxy (labeling/media/proxy.py) of every clip whose codec needs one and that
has none yet, oldest clips first, and then looks again for clips catalogued meanwhile, until none is
left. A proxy is written atomically and never made twice (`ensure_proxy`'s per-clip lock), so a
killed run loses at most the proxy it was making and the next run goes on from there. One run
at a time per data root (a lock file beside the proxies): a second waits for the first, then
finds its work done. Progress and failures go to the run's `jobs` row (db/jobs.py).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from tqdm import tqdm

from db import paths
from db.engine import query_engine
from db.jobs import DONE, FAILED, QUEUED, effective_state, end_row, job_scope, spawn_detached, this_host
from db.models import Job
from db.queries.clips import clips_with_codecs_other_than
from db.store import session_scope

from .proxy import BROWSER_CODECS, clip_playable_path
from .video import VideoError

STAGE_NAME = "proxy"  # the `kind` of the job rows
PROGRESS_EVERY_S = 2.0  # how often a run writes its progress to its row


@dataclass(frozen=True)
class ProxyProgress:
    """Where a proxy job stands."""

    job_id: int
    state: str  # db/jobs.py states; `interrupted` when its process vanished
    n_total: int  # clips that needed a proxy when last counted
    n_done: int  # proxies made (or found made) so far
    n_failed: int
    message: str


def missing_proxies(root: Path) -> list[dict]:
    """The `clips` rows whose codec a browser cannot play and whose proxy is not made yet, oldest first."""
    rows = clips_with_codecs_other_than(query_engine(root), sorted(BROWSER_CODECS))
    return [row for row in rows if not paths.proxy_path(root, str(row["clip_id"])).is_file()]


@contextlib.contextmanager
def _one_run_at_a_time(root: Path) -> Iterator[None]:
    lock_file = root / paths.PROXY_JOB_LOCK
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_proxies(root: Path | str, progress: bool = False, job_id: int | None = None) -> ProxyProgress:
    """Make every missing proxy (see the module docstring); where the run ended up."""
    root = Path(root).resolve()
    failed: set[str] = set()
    done = 0
    with job_scope(root, STAGE_NAME, {"root": str(root)}, job_id=job_id) as job, _one_run_at_a_time(root):
        bar = tqdm(desc="proxies", unit="clip", disable=not progress)
        last_write = 0.0
        while todo := [row for row in missing_proxies(root) if row["clip_id"] not in failed]:
            bar.total = done + len(todo)
            for row in todo:
                errors = []
                try:
                    clip_playable_path(root, row)
                except (VideoError, OSError) as exc:
                    failed.add(str(row["clip_id"]))
                    errors = [(str(row["path"]), f"clip {row['clip_id']}: {exc}")]
                done += 1
                bar.update(1)
                if errors or time.monotonic() - last_write > PROGRESS_EVERY_S:
                    job.update(n_total=bar.total, n_done=done - len(failed), n_failed=len(failed), errors=errors,
                               message=f"{done - len(failed)} of {bar.total} proxies made")
                    last_write = time.monotonic()
        bar.close()
        made = done - len(failed)
        job.update(state=DONE if made or not failed else FAILED, n_total=done, n_done=made, n_failed=len(failed),
                   message=f"{made} proxies made, {len(failed)} failed" if done else "every proxy was made already")
    return ProxyProgress(job.id, job.state, done, made, len(failed), "")


def start_proxy_job(root: Path | str) -> int:
    """Start `run_proxies(root)` in a detached process (it outlives the caller); its job id."""
    root = Path(root).resolve()
    with session_scope(root) as session:
        job = Job(kind=STAGE_NAME, state=QUEUED, params={"root": str(root)}, host=this_host())
        session.add(job)
        session.flush()
        job_id = int(job.id)
    spawn_detached(root, Job, job_id, ["-m", "labeling.media.proxy_jobs", "--root", str(root), "--job-id", str(job_id)],
                   f"{STAGE_NAME}-{job_id}")
    return job_id


def proxy_jobs(root: Path | str, limit: int = 5) -> list[ProxyProgress]:
    """The newest proxy jobs, newest first."""
    with session_scope(Path(root)) as session:
        jobs = session.scalars(select(Job).where(Job.kind == STAGE_NAME).order_by(Job.id.desc()).limit(limit)).all()
        return [ProxyProgress(job.id, effective_state(job), job.n_total, job.n_done, job.n_failed, job.message or "")
                for job in jobs]


def main(argv: Sequence[str] | None = None) -> int:
    """Run a job made by `start_proxy_job` (in its detached process)."""
    parser = argparse.ArgumentParser(prog="python -m labeling.media.proxy_jobs")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--job-id", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        result = run_proxies(args.root, job_id=args.job_id)
    except Exception as exc:  # the row must not stay 'queued' when the run could not even start
        with session_scope(args.root) as session:
            job = session.get(Job, args.job_id)
            if job.state == QUEUED:
                end_row(job, FAILED, f"{type(exc).__name__}: {exc}")
        raise
    return 0 if result.state == DONE else 1


if __name__ == "__main__":
    raise SystemExit(main())
