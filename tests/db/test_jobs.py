"""Process state (db/jobs.py): liveness guarded by the process start time, what a vanished process reads in each
table, closing such rows, job_scope, detached processes and stop requests, and the 0003 migration on an old store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import select

from db.jobs import (
    DONE,
    FAILED,
    INTERRUPTED,
    RUNNING,
    STOP_FLAG,
    STOPPED,
    ask_to_stop,
    close_interrupted,
    effective_state,
    job_scope,
    log_path,
    process_alive,
    process_start,
    record_process,
    spawn_detached,
    this_host,
)
from db.models import Export, Job, JobError, Run
from db.store import MIGRATIONS_DIR, dispose_engine, get_engine, migrate, session_scope, store_url

ROWS: dict[str, Callable[[], Job | Run | Export]] = {  # a running row of each table that names a process
    "jobs": lambda: Job(kind="ingest", state=RUNNING),
    "runs": lambda: Run(stage="pretrain", data_dir="d", out_dir="o", state=RUNNING, author="ana", config={}),
    "exports": lambda: Export(out_dir="o", format="lerobot-v3", state=RUNNING, author="ana", manifest={}),
}


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    """A live process of this host that is not this one."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def ended_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def wait_for(check: Callable[[], object], what: str, timeout_s: float = 30.0) -> object:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)
    return value


def test_a_live_pid_reads_alive_only_with_its_own_start_time(sleeper):
    started = process_start(sleeper.pid)
    assert started is not None and started == process_start(sleeper.pid)  # stable while it lives
    assert started != process_start(os.getpid())
    assert process_alive(sleeper.pid, started) and process_alive(sleeper.pid)  # unknown start: the pid alone
    boot, ticks = started.rsplit(":", 1)
    reused = f"{boot}:{int(ticks) - 1}"  # what the row of an earlier process with the same pid recorded
    assert not process_alive(sleeper.pid, reused)
    assert not process_alive(ended_pid()) and process_alive(None)  # no pid yet: its process is on its way


@pytest.mark.parametrize("table", list(ROWS))
def test_a_vanished_process_reads_interrupted_in_each_table_and_is_closed(root, table, sleeper):
    with session_scope(root) as session:
        dead, alive, reused, elsewhere = (ROWS[table]() for _ in range(4))
        record_process(dead, ended_pid())
        record_process(alive, sleeper.pid)
        record_process(reused, sleeper.pid)
        reused.pid_start = "another-boot:1"  # a live pid, but not the process that started this row
        record_process(elsewhere, ended_pid())
        elsewhere.host = "gpu-node-7"  # a pid names a process only on its own host
        session.add_all([dead, alive, reused, elsewhere])
        session.flush()
        assert [effective_state(r) for r in (dead, alive, reused, elsewhere)] == [INTERRUPTED, RUNNING,
                                                                                 INTERRUPTED, RUNNING]
        ids = [r.id for r in (dead, reused)]
    with session_scope(root) as session:
        model = type(dead)
        closed = close_interrupted(session, model)
        assert sorted(r.id for r in closed) == sorted(ids)
        where = {"jobs": lambda r: r.message, "runs": lambda r: r.config["message"],
                 "exports": lambda r: r.manifest["error"]}[table]  # where each table keeps why it ended
        messages = [where(r) for r in closed]
    assert all(m.startswith("interrupted: its process (pid ") for m in messages), messages
    with session_scope(root) as session:
        states = {r.id: r.state for r in session.scalars(select(model))}
    assert sorted(states.values()) == [INTERRUPTED, INTERRUPTED, RUNNING, RUNNING]


def test_a_vanished_process_asked_to_stop_reads_stopped(root):
    with session_scope(root) as session:
        run = ROWS["runs"]()
        run.config = {STOP_FLAG: True}
        record_process(run, ended_pid())
        session.add(run)
        session.flush()
        assert effective_state(run) == STOPPED
        [closed] = close_interrupted(session, Run)
        assert closed.state == STOPPED and closed.finished_at is not None


def test_job_scope_opens_a_running_row_and_ends_it(root):
    with job_scope(root, "score", {"clips": None}, n_total=3) as job:
        with session_scope(root) as session:
            row = session.get(Job, job.id)
            assert (row.state, row.pid, row.host, row.n_total) == (RUNNING, os.getpid(), this_host(), 3)
            assert row.pid_start == process_start(os.getpid()) and effective_state(row) == RUNNING
        job.update(n_done=2, errors=[("a.mp4", "no video stream")])
    with pytest.raises(ZeroDivisionError), job_scope(root, "score") as failing:
        1 / 0  # noqa: B018 (the error is the point)
    with job_scope(root, "score") as ended:
        ended.update(state=FAILED, message="2 inputs failed")  # an ending written by the block stands
    with session_scope(root) as session:
        rows = {r.id: r for r in session.scalars(select(Job))}
        errors = session.scalars(select(JobError)).all()
        assert (rows[job.id].state, rows[job.id].n_done) == (DONE, 2)
        assert [(e.job_id, e.item, e.reason) for e in errors] == [(job.id, "a.mp4", "no video stream")]
        assert (rows[failing.id].state, rows[failing.id].message) == (FAILED, "ZeroDivisionError: division by zero")
        assert (rows[ended.id].state, rows[ended.id].message) == (FAILED, "2 inputs failed")


def test_job_scope_closes_the_rows_of_its_kind_whose_process_died(root):
    with session_scope(root) as session:
        killed, other_kind = Job(kind="score", state=RUNNING), Job(kind="ingest", state=RUNNING)
        for row in (killed, other_kind):
            record_process(row, ended_pid())
        session.add_all([killed, other_kind])
    with job_scope(root, "score"):
        pass
    with session_scope(root) as session:
        assert session.get(Job, killed.id).state == INTERRUPTED
        assert session.get(Job, other_kind.id).state == RUNNING  # its own kind closes it, when it next starts


def test_a_detached_process_is_recorded_and_stops_when_asked(root):
    with session_scope(root) as session:
        job = Job(kind="sleep", state="queued", host=this_host())
        session.add(job)
    pid = spawn_detached(root, Job, job.id, ["-c", "import time; print('up', flush=True); time.sleep(120)"], "sleep-1")
    with session_scope(root) as session:
        row = session.get(Job, job.id)
        assert (row.pid, row.host, row.pid_start) == (pid, this_host(), process_start(pid))
        assert effective_state(row) == "queued"
    wait_for(lambda: "up" in log_path(root, "sleep-1").read_text(), "the process's output in its log")
    assert ask_to_stop(root, Job, job.id) is None  # signalled here
    with session_scope(root) as session:  # SIGTERM ended it; a stop was asked: it reads stopped, not interrupted
        wait_for(lambda: effective_state(session.get(Job, job.id)) == STOPPED, "the process to end")
        assert session.get(Job, job.id).params[STOP_FLAG]


def test_a_stop_for_a_process_of_another_host_only_flags_its_row(root, sleeper):
    with session_scope(root) as session:
        run = ROWS["runs"]()
        record_process(run, sleeper.pid)
        run.host = "gpu-node-7"
        session.add(run)
    assert ask_to_stop(root, Run, run.id) == "gpu-node-7"
    assert sleeper.poll() is None, "a process of this machine was signalled"
    with session_scope(root) as session:
        assert session.get(Run, run.id).config[STOP_FLAG]


def test_a_process_that_cannot_start_fails_its_row(root, monkeypatch):
    with session_scope(root) as session:
        job = Job(kind="sleep", state="queued")
        session.add(job)
    monkeypatch.setattr(sys, "executable", str(root / "no-python"))
    with pytest.raises(OSError):
        spawn_detached(root, Job, job.id, ["-c", "pass"], "sleep-2")
    with session_scope(root) as session:
        row = session.get(Job, job.id)
        assert row.state == FAILED and row.message.startswith("could not start its process")


@pytest.mark.usefixtures("store_backend")
def test_a_store_of_revision_0002_upgrades_in_place_with_owners_copied(root):
    """Rows written before 0003 kept their owner in JSON; the migration copies pid and host into the columns."""
    root.mkdir(parents=True, exist_ok=True)
    url = store_url(root)
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
    now, dead = datetime.now(UTC), ended_pid()
    owner = {"host": this_host()}
    tables = {name: sa.table(name, *(sa.column(c) for c in columns), sa.column(json_name, sa.JSON())) for
              name, json_name, columns in [
                  ("jobs", "params", ["kind", "state", "n_total", "n_done", "n_failed", "pid", "created_at",
                                      "updated_at"]),
                  ("runs", "config", ["stage", "data_dir", "out_dir", "state", "pid", "author", "created_at"]),
                  ("exports", "manifest", ["out_dir", "format", "state", "author", "created_at"])]}
    with engine.begin() as conn:
        conn.execute(tables["jobs"].insert().values(kind="ingest", state="running", n_total=0, n_done=0, n_failed=0,
                                                    pid=dead, created_at=now, updated_at=now, params=owner))
        conn.execute(tables["runs"].insert().values(stage="pretrain", data_dir="d", out_dir="o", state="running",
                                                    pid=dead, author="ana", created_at=now, config=owner))
        conn.execute(tables["exports"].insert().values(out_dir="o", format="lerobot-v3", state="running",
                                                       author="ana", created_at=now,
                                                       manifest={**owner, "pid": dead, "tmp_dir": "o.tmp-1"}))
    migrate(engine)
    engine.dispose()
    dispose_engine(url)
    with get_engine(root).connect() as conn:
        head = ScriptDirectory.from_config(config).get_current_head()  # 0003 and every later migration ran
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == head
    with session_scope(root) as session:
        rows = [session.scalars(select(model)).one() for model in (Job, Run, Export)]
        assert [(r.pid, r.host, r.pid_start) for r in rows] == [(dead, this_host(), None)] * 3
        assert [effective_state(r) for r in rows] == [INTERRUPTED] * 3  # what the old code read too
