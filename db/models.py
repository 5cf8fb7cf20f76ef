"""Annotation store models: human decisions, transactional and precious.

Every mutable row carries `version`, incremented on each update; writers update with
`WHERE version = :expected` so a stale edit is refused instead of silently overwriting a
concurrent one. Every change is also appended to `audit_log`. `store_revision` holds one row
whose counter any write bumps, so DuckDB knows when to reload these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The tables the query engine copies into DuckDB (db/engine.py): a write to one of them moves the
# store revision, which tells every process to reload them.
MIRRORED_TABLES = frozenset({"flags", "labels", "pairs", "views", "exports", "runs", "embodiments",
                             "clip_embodiments"})
# The states a flag (below) can be in: a rule or a curator proposes, a curator confirms or dismisses,
# a re-score withdraws the rule flags that no longer fire.
FLAG_STATES = ("proposed", "confirmed", "dismissed", "withdrawn")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class StoreRevision(Base):
    __tablename__ = "store_revision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class Flag(Base):
    """A problem with a clip or a frame range, proposed by a rule or a curator, then reviewed."""

    __tablename__ = "flags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    clip_id: Mapped[str] = mapped_column(String(64), index=True)
    frame_start: Mapped[int | None] = mapped_column(Integer)  # null: the whole clip
    frame_end: Mapped[int | None] = mapped_column(Integer)  # inclusive
    hand: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16), default="warning")  # info|warning|error
    origin: Mapped[str] = mapped_column(String(16), default="curator")  # rule|curator
    rule: Mapped[str | None] = mapped_column(String(128))
    # The robot hand a retargeting-quality flag is about (retargets.embodiment); null for other flags.
    embodiment: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Label(Base):
    """Human-entered labels: a task text correction (whole clip) or a named segment."""

    __tablename__ = "labels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    clip_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # task|segment
    frame_start: Mapped[int | None] = mapped_column(Integer)
    frame_end: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Pair(Base):
    """A proposed human-robot pair, its time alignment, and the curator's decision."""

    __tablename__ = "pairs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    human_clip_id: Mapped[str] = mapped_column(String(64), index=True)
    robot_clip_id: Mapped[str] = mapped_column(String(64), index=True)
    task_similarity: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)  # DTW cost per step
    path: Mapped[list | None] = mapped_column(JSON)  # warping path [[human_frame, robot_frame], ...]
    state: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __table_args__ = (Index("ix_pairs_human_robot", "human_clip_id", "robot_clip_id", unique=True),)


class EmbodimentRecord(Base):
    """A robot's embodiment spec (labeling/embodiment/spec.py): which dataset dimensions are which URDF joints."""

    __tablename__ = "embodiments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    spec: Mapped[dict] = mapped_column(JSON)  # the checked spec, paths resolved (EmbodimentSpec.to_dict)
    source: Mapped[str | None] = mapped_column(Text)  # the YAML as the user wrote it
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ClipEmbodiment(Base):
    """Which embodiment spec a robot episode's state follows (set at ingest or by `egocurate embodiment set`)."""

    __tablename__ = "clip_embodiments"
    clip_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    embodiment: Mapped[str] = mapped_column(String(128), index=True)  # embodiments.name
    author: Mapped[str] = mapped_column(String(128))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)


class SavedView(Base):
    """A named, serialised filter spec; the same spec drives the app, the CLI and exports."""

    __tablename__ = "views"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    spec: Mapped[dict] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Export(Base):
    __tablename__ = "exports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    out_dir: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(32))
    view_name: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default="running")
    manifest: Mapped[dict | None] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    pid: Mapped[int | None] = mapped_column(Integer)  # the process writing it, while running
    host: Mapped[str | None] = mapped_column(String(255))  # the machine of `pid`: a pid names a process only there
    pid_start: Mapped[str | None] = mapped_column(String(64))  # when `pid` started (db/jobs.py): guards pid reuse


class Run(Base):
    """A training run launched from the app or the CLI."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stage: Mapped[str] = mapped_column(String(16))
    data_dir: Mapped[str] = mapped_column(Text)
    out_dir: Mapped[str] = mapped_column(Text)
    config: Mapped[dict | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    pid: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    host: Mapped[str | None] = mapped_column(String(255))  # the machine of `pid`: a pid names a process only there
    pid_start: Mapped[str | None] = mapped_column(String(64))  # when `pid` started (db/jobs.py): guards pid reuse


class Job(Base):
    """A long pipeline job (ingest, label, retarget, ...), with progress for the app."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    params: Mapped[dict | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="running")  # queued|running|done|failed|interrupted
    n_total: Mapped[int] = mapped_column(Integer, default=0)
    n_done: Mapped[int] = mapped_column(Integer, default=0)
    n_failed: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    host: Mapped[str | None] = mapped_column(String(255))  # the machine of `pid`: a pid names a process only there
    pid_start: Mapped[str | None] = mapped_column(String(64))  # when `pid` started (db/jobs.py): guards pid reuse


class JobError(Base):
    """One item a job could not process, and why."""

    __tablename__ = "job_errors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class AuditEntry(Base):
    """Append-only: who changed what, when, from which state to which."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    clip_id: Mapped[str | None] = mapped_column(String(64), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), default="viewer")  # viewer|curator|admin
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class UserSession(Base):
    """A signed-in session (see db/auth.py). Only SHA-256 digests are stored: a copy of this table
    signs nobody in. `media_hash` is the digest of the read-only media key the browser's URLs carry."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    media_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # absolute end, whatever the activity
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # signed out or cut off
