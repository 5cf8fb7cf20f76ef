"""Pairs in the annotation store: proposals from `egocurate pair`, then a curator's accept / reject, once.

Like flags (`curation.flags`), every change is a conditional `UPDATE ... WHERE version = :seen`
that bumps the version, with its audit entry in the same transaction; a decision made on a
version someone else has since changed raises `StaleUpdateError` and writes nothing.

States: `proposed` -> `accepted` | `rejected` (curators may change their mind, on the current
version). `withdrawn` is set only by re-pairing, for a proposal it no longer makes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from db.models import Pair, utc_now
from db.store import audit, session_scope

from .flags import StaleUpdateError, stale_error

PAIR_STATES = ("proposed", "accepted", "rejected", "withdrawn")
DECISION_STATES = ("proposed", "accepted", "rejected")  # what a curator may set
PAIRS = Pair.__table__
RECORD_FIELDS = ("id", "human_clip_id", "robot_clip_id", "task_similarity", "cost", "path", "state", "reason",
                 "decided_by", "decided_at", "created_at", "version")
COST_TOLERANCE = 1e-9  # a re-run whose cost moved less than this changes nothing

__all__ = ["DECISION_STATES", "PAIR_STATES", "PairProposal", "PairRecord", "StaleUpdateError", "SyncReport",
           "add_decided_pair", "decide_pair", "get_pair", "sync_proposals"]


@dataclass(frozen=True)
class PairProposal:
    """What pairing wants stored for one (human, robot) pair."""

    human_clip_id: str
    robot_clip_id: str
    task_similarity: float
    cost: float | None  # None: proposed on its task alone, not aligned
    path: list[list[int]] | None  # [[human_frame, robot_frame], ...]


@dataclass(frozen=True)
class PairRecord:
    id: int
    human_clip_id: str
    robot_clip_id: str
    task_similarity: float | None
    cost: float | None
    path: list | None
    state: str
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    version: int

    @classmethod
    def of(cls, row: Row) -> PairRecord:
        return cls(**{name: getattr(row, name) for name in RECORD_FIELDS})

    def snapshot(self) -> dict[str, object]:
        """JSON-able fields for the audit log (the path is summarised by its length)."""
        data = {name: (v.isoformat() if isinstance(v, datetime) else v) for name in RECORD_FIELDS
                if (v := getattr(self, name)) is not None and name != "path"}
        data["path_steps"] = len(self.path or [])
        data["clip_id"] = self.human_clip_id  # StaleUpdateError names the clip
        return data


@dataclass
class SyncReport:
    created: int = 0  # new proposals
    updated: int = 0  # pending proposals whose cost or path changed
    reproposed: int = 0  # withdrawn earlier, proposed again
    kept: int = 0  # unchanged proposals, or already decided by a curator
    withdrawn: int = 0  # pending proposals pairing no longer makes


def _read(session: Session, pair_id: int) -> PairRecord | None:
    row = session.execute(select(*[PAIRS.c[n] for n in RECORD_FIELDS]).where(PAIRS.c.id == pair_id)).first()
    return None if row is None else PairRecord.of(row)


def _changed(record: PairRecord, proposal: PairProposal) -> bool:
    if (record.cost is None) != (proposal.cost is None) or record.path != proposal.path:
        return True
    return record.cost is not None and not math.isclose(record.cost, proposal.cost, abs_tol=COST_TOLERANCE)


def _update(session: Session, record: PairRecord, actor: str, action: str, **values: object) -> PairRecord:
    result = session.execute(update(PAIRS).where(PAIRS.c.id == record.id, PAIRS.c.version == record.version)
                             .values(version=record.version + 1, **values))
    if result.rowcount != 1:  # changed between our read and our write
        current = _read(session, record.id)
        raise stale_error(session, "pair", record.id, record.version, current and current.snapshot())
    after = _read(session, record.id)
    audit(session, actor=actor, action=action, entity="pair", entity_id=record.id, clip_id=record.human_clip_id,
          before=record.snapshot(), after=after.snapshot())
    session.info["wrote"] = True
    return after


def _insert(session: Session, proposal: PairProposal, actor: str) -> None:
    row_id = session.execute(PAIRS.insert().values(
        human_clip_id=proposal.human_clip_id, robot_clip_id=proposal.robot_clip_id,
        task_similarity=proposal.task_similarity, cost=proposal.cost, path=proposal.path, state="proposed",
        created_at=utc_now(), version=1)).inserted_primary_key[0]
    audit(session, actor=actor, action="pair.propose", entity="pair", entity_id=row_id,
          clip_id=proposal.human_clip_id, after=_read(session, row_id).snapshot())
    session.info["wrote"] = True


def sync_proposals(root: Path, proposals: list[PairProposal], actor: str = "pairing") -> SyncReport:
    """Make the pending pairs match `proposals`; accepted and rejected pairs are never touched."""
    report = SyncReport()
    with session_scope(root) as session:
        existing = {(r.human_clip_id, r.robot_clip_id): r for r in
                    (PairRecord.of(row) for row in session.execute(select(*[PAIRS.c[n] for n in RECORD_FIELDS])))}
        wanted = set()
        for proposal in proposals:
            key = (proposal.human_clip_id, proposal.robot_clip_id)
            wanted.add(key)
            _apply(session, existing.get(key), proposal, actor, report)
        for key, record in existing.items():
            if key not in wanted and record.state == "proposed":
                try:
                    _update(session, record, actor, "pair.withdrawn", state="withdrawn")
                    report.withdrawn += 1
                except StaleUpdateError:
                    pass  # a curator decided on it meanwhile: their decision stands
    return report


def _apply(session: Session, record: PairRecord | None, proposal: PairProposal, actor: str,
           report: SyncReport) -> None:
    values = {"task_similarity": proposal.task_similarity, "cost": proposal.cost, "path": proposal.path}
    try:
        if record is None:
            _insert(session, proposal, actor)
            report.created += 1
        elif record.state == "withdrawn":
            _update(session, record, actor, "pair.proposed", state="proposed", **values)
            report.reproposed += 1
        elif record.state == "proposed" and _changed(record, proposal):
            _update(session, record, actor, "pair.realigned", **values)
            report.updated += 1
        else:
            report.kept += 1
    except StaleUpdateError:
        report.kept += 1  # someone decided between our read and our write


def add_decided_pair(root: Path, proposal: PairProposal, state: str, actor: str, reason: str | None = None
                     ) -> PairRecord:
    """Store a pair a curator made by hand, already decided (`curation.manual_pairs`); re-pairing never
    touches a decided pair.

    Raises:
        ValueError: `state` is not accepted or rejected, no actor is named, or the pair exists already.
    """
    if state not in ("accepted", "rejected") or not actor:
        raise ValueError(f"a pair made by hand needs a curator and the state accepted or rejected, got {state!r}")
    with session_scope(root) as session:
        taken = session.execute(select(PAIRS.c.id).where(PAIRS.c.human_clip_id == proposal.human_clip_id,
                                                         PAIRS.c.robot_clip_id == proposal.robot_clip_id)).first()
        if taken is not None:
            raise ValueError(f"clips {proposal.human_clip_id} and {proposal.robot_clip_id} are pair {taken.id} "
                             "already: decide on that one")
        row_id = session.execute(PAIRS.insert().values(
            human_clip_id=proposal.human_clip_id, robot_clip_id=proposal.robot_clip_id,
            task_similarity=proposal.task_similarity, cost=proposal.cost, path=proposal.path, state=state,
            reason=reason or None, decided_by=actor, decided_at=utc_now(), created_at=utc_now(),
            version=1)).inserted_primary_key[0]
        record = _read(session, row_id)
        audit(session, actor=actor, action=f"pair.by_hand.{state}", entity="pair", entity_id=row_id,
              clip_id=proposal.human_clip_id, after=record.snapshot())
        session.info["wrote"] = True
        return record


def decide_pair(root: Path, pair_id: int, state: str, actor: str, expected_version: int,
                reason: str | None = None) -> PairRecord:
    """Accept, reject (or re-open) a pair as seen at `expected_version`.

    Raises:
        StaleUpdateError: the pair changed since that version (nothing is written).
        ValueError: `state` is not a curator decision, no actor is named, or a rejection has no reason.
    """
    if state not in DECISION_STATES:
        raise ValueError(f"state must be one of {DECISION_STATES}, got {state!r}")
    if not actor:
        raise ValueError("a decision needs the curator's name")
    if state == "rejected" and not (reason or "").strip():
        raise ValueError("a rejection needs a reason")
    with session_scope(root) as session:
        before = _read(session, pair_id)
        if before is None or before.version != expected_version:
            raise stale_error(session, "pair", pair_id, expected_version, before and before.snapshot())
        decided = state != "proposed"
        return _update(session, before, actor, f"pair.{state}", state=state, reason=(reason or None),
                       decided_by=actor if decided else None, decided_at=utc_now() if decided else None)


def get_pair(root: Path, pair_id: int) -> PairRecord | None:
    with session_scope(root) as session:
        return _read(session, pair_id)
