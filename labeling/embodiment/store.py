"""Embodiment specs in the annotation store, and which robot episodes follow which (audited, versioned).

    store_spec(root, spec, clip_ids, author, source_text)   # one transaction: the spec, then the episodes
    load_spec(engine, "g1_inspire")                          # the stored spec, rebuilt and checked again
    episode_specs(engine, clip_ids)                          # clip_id -> EmbodimentSpec | SpecError

A spec is saved by name: saving a changed spec under a name replaces it (version + 1, audited);
assigning episodes replaces what they followed. Nothing is written unless everything is: callers
check the spec against every episode's names first (`labeling.embodiment.apply`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select, update

from db.engine import QueryEngine
from db.models import ClipEmbodiment, EmbodimentRecord, utc_now
from db.queries.embodiments import clip_embodiment_names, embodiment_spec_json
from db.store import audit, session_scope

from .spec import EmbodimentSpec, SpecError, spec_from_dict


def store_spec(root: Path, spec: EmbodimentSpec, clip_ids: Sequence[str], author: str,
               source_text: str | None = None) -> tuple[int, int]:
    """Save `spec` (replacing a different one of its name) and make `clip_ids` follow it.

    Returns (spec version, episodes whose embodiment changed).
    """
    if not author:
        raise ValueError("storing an embodiment spec needs the author's name")
    data = spec.to_dict()
    with session_scope(root) as session:
        found = session.execute(select(EmbodimentRecord).where(EmbodimentRecord.name == spec.name))
        record = found.scalar_one_or_none()
        if record is None:
            record = EmbodimentRecord(name=spec.name, spec=data, source=source_text, author=author, version=1)
            session.add(record)
            session.flush()
            audit(session, actor=author, action="embodiment.create", entity="embodiment", entity_id=spec.name,
                  after=data)
        elif record.spec != data:
            before = record.spec
            record.spec, record.source, record.author = data, source_text, author
            record.updated_at, record.version = utc_now(), record.version + 1
            audit(session, actor=author, action="embodiment.replace", entity="embodiment", entity_id=spec.name,
                  before=before, after=data)
        changed = _assign(session, spec.name, clip_ids, author)
        return record.version, changed


def _assign(session: object, name: str, clip_ids: Sequence[str], author: str) -> int:
    current = {row.clip_id: row for row in session.execute(
        select(ClipEmbodiment).where(ClipEmbodiment.clip_id.in_(list(clip_ids)))).scalars()}
    changed = 0
    for clip_id in dict.fromkeys(clip_ids):
        row = current.get(clip_id)
        if row is not None and row.embodiment == name:
            continue
        if row is None:
            session.add(ClipEmbodiment(clip_id=clip_id, embodiment=name, author=author, version=1))
            before = None
        else:
            before = {"embodiment": row.embodiment}
            session.execute(update(ClipEmbodiment).where(ClipEmbodiment.clip_id == clip_id).values(
                embodiment=name, author=author, assigned_at=utc_now(), version=row.version + 1))
        audit(session, actor=author, action="embodiment.assign", entity="clip_embodiment", entity_id=clip_id,
              clip_id=clip_id, before=before, after={"embodiment": name})
        changed += 1
    session.flush()
    return changed


@lru_cache(maxsize=64)
def _spec_of(name: str, data: str) -> EmbodimentSpec:
    return spec_from_dict(json.loads(data), source=f"stored embodiment {name!r}")


def load_spec(engine: QueryEngine, name: str) -> EmbodimentSpec:
    """A stored spec, rebuilt (its URDFs and configs are read again, so a moved file is reported).

    Raises:
        KeyError: no spec of that name; SpecError: it no longer checks (a file moved, ...).
    """
    data = embodiment_spec_json(engine, name)
    if data is None:
        raise KeyError(f"no embodiment spec named {name!r} (egocurate embodiment list)")
    return _spec_of(name, json.dumps(data, sort_keys=True))


def episode_specs(engine: QueryEngine, clip_ids: Sequence[str]) -> dict[str, EmbodimentSpec | SpecError]:
    """clip_id -> its spec (or the SpecError saying why the stored one cannot be used), for episodes with one."""
    out: dict[str, EmbodimentSpec | SpecError] = {}
    for clip_id, name in clip_embodiment_names(engine, list(clip_ids)).items():
        try:
            out[clip_id] = load_spec(engine, name)
        except SpecError as exc:
            out[clip_id] = exc
        except KeyError as exc:
            out[clip_id] = SpecError(name, [str(exc.args[0])])
    return out
