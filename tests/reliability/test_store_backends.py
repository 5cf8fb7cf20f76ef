"""The annotation store on SQLite and on a real local PostgreSQL: migrations, first opens at once,
pair decisions, and the tables the pages query through DuckDB.

The rest of the store suite runs on both backends too, through the `store_backend` fixture
(tests/db/test_store.py, tests/curation/test_flags.py, test_labels.py, test_concurrent_review.py,
the store-facing tests of test_views.py); the load test is tests/reliability/test_load.py.
"""

from __future__ import annotations

import multiprocessing
from datetime import datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from curation.flags import create_flag, list_flags
from curation.pair_store import PairProposal, StaleUpdateError, decide_pair, get_pair, sync_proposals
from curation.views import save_view
from db.engine import QueryEngine
from db.store import MIGRATIONS_DIR, get_engine, migrate, store_revision, store_url
from db.view_spec import ViewSpec
from tests.reliability import workload

pytestmark = pytest.mark.usefixtures("store_backend")
TABLES = {"flags", "labels", "pairs", "views", "exports", "runs", "audit_log", "users", "jobs", "store_revision"}
OPENERS = 6


def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def test_the_store_is_migrated_to_head_on_its_backend(root, store_backend):
    engine = get_engine(root)
    assert engine.dialect.name == store_backend
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    assert set(inspect(engine).get_table_names()) >= TABLES
    migrate(engine)  # opening again changes nothing
    assert store_revision(root) == 0


def open_at_once(root: Path, write: bool) -> list[str]:
    """`OPENERS` processes open the store (and with `write` make a first write) at the same moment."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([workload.__name__])
    start, results = context.Barrier(OPENERS, timeout=120), context.Queue()
    processes = [context.Process(target=workload.open_store, args=(str(root), store_url(root), start, results,
                                                                   write)) for _ in range(OPENERS)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return outcomes


def test_processes_opening_a_fresh_store_at_once_migrate_it_once(root):
    """The app and CLI jobs may all start on a new store: only one creates the tables, none fails."""
    outcomes = open_at_once(root, write=False)
    assert outcomes == ["ok"] * OPENERS, "\n".join(outcomes)
    with get_engine(root).connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]


def test_first_writes_to_a_fresh_store_at_once_all_commit(root):
    """The store revision row is made by the first write: simultaneous first writes must not collide on it."""
    outcomes = open_at_once(root, write=True)
    assert outcomes == ["ok"] * OPENERS, "\n".join(outcomes)
    assert len(list_flags(root)) == OPENERS and store_revision(root) == OPENERS


def proposals(aligned: bool = False) -> list[PairProposal]:
    """Two pairs; the second proposed on its task alone, or (`aligned`) with a cost and a path."""
    second = PairProposal("h2", "r2", 0.8, 2.0, [[0, 0], [1, 0]]) if aligned else PairProposal("h2", "r2", 0.8,
                                                                                                  None, None)
    return [PairProposal("h1", "r1", 0.9, 1.0, [[0, 0], [1, 1], [2, 1]]), second]


def test_pair_decisions_are_versioned_and_survive_re_pairing(root):
    assert sync_proposals(root, proposals()).created == 2
    first, second = get_pair(root, 1), get_pair(root, 2)
    assert first.path == [[0, 0], [1, 1], [2, 1]] and second.cost is None  # JSON and NULL round trips
    accepted = decide_pair(root, first.id, "accepted", "alice", first.version)
    assert (accepted.state, accepted.version, accepted.decided_by) == ("accepted", 2, "alice")
    assert isinstance(accepted.decided_at, datetime)
    with pytest.raises(StaleUpdateError, match="changed by alice"):
        decide_pair(root, first.id, "rejected", "bob", first.version, reason="wrong object")
    report = sync_proposals(root, proposals(aligned=True))  # re-pairing: the pending one is realigned only
    assert (report.updated, report.kept) == (1, 1)
    assert get_pair(root, first.id).state == "accepted" and get_pair(root, second.id).version == 2
    assert sync_proposals(root, []).withdrawn == 1 and get_pair(root, second.id).state == "withdrawn"
    assert sync_proposals(root, proposals(aligned=True)).reproposed == 1


def test_annotation_tables_reach_duckdb_with_their_types(root):
    flag = create_flag(root, "c1", "hand leaves the table", "ann", frame_start=3, frame_end=9, hand="left")
    save_view(root, "pours", ViewSpec(tasks=("pour",)), "ann")
    sync_proposals(root, proposals())
    cursor = QueryEngine(root).cursor()
    state, version, created = cursor.execute("SELECT state, version, created_at FROM flags").fetchone()
    assert (state, version) == ("confirmed", 1)
    assert abs(created.timestamp() - flag.created_at.timestamp()) < 1e-3  # same instant, whichever store
    assert cursor.execute("SELECT spec->>'$.tasks[0]' FROM views").fetchone() == ("pour",)
    assert cursor.execute("SELECT json_array_length(path) FROM pairs ORDER BY id").fetchall() == [(3,), (None,)]
