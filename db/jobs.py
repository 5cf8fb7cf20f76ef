"""Rows of the `jobs` table for pipeline stages: who runs a job, and closing jobs whose process died.

A stage killed by SIGKILL (or a power cut) cannot write its own ending, so its row would say
`running` forever. Each job row records the pid and host that run it; the next run of the same
kind marks the rows whose process is gone as `interrupted`.

    with session_scope(root) as session:
        close_interrupted_jobs(session, "ingest")
        session.add(Job(kind="ingest", pid=os.getpid(), params={**job_host(), ...}))
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Job, utc_now

ACTIVE_STATES = ("queued", "running")
INTERRUPTED = "interrupted"


def job_host() -> dict[str, str]:
    """The `params` entry naming this machine: a pid only means something on its own host."""
    return {"host": socket.gethostname()}


def process_alive(pid: int | None) -> bool:
    """Whether `pid` runs on this host (a zombie counts as dead; an unknown pid as alive, to be safe)."""
    if pid is None:
        return True  # not started yet: a queued job's process may still be on its way
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def close_interrupted_jobs(session: Session, kind: str) -> list[int]:
    """Mark `kind` jobs of this host still queued or running whose process is gone; their ids."""
    host = job_host()["host"]
    closed = []
    for job in session.scalars(select(Job).where(Job.kind == kind, Job.state.in_(ACTIVE_STATES))):
        if (job.params or {}).get("host") == host and not process_alive(job.pid):
            job.state, job.updated_at = INTERRUPTED, utc_now()
            job.message = f"interrupted: process {job.pid} ended before the job finished"  # e.g. kill -9
            closed.append(int(job.id))
    return closed
