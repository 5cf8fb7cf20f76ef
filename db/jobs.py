"""One home for process state: the states of jobs, runs and exports, who works on each, and what a vanished one reads.

A row of `jobs` (pipeline stages), `runs` (training) or `exports` names the process working on it:
`pid`, `host`, and `pid_start`, when that process started ('<boot id>:<clock ticks since boot>',
from /proc/<pid>/stat field 22), because a pid alone may name another process once the first has
ended (pid reuse, a reboot). A process killed by SIGKILL or a power cut cannot write its own
ending, so its row would say `running` forever: `effective_state` reads such a row as
`interrupted` (or `stopped`, when a stop had been asked of it) wherever it is shown, and
`close_interrupted` writes that ending down, e.g. when the next job of its kind starts.

    with job_scope(root, "score", {"clips": ids}) as job:   # a running row: pid, host, start time
        ...                                                  # an exception ends it `failed`, with why
        job.update(n_done=12, message="12 clips scored")    # leaving the block ends it `done`
    spawn_detached(root, Run, run_id, ["-m", "trainer.runs", ...], f"run-{run_id}")   # outlives the caller
    ask_to_stop(root, Run, run_id)      # the row's stop flag (its process polls it), and SIGTERM on this host
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from . import paths
from .models import Export, Job, JobError, Run, utc_now
from .store import session_scope

QUEUED = "queued"  # recorded; its process is on its way
RUNNING = "running"
DONE = "done"
FAILED = "failed"  # ended with an error it recorded
STOPPED = "stopped"  # ended on request
INTERRUPTED = "interrupted"  # its process vanished without recording an ending (kill -9, power cut)
ACTIVE_STATES = (QUEUED, RUNNING)
STOP_FLAG = "stop_requested"  # key in a row's JSON that asks its process to stop (runs: config, jobs: params)
PROJECT_DIR = Path(__file__).resolve().parents[1]  # where detached processes import the packages from

Tracked = Job | Run | Export  # the tables whose rows name a process
_JSON_COLUMN = {"jobs": "params", "runs": "config", "exports": "manifest"}  # each table's free-form JSON
_NOUN = {"jobs": "job", "runs": "run", "exports": "export"}


# --- Liveness ---------------------------------------------------------------------------------------

def this_host() -> str:
    """This machine's name: a pid names a process only on its own host."""
    return socket.gethostname()


@functools.cache
def _boot_id() -> str:
    """Names this boot of the machine: start times (ticks since boot) of two boots must never compare equal."""
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return line.split()[1]
    return ""


def process_start(pid: int) -> str | None:
    """When process `pid` started, as '<boot id>:<clock ticks since boot>'; None where /proc cannot say."""
    try:
        # Fields after the command name, which is in parentheses and may hold spaces: field 22 is index 19.
        ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
    return f"{_boot_id()}:{ticks}"


def process_alive(pid: int | None, started: str | None = None) -> bool:
    """Whether `pid` runs on this host and is the process that started at `started` (its `process_start`).

    A zombie counts as dead, and so does a live pid with another start time (the pid was reused). A
    row with no pid yet counts as alive (its process may be on its way), and so does a process whose
    state cannot be read: a live job must never be closed.
    """
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists; its start time still tells whether it is ours
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    if fields[0] == "Z":
        return False
    now = process_start(pid)
    return started is None or now is None or now == started


def record_process(row: Tracked, pid: int | None = None) -> None:
    """Name the process working on `row`: `pid` (this process by default), this host, and when it started."""
    pid = os.getpid() if pid is None else pid
    row.pid, row.host, row.pid_start = pid, this_host(), process_start(pid)


def _json(row: Tracked) -> dict:
    return getattr(row, _JSON_COLUMN[row.__tablename__]) or {}


def stop_requested(row: Tracked) -> bool:
    """Whether a stop has been asked of the row's process (`ask_to_stop`)."""
    return bool(_json(row).get(STOP_FLAG))


def effective_state(row: Tracked) -> str:
    """The row's state as it stands: queued or running with its process on this host gone reads `interrupted`,
    or `stopped` when a stop had been asked of it (it died before it could record one)."""
    if row.state not in ACTIVE_STATES or row.host != this_host() or process_alive(row.pid, row.pid_start):
        return row.state
    return STOPPED if stop_requested(row) else INTERRUPTED


def vanished_message(row: Tracked, state: str) -> str:
    """Why a row whose process vanished reads `state` (what `effective_state` gave)."""
    if state == STOPPED:
        return f"stopped: its process (pid {row.pid}) ended before it could record the stop"
    return f"interrupted: its process (pid {row.pid}) ended before the {_NOUN[row.__tablename__]} finished"


# --- Endings ----------------------------------------------------------------------------------------

def end_row(row: Tracked, state: str, message: str) -> None:
    """Write how a row ended where its table keeps it: a job's message, a run's message and finish
    time (in `config`), an export's error (in `manifest`)."""
    row.state = state
    if isinstance(row, Job):
        row.message, row.updated_at = message, utc_now()
    elif isinstance(row, Run):
        row.config, row.finished_at = {**(row.config or {}), "message": message}, utc_now()
    else:
        row.manifest = {**(row.manifest or {}), "error": message}


def close_interrupted(session: Session, model: type[Tracked], *where: ColumnElement[bool]) -> list[Tracked]:
    """End the `model` rows (also matching `where`) still queued or running whose process on this host is
    gone, as `effective_state` reads them; the rows closed. A killed process cannot close its own row."""
    query = select(model).where(model.state.in_(ACTIVE_STATES), model.host == this_host(), *where)
    closed = []
    for row in session.scalars(query).all():
        state = effective_state(row)
        if state != row.state:
            end_row(row, state, vanished_message(row, state))
            closed.append(row)
    return closed


# --- Job rows ---------------------------------------------------------------------------------------

@dataclass
class JobHandle:
    """An open `jobs` row: `update` writes its progress and its ending as the job goes."""

    root: Path
    id: int
    state: str = RUNNING  # as last written through this handle

    def update(self, *, state: str | None = None, message: str | None = None, n_total: int | None = None,
               n_done: int | None = None, n_failed: int | None = None, params: dict | None = None,
               errors: Iterable[tuple[str, str]] = ()) -> None:
        """Write what is given: `params` merge into the row's, `errors` ((item, reason) pairs) are appended."""
        with session_scope(self.root) as session:
            job = session.get(Job, self.id)
            for name, value in {"state": state, "message": message, "n_total": n_total, "n_done": n_done,
                                "n_failed": n_failed}.items():
                if value is not None:
                    setattr(job, name, value)
            if params:
                job.params = {**(job.params or {}), **params}
            job.updated_at = utc_now()
            session.add_all(JobError(job_id=self.id, item=item, reason=reason) for item, reason in errors)
        self.state = state or self.state


def open_job(root: Path, kind: str, params: dict | None = None, *, n_total: int = 0,
             job_id: int | None = None) -> JobHandle:
    """A running `jobs` row of `kind` worked on by this process; rows of `kind` whose process died are closed first.

    `job_id` takes over a row made for this process (a detached job's queued row), merging `params`.
    """
    with session_scope(Path(root)) as session:
        close_interrupted(session, Job, Job.kind == kind)
        job = session.get(Job, job_id) if job_id is not None else None
        if job is None:
            job = Job(kind=kind, params=params)
            session.add(job)
        else:
            job.params = {**(job.params or {}), **(params or {})}
        job.state, job.n_total, job.updated_at = RUNNING, n_total, utc_now()
        record_process(job)
        session.flush()
        return JobHandle(Path(root), int(job.id))


@contextlib.contextmanager
def job_scope(root: Path, kind: str, params: dict | None = None, *, n_total: int = 0,
              job_id: int | None = None) -> Iterator[JobHandle]:
    """`open_job` for the block; leaving it ends the row `done`, or on an exception `failed` with the
    error, unless the block wrote an ending itself (`JobHandle.update(state=...)`)."""
    job = open_job(root, kind, params, n_total=n_total, job_id=job_id)
    try:
        yield job
    except BaseException as exc:
        if job.state in ACTIVE_STATES:
            with contextlib.suppress(Exception):  # the job's own error is the one to raise, not the store's
                job.update(state=FAILED, message=f"{type(exc).__name__}: {exc}")
        raise
    if job.state in ACTIVE_STATES:
        job.update(state=DONE)


# --- Detached processes and stop requests -----------------------------------------------------------

def log_path(root: Path, name: str) -> Path:
    """Where a detached process's stdout and stderr go (`paths.JOB_LOG_DIR/<name>.log` under the root)."""
    return Path(root) / paths.JOB_LOG_DIR / f"{name}.log"


def spawn_detached(root: Path, model: type[Job] | type[Run], row_id: int, argv: Sequence[str], name: str) -> int:
    """Start `python <argv>` in a process of its own for a row, and name that process in the row; its pid.

    The process leads a new session: closing the page, or stopping the app with Ctrl-C, does not
    stop it. Its output is appended to `log_path(root, name)`; a thread here reaps it when it exits,
    so a finished process is never mistaken for a live (zombie) pid.

    Raises:
        OSError: no process could start; the row is ended `failed` with why (it must not stay queued for ever).
    """
    path = log_path(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")]))}
    try:
        with open(path, "ab") as log:
            process = subprocess.Popen([sys.executable, *argv], stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=PROJECT_DIR)
    except OSError as exc:
        with session_scope(Path(root)) as session:
            end_row(session.get(model, row_id), FAILED, f"could not start its process: {exc}")
        raise
    threading.Thread(target=process.wait, name=f"reap-{name}", daemon=True).start()
    with session_scope(Path(root)) as session:
        record_process(session.get(model, row_id), process.pid)
    return process.pid


def start_job(root: Path, kind: str, params: dict, module: str) -> int:
    """Queue a `jobs` row of `kind` and run `python -m <module> --root R --job-id N` for it, detached; its id."""
    with session_scope(Path(root)) as session:
        job = Job(kind=kind, state=QUEUED, params=params, host=this_host())
        session.add(job)
        session.flush()
        job_id = int(job.id)
    spawn_detached(root, Job, job_id, ["-m", module, "--root", str(root), "--job-id", str(job_id)], f"{kind}-{job_id}")
    return job_id


@contextlib.contextmanager
def exclusive_file_lock(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive `flock` on `lock_file` (made if absent) for the block: one holder at a time."""
    # flock locks belong to the open file description, so two threads of one process that open
    # the lock file separately exclude each other just like two processes do.
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ask_to_stop(root: Path, model: type[Job] | type[Run], row_id: int) -> str | None:
    """Ask a row's process to stop: set the row's stop flag, then SIGTERM the process if it runs here.

    The flag is committed first: a process signalled before it installed its handler dies at once,
    and its row still reads `stopped`. Returns None when the process was signalled (or has none yet:
    it reads the flag when it starts), else the host it runs on, where it stops when it next polls
    the flag (`watch_stop_flag`).
    """
    with session_scope(Path(root)) as session:
        row = session.get(model, row_id)
        column = _JSON_COLUMN[row.__tablename__]
        setattr(row, column, {**(getattr(row, column) or {}), STOP_FLAG: True})
        pid, host, started = row.pid, row.host, row.pid_start
    if pid is None:
        return None
    if host != this_host():
        return host or "?"
    if process_alive(pid, started):  # never a process that merely got the pid later
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    return None


def watch_stop_flag(root: Path, model: type[Job] | type[Run], row_id: int, on_stop: Callable[[], None],
                    poll_s: float) -> threading.Event:
    """Call `on_stop()` once the row's stop flag is set, read every `poll_s` s in a thread (a Stop clicked
    on another machine cannot signal this process); set the returned event to end the watch."""
    finished = threading.Event()

    def watch() -> None:
        while not finished.wait(poll_s):
            try:
                with session_scope(Path(root)) as session:
                    asked = stop_requested(session.get(model, row_id))
            except Exception:  # noqa: BLE001 (a store hiccup must not end the job; the next poll retries)
                continue
            if asked:
                on_stop()
                return

    threading.Thread(target=watch, name=f"stop-flag-{row_id}", daemon=True).start()
    return finished
