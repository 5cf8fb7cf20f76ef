"""The annotation store: one SQLAlchemy engine per URL, migrated on open, sessions through one door.

SQLite (the default, `<root>/catalog.db`) runs in WAL mode with a busy timeout so many processes
(app sessions, CLI jobs, the trainer) can write; `EGOCURATE_DB_URL` points at PostgreSQL for teams.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from . import paths
from .models import MIRRORED_TABLES, AuditEntry, StoreRevision

SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for another's lock before failing
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x45474F43  # PostgreSQL advisory lock id held while migrating (any fixed number)

UPSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}  # dialects with INSERT ... ON CONFLICT

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def store_url(root: Path) -> str:
    """`$EGOCURATE_DB_URL` if set, else the SQLite file under the data root."""
    return os.environ.get(paths.DB_URL_ENV) or f"sqlite:///{paths.catalog_path(root)}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 (DB-API types)
    # The SQLite store's own DB-API cursor (not DuckDB, so not db.queries.door): PRAGMAs are set per
    # connection, when SQLAlchemy opens it.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (no-op when already there)."""
    config = _alembic_config(engine.url.render_as_string(hide_password=False))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
    with engine.begin() as conn:
        _lock_for_migration(conn)
        if MigrationContext.configure(conn).get_current_revision() == head:
            return  # another process migrated it while we waited for the lock
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _lock_for_migration(conn: Connection) -> None:
    """Serialise migrations: processes first opening one fresh store at once would each create its tables."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now (waits out the busy timeout), not at first DDL
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def get_engine(root: Path) -> Engine:
    """The process-wide engine for this root's store, created and migrated once."""
    url = store_url(root)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                root.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True)
            migrate(engine)
            _engines[url] = engine
    return engine


def dispose_engine(url: str) -> None:
    """Close and forget one URL's engine, ending its pooled connections (a test database is dropped next)."""
    with _engines_lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def _mark_flush(session: Session, _context: object) -> None:
    # Still the pre-flush lists here: what this flush inserted, changed or deleted.
    if any(getattr(obj, "__tablename__", None) in MIRRORED_TABLES
           for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info["wrote"] = True


def _mark_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if table is None or getattr(table, "name", None) in MIRRORED_TABLES:  # unknown target: be safe
            state.session.info["wrote"] = True


@contextlib.contextmanager
def session_scope(root: Path) -> Iterator[Session]:
    """A session that commits on success (bumping the store revision if it wrote a mirrored table) or rolls back."""
    factory = sessionmaker(get_engine(root), expire_on_commit=False)
    with factory() as session:
        # A write to a table the query engine mirrors, ORM or Core, autoflushed or not, marks the
        # session so the revision moves (and every process reloads those tables); bookkeeping such
        # as sign-ins, sessions, jobs and the audit log alone does not.
        event.listen(session, "after_flush", _mark_flush)
        event.listen(session, "do_orm_execute", _mark_statement)
        try:
            yield session
            session.flush()
            if session.info.get("wrote"):
                _bump_revision(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _bump_revision(session: Session) -> None:
    upsert = UPSERTS.get(session.get_bind().dialect.name)
    if upsert is not None:
        # One atomic statement: on PostgreSQL two first writes to a fresh store would otherwise both
        # find no row to update and both insert row 1, and one of them would fail.
        session.execute(upsert(StoreRevision).values(id=1, revision=1).on_conflict_do_update(
            index_elements=[StoreRevision.id], set_={"revision": StoreRevision.revision + 1}))
        return
    result = session.execute(update(StoreRevision).where(StoreRevision.id == 1)
                             .values(revision=StoreRevision.revision + 1))
    if result.rowcount == 0:
        session.add(StoreRevision(id=1, revision=1))


def store_revision(root: Path) -> int:
    """The counter every committed write bumps; DuckDB reloads annotation tables when it moves."""
    with get_engine(root).connect() as conn:
        value = conn.execute(select(StoreRevision.revision).where(StoreRevision.id == 1)).scalar()
    return int(value or 0)


def audit(session: Session, *, actor: str, action: str, entity: str, entity_id: str | int,
          clip_id: str | None = None, before: dict | None = None, after: dict | None = None) -> None:
    """Append one entry to the audit log inside the caller's transaction."""
    session.add(AuditEntry(actor=actor, action=action, entity=entity, entity_id=str(entity_id),
                           clip_id=clip_id, before=before, after=after))
