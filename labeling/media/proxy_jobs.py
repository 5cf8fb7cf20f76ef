"""Browser proxies made before anyone asks: a detached, resumable job over every clip a browser cannot play.

    job_id = start_proxy_job(root)     # what `egocurate ingest` does when it catalogued such clips
    proxy_jobs(root)                   # ProxyProgress of the newest jobs: state, clips done of total, failures
    run_proxies(root)                  # the job's body, in the foreground: `egocurate proxies`
    python -m labeling.media.proxy_jobs --root R --job-id N      (what start_proxy_job runs, detached)

A run pages through the clips whose codec needs a proxy (in clip id order, `PAGE_CLIPS` at a time,
so a catalog of millions is never in memory at once), makes the H.264 proxy
(labeling/media/proxy.py) of each that has none yet, and passes again while the last pass made
some (clips catalogued meanwhile). A proxy is written atomically and never made twice
(`ensure_proxy`'s per-clip lock), so a killed run loses at most the proxy it was making and the next
run goes on from there. One run at a time per data root (a lock file beside the proxies): a second
waits for the first, then finds its work done. Progress (clips checked of those needing a proxy,
proxies made) and failures go to the run's `jobs` row (db/jobs.py).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from tqdm import tqdm

from db import paths
from db.engine import query_engine
from db.jobs import DONE, FAILED, QUEUED, effective_state, end_row, exclusive_file_lock, job_scope, start_job
from db.models import Job
from db.queries.clips import clips_with_codecs_other_than, count_clips_with_codecs_other_than
from db.store import session_scope

from .proxy import BROWSER_CODECS, clip_playable_path
from .video import VideoError

STAGE_NAME = "proxy"  # the `kind` of the job rows
PROGRESS_EVERY_S = 2.0  # how often a run writes its progress to its row
PAGE_CLIPS = 10_000  # clips read from the catalog at a time


@dataclass(frozen=True)
class ProxyProgress:
    """Where a proxy job stands."""

    job_id: int
    state: str  # db/jobs.py states; `interrupted` when its process vanished
    n_total: int  # clips needing a proxy when last counted
    n_done: int  # of them, checked so far (made now, or found made)
    n_failed: int
    message: str
    n_made: int = 0  # proxies this run made


def clips_needing_proxies(root: Path) -> Iterator[dict]:
    """The `clips` rows whose codec a browser cannot play, in clip id order, read a page at a time."""
    engine, after = query_engine(root), ""
    while rows := clips_with_codecs_other_than(engine, sorted(BROWSER_CODECS), after, PAGE_CLIPS):
        yield from rows
        after = str(rows[-1]["clip_id"])


def has_proxy(root: Path, clip: dict) -> bool:
    return paths.proxy_path(root, str(clip["clip_id"])).is_file()


def missing_proxies(root: Path) -> list[dict]:
    """The clips still waiting for their proxy (a list: status lines and tests, not millions)."""
    return [clip for clip in clips_needing_proxies(root) if not has_proxy(root, clip)]


def run_proxies(root: Path | str, progress: bool = False, job_id: int | None = None) -> ProxyProgress:
    """Make every missing proxy (see the module docstring); where the run ended up."""
    root = Path(root).resolve()
    failed: set[str] = set()
    made, needing = 0, 0
    with (job_scope(root, STAGE_NAME, {"root": str(root)}, job_id=job_id) as job,
          exclusive_file_lock(root / paths.PROXY_JOB_LOCK)):
        made_before, last_write = -1, 0.0
        while made > made_before:  # a pass that made nothing found nothing left to make
            made_before = made
            needing = count_clips_with_codecs_other_than(query_engine(root), sorted(BROWSER_CODECS))
            bar = tqdm(total=needing, desc="proxies", unit="clip", disable=not progress)
            for checked, clip in enumerate(clips_needing_proxies(root), start=1):
                bar.update(1)
                errors = []
                if clip["clip_id"] not in failed and not has_proxy(root, clip):
                    try:
                        clip_playable_path(root, clip)
                        made += 1
                    except (VideoError, OSError) as exc:
                        failed.add(str(clip["clip_id"]))
                        errors = [(str(clip["path"]), f"clip {clip['clip_id']}: {exc}")]
                if errors or time.monotonic() - last_write > PROGRESS_EVERY_S:
                    job.update(n_total=needing, n_done=checked - len(failed), n_failed=len(failed), errors=errors,
                               message=f"{made} proxies made, {len(failed)} failed")
                    last_write = time.monotonic()
            bar.close()
        message = f"{made} proxies made, {len(failed)} failed" if made or failed else "every proxy was made already"
        job.update(state=DONE if made or not failed else FAILED, n_total=needing, n_done=needing - len(failed),
                   n_failed=len(failed), message=message)
    return ProxyProgress(job.id, job.state, needing, needing - len(failed), len(failed), message, made)


def start_proxy_job(root: Path | str) -> int:
    """Start `run_proxies(root)` in a detached process (it outlives the caller); its job id."""
    root = Path(root).resolve()
    return start_job(root, STAGE_NAME, {"root": str(root)}, "labeling.media.proxy_jobs")


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
