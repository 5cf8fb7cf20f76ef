"""Flags and their review: proposed by rules or curators, then confirmed or dismissed, once.

Every change is a conditional `UPDATE ... WHERE id = :id AND version = :expected` that bumps the
version, with its audit entry in the same transaction. A curator decides on the version they
saw; if someone else changed the flag meanwhile, the update matches no row and
`StaleUpdateError` says who changed it, to what, and when, instead of overwriting it.

States: `proposed` (by a rule or a curator) -> `confirmed` | `dismissed` (curators may change their
mind, on the current version). `withdrawn` is set only by re-scoring, for a proposal its rule no
longer makes; a later score can propose it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from db.models import AuditEntry, Flag, utc_now
from db.schemas import HANDS
from db.store import audit, session_scope

from .rules import SEVERITIES, ProposedFlag

DECISION_STATES = ("proposed", "confirmed", "dismissed")  # what a curator may set
ORIGINS = ("rule", "curator")
MAX_REASON_CHARS = 2_000  # a flag reason is a sentence or two; longer is a paste accident, refused
MAX_AUTHOR_CHARS = 200  # a person's or a job's name
FLAGS = Flag.__table__
RECORD_FIELDS = ("id", "clip_id", "frame_start", "frame_end", "hand", "reason", "severity", "origin", "rule",
                 "state", "author", "created_at", "updated_at", "version", "embodiment")


class StaleUpdateError(RuntimeError):
    """A decision made on an old version of a row: someone else changed it first."""

    def __init__(self, entity: str, entity_id: int | str, expected_version: int, current: dict | None,
                 changed_by: str | None, changed_at: datetime | None) -> None:
        self.entity, self.entity_id, self.expected_version = entity, entity_id, expected_version
        self.current, self.changed_by, self.changed_at = current, changed_by, changed_at
        if current is None:
            message = f"{entity} {entity_id} no longer exists"
        else:
            when = f" at {changed_at:%Y-%m-%d %H:%M:%S} UTC" if changed_at else ""
            clip = f" on clip {current['clip_id']}" if current.get("clip_id") else ""
            state = f"; it is now '{current['state']}'" if "state" in current else ""
            if expected_version == 0:  # the caller had not seen any version: it was made meanwhile
                message = (f"{entity} {entity_id}{clip} already exists, last saved by {changed_by or 'someone'}"
                           f"{when}{state} (version {current['version']}). Nothing was overwritten: load it "
                           "first, or replace it naming its version.")
            else:
                message = (f"{entity} {entity_id}{clip} was changed by {changed_by or 'someone'}{when}{state} "
                           f"(version {current['version']}, you had version {expected_version}). "
                           "Nothing was overwritten: reload it and decide again.")
        super().__init__(message)


@dataclass(frozen=True)
class FlagRecord:
    id: int
    clip_id: str
    frame_start: int | None
    frame_end: int | None
    hand: str | None
    reason: str
    severity: str
    origin: str
    rule: str | None
    state: str
    author: str
    created_at: datetime
    updated_at: datetime
    version: int
    embodiment: str | None = None  # the robot hand a retargeting-quality flag is about

    @classmethod
    def of(cls, row: Row) -> FlagRecord:
        return cls(**{name: getattr(row, name) for name in RECORD_FIELDS})

    def snapshot(self) -> dict[str, object]:
        """JSON-able fields for the audit log."""
        return {name: (v.isoformat() if isinstance(v, datetime) else v)
                for name in RECORD_FIELDS if (v := getattr(self, name)) is not None}


def _validate(clip_id: str, reason: str, author: str, severity: str, frame_start: int | None,
              frame_end: int | None, hand: str | None, origin: str) -> None:
    if not clip_id or not reason or not author:
        raise ValueError("a flag needs a clip_id, a reason and an author")
    if len(reason) > MAX_REASON_CHARS or len(author) > MAX_AUTHOR_CHARS:
        raise ValueError(f"a flag reason is at most {MAX_REASON_CHARS} characters and its author at most "
                         f"{MAX_AUTHOR_CHARS}, got {len(reason)} and {len(author)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, got {origin!r}")
    if hand is not None and hand not in HANDS:
        raise ValueError(f"hand must be one of {HANDS} or None, got {hand!r}")
    if (frame_start is None) != (frame_end is None):
        raise ValueError("give both frame_start and frame_end, or neither (the whole clip)")
    if frame_start is not None and not 0 <= frame_start <= frame_end:
        raise ValueError(f"frame range must have 0 <= frame_start <= frame_end, got {frame_start}..{frame_end}")


def _insert(session: Session, actor: str, **values: object) -> FlagRecord:
    now = utc_now()
    row_id = session.execute(FLAGS.insert().values(created_at=now, updated_at=now, version=1, **values)
                             ).inserted_primary_key[0]
    record = _read(session, row_id)
    audit(session, actor=actor, action="flag.create", entity="flag", entity_id=row_id, clip_id=record.clip_id,
          after=record.snapshot())
    session.info["wrote"] = True
    return record


def create_flag(root: Path, clip_id: str, reason: str, author: str, severity: str = "warning",
                frame_start: int | None = None, frame_end: int | None = None, hand: str | None = None,
                origin: str = "curator", rule: str | None = None, state: str | None = None) -> FlagRecord:
    """Add a flag. A curator's flag is `confirmed` (it is their decision), a rule's `proposed`."""
    _validate(clip_id, reason, author, severity, frame_start, frame_end, hand, origin)
    state = state or ("confirmed" if origin == "curator" else "proposed")
    if state not in DECISION_STATES:
        raise ValueError(f"a new flag's state must be one of {DECISION_STATES}, got {state!r}")
    with session_scope(root) as session:
        return _insert(session, author, clip_id=clip_id, reason=reason, author=author, severity=severity,
                       frame_start=frame_start, frame_end=frame_end, hand=hand, origin=origin, rule=rule,
                       state=state)


def _read(session: Session, flag_id: int) -> FlagRecord | None:
    row = session.execute(select(*[FLAGS.c[n] for n in RECORD_FIELDS]).where(FLAGS.c.id == flag_id)).first()
    return None if row is None else FlagRecord.of(row)


def _last_change(session: Session, entity: str, entity_id: int | str) -> tuple[str | None, datetime | None]:
    row = session.execute(select(AuditEntry.actor, AuditEntry.at)
                          .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
                          .order_by(AuditEntry.id.desc()).limit(1)).first()
    return (row.actor, row.at) if row else (None, None)


def stale_error(session: Session, entity: str, entity_id: int | str, expected_version: int,
                current: dict | None) -> StaleUpdateError:
    """The error for a refused update, naming who changed the row last and when."""
    changed_by, changed_at = _last_change(session, entity, entity_id)
    return StaleUpdateError(entity, entity_id, expected_version, current, changed_by, changed_at)


def _set_state(session: Session, flag_id: int, state: str, actor: str, expected_version: int,
               only_from: str | None = None) -> FlagRecord:
    before = _read(session, flag_id)
    if before is None or before.version != expected_version or (only_from and before.state != only_from):
        raise stale_error(session, "flag", flag_id, expected_version, before and before.snapshot())
    if before.state == state:  # the decision stands already: no new version, no audit row (a double click)
        return before
    result = session.execute(
        update(FLAGS).where(FLAGS.c.id == flag_id, FLAGS.c.version == expected_version)
        .values(state=state, version=expected_version + 1, updated_at=utc_now()))
    if result.rowcount != 1:  # changed between our read and our write
        current = _read(session, flag_id)
        raise stale_error(session, "flag", flag_id, expected_version, current and current.snapshot())
    audit(session, actor=actor, action=f"flag.{state}", entity="flag", entity_id=flag_id, clip_id=before.clip_id,
          before={"state": before.state, "version": before.version},
          after={"state": state, "version": expected_version + 1})
    session.info["wrote"] = True
    return _read(session, flag_id)


def set_flag_state(root: Path, flag_id: int, state: str, actor: str, expected_version: int) -> FlagRecord:
    """Decide on a flag as seen at `expected_version` (deciding what it already is changes nothing).

    Raises:
        StaleUpdateError: the flag changed since that version (nothing is written).
        ValueError: `state` is not a curator decision, or no actor is named.
    """
    if state not in DECISION_STATES:
        raise ValueError(f"state must be one of {DECISION_STATES}, got {state!r}")
    if not actor:
        raise ValueError("a decision needs the curator's name")
    with session_scope(root) as session:
        return _set_state(session, flag_id, state, actor, expected_version)


def confirm_flag(root: Path, flag_id: int, actor: str, expected_version: int) -> FlagRecord:
    return set_flag_state(root, flag_id, "confirmed", actor, expected_version)


def dismiss_flag(root: Path, flag_id: int, actor: str, expected_version: int) -> FlagRecord:
    return set_flag_state(root, flag_id, "dismissed", actor, expected_version)


@dataclass
class BulkResult:
    updated: list[int] = field(default_factory=list)
    stale: list[StaleUpdateError] = field(default_factory=list)  # refused: changed since they were listed


def bulk_set_state(root: Path, flags: list[tuple[int, int]], state: str, actor: str) -> BulkResult:
    """Decide on many `(flag_id, version seen)` at once; stale ones are refused and reported."""
    if state not in DECISION_STATES:
        raise ValueError(f"state must be one of {DECISION_STATES}, got {state!r}")
    if not actor:
        raise ValueError("a decision needs the curator's name")
    result = BulkResult()
    with session_scope(root) as session:
        for flag_id, version in flags:
            try:
                _set_state(session, int(flag_id), state, actor, int(version))
                result.updated.append(int(flag_id))
            except StaleUpdateError as exc:
                result.stale.append(exc)
    return result


def get_flag(root: Path, flag_id: int) -> FlagRecord | None:
    with session_scope(root) as session:
        return _read(session, flag_id)


def list_flags(root: Path, clip_id: str | None = None, states: tuple[str, ...] = ()) -> list[FlagRecord]:
    """Flags of one clip (or all), optionally in some states, in id order."""
    query = select(*[FLAGS.c[n] for n in RECORD_FIELDS]).order_by(FLAGS.c.id)
    if clip_id is not None:
        query = query.where(FLAGS.c.clip_id == clip_id)
    if states:
        query = query.where(FLAGS.c.state.in_(states))
    with session_scope(root) as session:
        return [FlagRecord.of(row) for row in session.execute(query)]


def clip_history(root: Path, clip_id: str) -> pd.DataFrame:
    """The audit log of one clip (flags, labels, ...), oldest first."""
    query = (select(AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.entity, AuditEntry.entity_id,
                    AuditEntry.before, AuditEntry.after)
             .where(AuditEntry.clip_id == clip_id).order_by(AuditEntry.id))
    with session_scope(root) as session:
        rows = session.execute(query).all()
    return pd.DataFrame(rows, columns=["at", "actor", "action", "entity", "entity_id", "before", "after"])


@dataclass
class SyncReport:
    created: int = 0  # new proposals
    reproposed: int = 0  # withdrawn earlier, proposed again
    kept: int = 0  # already proposed, or already decided by a curator
    withdrawn: int = 0  # proposals their rule no longer makes


def sync_rule_flags(root: Path, proposals: list[ProposedFlag], clip_ids: set[str], actor: str = "rules"
                    ) -> SyncReport:
    """Make the rule flags of `clip_ids` match `proposals`, never touching curators' decisions.

    A proposal whose clip, rule, hand (and embodiment) already have a confirmed or dismissed flag is
    not made again (a curator decides once); an identical pending proposal is kept.
    """
    report = SyncReport()
    with session_scope(root) as session:
        existing = [FlagRecord.of(r) for r in session.execute(
            select(*[FLAGS.c[n] for n in RECORD_FIELDS]).where(FLAGS.c.origin == "rule"))
            if r.clip_id in clip_ids]
        by_key = {(f.clip_id, f.rule, f.hand, f.frame_start, f.frame_end, f.embodiment): f for f in existing}
        decided = {(f.clip_id, f.rule, f.hand, f.embodiment) for f in existing if f.state in ("confirmed", "dismissed")}
        wanted = set()
        for proposal in proposals:
            wanted.add(proposal.key)
            _apply_proposal(session, proposal, by_key.get(proposal.key), decided, actor, report)
        for key, flag in by_key.items():
            if key not in wanted and flag.state == "proposed":
                try:
                    _set_state(session, flag.id, "withdrawn", actor, flag.version, only_from="proposed")
                    report.withdrawn += 1
                except StaleUpdateError:
                    pass  # a curator decided on it meanwhile: their decision stands
    return report


def _apply_proposal(session: Session, proposal: ProposedFlag, flag: FlagRecord | None,
                    decided: set[tuple[str, str, str | None, str | None]], actor: str, report: SyncReport) -> None:
    if flag is None and (proposal.clip_id, proposal.rule, proposal.hand, proposal.embodiment) not in decided:
        _insert(session, actor, clip_id=proposal.clip_id, reason=proposal.reason, author=actor,
                severity=proposal.severity, frame_start=proposal.frame_start, frame_end=proposal.frame_end,
                hand=proposal.hand, origin="rule", rule=proposal.rule, state="proposed",
                embodiment=proposal.embodiment)
        report.created += 1
    elif flag is not None and flag.state == "withdrawn":
        try:
            _set_state(session, flag.id, "proposed", actor, flag.version, only_from="withdrawn")
            report.reproposed += 1
        except StaleUpdateError:
            pass
    else:
        report.kept += 1
