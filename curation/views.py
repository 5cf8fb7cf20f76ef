"""Saved views: named `ViewSpec`s in the annotation store, and a metric's histogram over a view.

A spec (`db.view_spec`) says which clips; `db.queries.views` compiles it to SQL and runs it. Here
a spec is saved by name (replacing one needs the version it was loaded at, so a concurrent edit
is refused, not overwritten) and loaded back by the pages, `egocurate view ...` and exports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select, update

from db.engine import QueryEngine
from db.models import SavedView
from db.queries.views import view_values
from db.store import audit, session_scope
from db.view_spec import ViewSpec

from .flags import stale_error

MAX_VIEW_NAME_CHARS = 200  # saved view names are picked from a list; longer is a mistake, refused


def metric_histogram(engine: QueryEngine, spec: ViewSpec, column: str, bins: int = 30) -> pd.DataFrame:
    """Bins `(lo, hi, count, mid, width)` of one column over the view's clips, nulls left out."""
    values = view_values(engine, spec, column)
    finite = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if finite.size == 0:
        return pd.DataFrame(columns=["lo", "hi", "count", "mid", "width"])
    counts, edges = np.histogram(finite, bins=bins if np.ptp(finite) > 0 else 1)
    return pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "count": counts, "mid": (edges[:-1] + edges[1:]) / 2,
                         "width": np.diff(edges)})


# --- saved views ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SavedViewRecord:
    name: str
    spec: ViewSpec
    author: str
    created_at: datetime
    version: int


def _view_row(session, name: str):  # noqa: ANN001, ANN202 (sqlalchemy Session and Row)
    return session.execute(select(SavedView).where(SavedView.name == name)).scalar_one_or_none()


def save_view(root: Path, name: str, spec: ViewSpec, author: str, expected_version: int | None = None
              ) -> SavedViewRecord:
    """Save a view by name. Replacing an existing one needs the version it was loaded at.

    Raises:
        StaleUpdateError: the name exists and `expected_version` is not its current version.
    """
    if not isinstance(name, str) or not name.strip() or not author:
        raise ValueError("a saved view needs a name and an author")
    if len(name) > MAX_VIEW_NAME_CHARS or not name.isprintable():
        raise ValueError(f"a view name is at most {MAX_VIEW_NAME_CHARS} printable characters, got {name[:40]!r}"
                         f"{'...' if len(name) > 40 else ''} ({len(name)} characters)")
    with session_scope(root) as session:
        row = _view_row(session, name)
        if row is None:
            row = SavedView(name=name, spec=spec.to_dict(), author=author, version=1)
            session.add(row)
            session.flush()
            audit(session, actor=author, action="view.create", entity="view", entity_id=name, after=spec.to_dict())
        else:
            before = row.spec
            result = session.execute(update(SavedView).where(SavedView.id == row.id,
                                                             SavedView.version == (expected_version or 0))
                                     .values(spec=spec.to_dict(), author=author, version=SavedView.version + 1))
            if result.rowcount != 1:
                raise stale_error(session, "view", name, expected_version or 0, {"version": row.version})
            audit(session, actor=author, action="view.update", entity="view", entity_id=name, before=before,
                  after=spec.to_dict())
            session.info["wrote"] = True
            session.expire(row)
        return SavedViewRecord(row.name, ViewSpec.from_dict(row.spec), row.author, row.created_at, row.version)


def get_view(root: Path, name: str) -> SavedViewRecord:
    with session_scope(root) as session:
        row = _view_row(session, name)
        if row is None:
            known = session.execute(select(SavedView.name).order_by(SavedView.name)).scalars().all()
            raise KeyError(f"no saved view named {name!r}; saved: {known}")
        return SavedViewRecord(row.name, ViewSpec.from_dict(row.spec), row.author, row.created_at, row.version)


def load_view(root: Path, name: str) -> ViewSpec:
    return get_view(root, name).spec


def list_views(root: Path) -> pd.DataFrame:
    """Saved views: name, author, created_at, version and the spec as JSON."""
    with session_scope(root) as session:
        rows = session.execute(select(SavedView).order_by(SavedView.name)).scalars().all()
        data = [{"name": r.name, "author": r.author, "created_at": r.created_at, "version": r.version,
                 "spec": json.dumps(r.spec, sort_keys=True)} for r in rows]
    return pd.DataFrame(data, columns=["name", "author", "created_at", "version", "spec"])
