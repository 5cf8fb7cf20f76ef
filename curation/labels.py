"""Human labels on clips: a corrected task text (one per clip) and named frame segments.

Edits are versioned like flags: an update names the version it was made on and is refused with
`StaleUpdateError` if someone changed the label since. Every change is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from db.models import Label, utc_now
from db.store import audit, session_scope

from .flags import stale_error

LABEL_KINDS = ("task", "segment")
MAX_TEXT_CHARS = 10_000  # a task instruction or segment note; more is a paste accident, refused
LABELS = Label.__table__
LABEL_FIELDS = ("id", "clip_id", "kind", "frame_start", "frame_end", "text", "author", "created_at",
                "updated_at", "version")


@dataclass(frozen=True)
class LabelRecord:
    id: int
    clip_id: str
    kind: str
    frame_start: int | None
    frame_end: int | None
    text: str
    author: str
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, row: Row) -> LabelRecord:
        return cls(**{name: getattr(row, name) for name in LABEL_FIELDS})

    def snapshot(self) -> dict[str, object]:
        return {"clip_id": self.clip_id, "kind": self.kind, "frame_start": self.frame_start,
                "frame_end": self.frame_end, "text": self.text, "version": self.version}


def _read(session: Session, label_id: int) -> LabelRecord | None:
    row = session.execute(select(*[LABELS.c[n] for n in LABEL_FIELDS]).where(LABELS.c.id == label_id)).first()
    return None if row is None else LabelRecord.of(row)


def _check_text(text: str, author: str) -> str:
    if not author:
        raise ValueError("a label needs its author's name")
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValueError("label text must not be empty")
    if len(cleaned) > MAX_TEXT_CHARS:
        raise ValueError(f"label text is {len(cleaned)} characters; the limit is {MAX_TEXT_CHARS}")
    return cleaned


def _add(session: Session, author: str, **values: object) -> LabelRecord:
    now = utc_now()
    label_id = session.execute(LABELS.insert().values(author=author, created_at=now, updated_at=now, version=1,
                                                      **values)).inserted_primary_key[0]
    record = _read(session, label_id)
    audit(session, actor=author, action=f"label.{record.kind}.create", entity="label", entity_id=label_id,
          clip_id=record.clip_id, after=record.snapshot())
    session.info["wrote"] = True
    return record


def task_label(root: Path, clip_id: str) -> LabelRecord | None:
    """The clip's corrected task text, if a curator gave one."""
    with session_scope(root) as session:
        row = session.execute(select(*[LABELS.c[n] for n in LABEL_FIELDS])
                              .where(LABELS.c.clip_id == clip_id, LABELS.c.kind == "task")
                              .order_by(LABELS.c.id).limit(1)).first()
    return None if row is None else LabelRecord.of(row)


def set_task_text(root: Path, clip_id: str, text: str, author: str,
                  expected_version: int | None = None) -> LabelRecord:
    """Correct a clip's task text: the first correction creates it, later ones need its version.

    Raises:
        StaleUpdateError: a correction exists and `expected_version` is not its current version.
    """
    text = _check_text(text, author)
    current = task_label(root, clip_id)
    if current is None:
        with session_scope(root) as session:
            return _add(session, author, clip_id=clip_id, kind="task", text=text)
    # Not having seen any correction is version 0: refused, naming who made the one that exists.
    return update_label(root, current.id, text, author, expected_version or 0)


def add_segment(root: Path, clip_id: str, frame_start: int, frame_end: int, text: str, author: str) -> LabelRecord:
    """Name a frame range of a clip (inclusive), e.g. 'grasp', 'place'."""
    text = _check_text(text, author)
    if not 0 <= frame_start <= frame_end:
        raise ValueError(f"segment needs 0 <= frame_start <= frame_end, got {frame_start}..{frame_end}")
    with session_scope(root) as session:
        return _add(session, author, clip_id=clip_id, kind="segment", text=text, frame_start=frame_start,
                    frame_end=frame_end)


def update_label(root: Path, label_id: int, text: str, author: str, expected_version: int,
                 frame_start: int | None = None, frame_end: int | None = None) -> LabelRecord:
    """Change a label's text (and a segment's range) as seen at `expected_version`."""
    text = _check_text(text, author)
    with session_scope(root) as session:
        before = _read(session, label_id)
        if before is None or before.version != expected_version:
            raise stale_error(session, "label", label_id, expected_version, before and before.snapshot())
        values: dict[str, object] = {"text": text, "author": author, "version": expected_version + 1,
                                     "updated_at": utc_now()}
        if before.kind == "segment" and frame_start is not None and frame_end is not None:
            values.update(frame_start=frame_start, frame_end=frame_end)
        result = session.execute(update(LABELS).where(LABELS.c.id == label_id,
                                                      LABELS.c.version == expected_version).values(**values))
        if result.rowcount != 1:
            current = _read(session, label_id)
            raise stale_error(session, "label", label_id, expected_version, current and current.snapshot())
        after = _read(session, label_id)
        audit(session, actor=author, action=f"label.{before.kind}.update", entity="label", entity_id=label_id,
              clip_id=before.clip_id, before=before.snapshot(), after=after.snapshot())
        session.info["wrote"] = True
        return after


def list_labels(root: Path, clip_id: str) -> list[LabelRecord]:
    with session_scope(root) as session:
        rows = session.execute(select(*[LABELS.c[n] for n in LABEL_FIELDS]).where(LABELS.c.clip_id == clip_id)
                               .order_by(LABELS.c.kind, LABELS.c.frame_start, LABELS.c.id)).all()
    return [LabelRecord.of(r) for r in rows]


# How exports treat overlapping segments (curation/export_language.py), said where a curator makes one.
OVERLAP_EXPORT = ("where segments overlap, exports give the frames to the later-starting one (LeRobot 0.6's active "
                  "subtask, GR00T's annotation channel); `sub_tasks` keeps both ranges")


def overlapping_segments(root: Path, label: LabelRecord) -> list[LabelRecord]:
    """The clip's other segments that share a frame with segment `label`, by first frame."""
    return [other for other in list_labels(root, label.clip_id)
            if other.kind == "segment" and other.id != label.id and other.frame_start is not None
            and other.frame_start <= label.frame_end and label.frame_start <= other.frame_end]


def overlap_warning(label: LabelRecord, others: list[LabelRecord]) -> str | None:
    """A sentence naming the segments `label` overlaps and how exports treat that; None when it overlaps none."""
    if not others:
        return None
    names = ", ".join(f"{o.id} ({o.frame_start}:{o.frame_end} {o.text!r})" for o in others)
    return f"segment {label.id} ({label.frame_start}:{label.frame_end}) overlaps segment {names}: {OVERLAP_EXPORT}"
