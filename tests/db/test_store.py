"""Annotation store: migrated on open, WAL, revision counter, audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from db.models import AuditEntry, Flag
from db.store import audit, get_engine, session_scope, store_revision


def test_sqlite_store_is_migrated_and_in_wal_mode(root):
    engine = get_engine(root)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    assert {"flags", "labels", "pairs", "views", "exports", "runs", "audit_log", "users", "jobs",
            "embodiments", "clip_embodiments"} <= tables
    assert (root / "catalog.db").is_file()


@pytest.mark.usefixtures("store_backend")
def test_writes_bump_the_revision_and_reads_do_not(root):
    start = store_revision(root)
    with session_scope(root) as session:
        session.add(Flag(clip_id="c1", reason="jitter", author="ann"))
        audit(session, actor="ann", action="create", entity="flag", entity_id="1", clip_id="c1")
    after_write = store_revision(root)
    with session_scope(root) as session:
        session.execute(select(Flag)).all()
    assert after_write == start + 1
    assert store_revision(root) == after_write


@pytest.mark.usefixtures("store_backend")
def test_failed_transaction_keeps_nothing(root):
    try:
        with session_scope(root) as session:
            session.add(Flag(clip_id="c1", reason="x", author="ann"))
            session.flush()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with session_scope(root) as session:
        assert session.execute(select(Flag)).all() == []
        assert session.execute(select(AuditEntry)).all() == []


@pytest.mark.usefixtures("store_backend")
def test_core_statements_and_autoflushed_adds_bump_the_revision(root):
    from sqlalchemy import insert, update

    start = store_revision(root)
    with session_scope(root) as session:
        session.execute(insert(Flag).values(clip_id="c2", reason="core insert", author="bob"))
    assert store_revision(root) == start + 1
    with session_scope(root) as session:
        session.add(Flag(clip_id="c3", reason="autoflushed", author="bob"))
        session.execute(select(Flag)).all()  # autoflush empties session.new before commit
    assert store_revision(root) == start + 2
    with session_scope(root) as session:
        session.execute(update(Flag).where(Flag.clip_id == "c2").values(state="confirmed"))
    assert store_revision(root) == start + 3


def test_only_writes_to_mirrored_tables_move_the_revision(root):
    """Sign-ins, jobs and the audit log are bookkeeping: reloading every annotation table for them is waste."""
    from db import auth
    from db.models import Job

    auth.add_user(root, "boss", "correct horse battery", "admin", actor="test")
    start = store_revision(root)
    with session_scope(root) as session:
        session.add(Job(kind="ingest"))
        audit(session, actor="test", action="note", entity="job", entity_id="1")
    for _ in range(3):
        with pytest.raises(auth.SignInError):
            auth.sign_in(root, "boss", "wrong password")
    auth.sign_in(root, "boss", "correct horse battery")
    assert store_revision(root) == start
    with session_scope(root) as session:
        session.add(Flag(clip_id="c1", reason="jitter", author="ann"))
    assert store_revision(root) == start + 1
