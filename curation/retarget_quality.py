"""Retargeting quality per embodiment: each robot hand a clip was retargeted to is judged on its own.

    rows = retarget_quality_rows(root, clip_ids)   # one row per clip, embodiment and hand
    dof_class(6)                                   # 'low'

A 6-DoF hand cannot follow a human hand as closely as a 22-DoF one (on clean EgoDex clips the
built-in 22-DoF hand's mean residual is ~3 mm, Inspire's ~31 mm), so one number averaged over every
embodiment belongs to no hand. Here every (clip, embodiment, hand) gets its own row in the lake's
`retarget_metrics` stage, with the hand's independent finger joints (`dof`) and its DoF class, and
the noisy-demo rules with `per_embodiment: true` (`curation.rules`) check each row against the
limit for that embodiment or DoF class; their flags name the embodiment.

Metrics (in `RETARGET_METRIC_REGISTRY`, units in the names):
- `retarget_residual_mm`: mean distance between the robot's matched vectors and the scaled human
  ones (the solver's residual), over the frames with a solution;
- `fingertip_error_mm`: mean distance of the robot's fingertips from the human fingertips scaled to
  the robot (`labeling.retarget.objective.fingertip_error_from`), i.e. in the robot's own scale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from db.engine import query_engine
from db.queries.retargets import retarget_quality
from db.schemas import RETARGET_METRIC_NAMES
from labeling.retarget.overlay import retarget_dof

from .metrics import Measure, MetricDef

# (class, fewest, most) independent finger joints; None: no upper bound. Grippers (Panda), the
# low-DoF hands (Inspire 6, Ability 6, G1 Dex3 7), the mid ones (Allegro, LEAP 16), the dexterous
# ones (Sharpa HA4 and the built-in hand, 22).
DOF_CLASSES: tuple[tuple[str, int, int | None], ...] = (("gripper", 1, 2), ("low", 3, 8), ("mid", 9, 16),
                                                        ("high", 17, None))
DOF_CLASS_NAMES = tuple(name for name, _, _ in DOF_CLASSES)


def dof_class(dof: int | None) -> str | None:
    """The DoF class of a hand with `dof` independent finger joints (None when unknown)."""
    if dof is None:
        return None
    for name, low, high in DOF_CLASSES:
        if dof >= low and (high is None or dof <= high):
            return name
    return None


def _stored(_: object, __: object = None) -> Measure:  # computed in SQL (db.queries.retargets.retarget_quality)
    raise NotImplementedError("retargeting metrics are aggregated from the retargets rows, not a HandSeries")


RETARGET_METRIC_REGISTRY: dict[str, MetricDef] = {
    "retarget_residual_mm": MetricDef(
        "retarget_residual_mm", "mean distance between the robot's matched vectors (or points) and the human "
        "ones scaled to the robot, over frames with a solution; per embodiment and hand", "mm", _stored),
    "fingertip_error_mm": MetricDef(
        "fingertip_error_mm", "mean distance of the robot's fingertips from the human fingertips scaled to the "
        "robot (the robot's own scale), relative to the wrist; per embodiment and hand; null when the "
        "retargeting config places no fingertip", "mm", _stored),
}
assert tuple(RETARGET_METRIC_REGISTRY) == RETARGET_METRIC_NAMES  # stored columns and documentation in step


def retarget_quality_rows(root: Path, clip_ids: list[str], scored_at: datetime | None = None) -> list[dict]:
    """`retarget_metrics` rows (db.schemas.RETARGET_METRICS) of these clips: one per embodiment and hand."""
    engine = query_engine(root)
    frame = retarget_quality(engine, clip_ids)
    if frame.empty:
        return []
    dofs = {embodiment: retarget_dof(root, embodiment) for embodiment in frame["embodiment"].unique()}
    scored_at = scored_at or datetime.now(UTC)
    rows = []
    for row in frame.to_dict(orient="records"):
        width = row.pop("width", None)  # commits before `dof` was recorded: every joint of q_rad counts
        dof = dofs[row["embodiment"]].get(row["hand"]) or (int(width) if width else None)
        rows.append({**row, "scored_at": scored_at, "dof": dof, "dof_class": dof_class(dof),
                     **{name: _number(row.get(name)) for name in RETARGET_METRIC_NAMES}})
    return rows


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
