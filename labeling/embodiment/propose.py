"""A spec proposed from the names: dataset dimension names matched to URDF joint names, for a curator to confirm.

    proposal = propose_spec(state_names, "inspire", "g1_inspire", config_dir=..., urdf_dir=..., values=state)
    proposal.table      # side, dimension, joint, unit, invert, score: the mapping side by side
    proposal.spec       # the YAML mapping (`spec_from_dict` checks it; the app and CLI show it first)

Names are split into words (camelCase, `_`, digits), finger words are folded together (`little` is
`pinky`; `rotation`, `yaw`, `abduction` are one word, `bend`, `pitch`, `flexion` another), the side
comes from a `left`/`right` (or `l`/`r`) word, and each side's independent joints are matched
greedily by shared words (a shared finger word is required), then by spelling. Units are guessed
from sample values when given: all within [0, 1] is `normalized`, beyond 2*pi is `deg`, else `rad`.
`invert` cannot be told from names: the table says to check it.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from db.config_files import ConfigError
from labeling.hands import SIDES
from labeling.retarget.registry import RETARGET_HANDS, resolve_embodiment

from .spec import SpecError, urdf_tree

SYNONYMS = {"little": "pinky", "small": "pinky", "pinkie": "pinky", "fore": "index", "first": "index",
            "rotation": "yaw", "rot": "yaw", "abduction": "yaw", "abd": "yaw", "aa": "yaw", "swing": "yaw",
            "bend": "pitch", "flexion": "pitch", "flex": "pitch", "fe": "pitch", "mcp": "proximal",
            "pip": "intermediate", "dip": "distal", "l": "left", "r": "right"}
FINGERS = frozenset({"thumb", "index", "middle", "ring", "pinky"})
NOISE = frozenset({"joint", "k", "hand", "q", "pos", "position", "state"})
TABLE_COLUMNS = ["side", "dimension", "joint", "unit", "invert", "score"]


@dataclass(frozen=True)
class Proposal:
    """A proposed spec and its mapping as a table (one row per mapped or unmatched joint)."""

    spec: dict
    table: pd.DataFrame


def words(name: str) -> list[str]:
    """`kRightHandThumbRotation` -> ['k', 'right', 'hand', 'thumb', 'yaw'] (synonyms folded)."""
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", name)
    return [SYNONYMS.get(p.lower(), p.lower()) for p in parts]


def side_of(name: str) -> str | None:
    found = [s for s in SIDES if s in words(name)]
    return found[0] if len(found) == 1 else None


def match_score(dim: str, joint: str) -> float:
    """How well a dimension name fits a joint name: shared words (a finger word required), then spelling."""
    a = {w for w in words(dim) if w not in NOISE and w not in SIDES}
    b = {w for w in words(joint) if w not in NOISE and w not in SIDES}
    if not (a & b & FINGERS):
        return 0.0
    overlap = len(a & b) / len(a | b)
    spelling = difflib.SequenceMatcher(None, " ".join(sorted(a)), " ".join(sorted(b))).ratio()
    return round(overlap + 0.25 * spelling, 3)


def guess_unit(values: npt.ArrayLike | None, lower: float, upper: float) -> str:
    """`normalized` when every value is in [0, 1] (and the joint's range is not), `deg` beyond 2*pi, else `rad`."""
    if values is None or not np.size(values):
        return "rad"
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size and v.min() >= 0.0 and v.max() <= 1.0 and not (lower >= 0.0 and upper <= 1.0):
        return "normalized"
    return "deg" if v.size and np.abs(v).max() > 2 * math.pi else "rad"


def propose_spec(names: Sequence[str], hand: str | Path, name: str, config_dir: Path | str | None = None,
                 urdf_dir: Path | str | None = None, values: npt.ArrayLike | None = None) -> Proposal:
    """Propose a spec mapping `names` onto `hand`'s joints (see the module docstring).

    `values` is an optional `(T, len(names))` sample of the state, for the units.

    Raises:
        SpecError: the hand cannot be resolved, or no dimension name matches any joint.
    """
    try:
        target = resolve_embodiment(hand, config_dir, urdf_dir)
    except ConfigError as exc:
        raise SpecError(str(hand), [f"hand: {exc}"]) from exc
    sample = None if values is None else np.asarray(values, dtype=np.float64).reshape(-1, len(names))
    hands, rows = {}, []
    for side, config in sorted(target.configs.items()):
        tree = urdf_tree(config.urdf_path)
        mine = [n for n in names if side_of(n) == side] or [n for n in names if side_of(n) is None]
        scored = sorted(((match_score(d, j), d, j) for d in mine for j in tree.dof_joint_names), reverse=True)
        taken_dims, mapping = set(), {}
        for score, dim, joint in scored:
            if score > 0 and dim not in taken_dims and joint not in mapping:
                mapping[joint] = (dim, score)
                taken_dims.add(dim)
        limits = dict(zip(tree.dof_joint_names, tree.limits().tolist(), strict=True))
        # One unit per hand: a vendor writes its hand one way, and a narrow joint alone cannot tell.
        mapped = [mapping[j][0] for j in tree.dof_joint_names if j in mapping]
        unit = guess_unit(None if sample is None or not mapped else sample[:, [list(names).index(d) for d in mapped]],
                          min(lo for lo, _ in limits.values()), max(hi for _, hi in limits.values()))
        joints = {}
        for joint in tree.dof_joint_names:
            dim, score = mapping.get(joint, (None, 0.0))
            invert = False if unit == "normalized" and dim else None
            rows.append({"side": side, "dimension": dim, "joint": joint, "unit": unit if dim else None,
                         "invert": invert, "score": score})
            if dim:
                joints[dim] = {"joint": joint, "unit": unit} | ({"invert": False} if invert is not None else {})
        if joints:
            hands[side] = {"hand": str(hand) if str(hand) in RETARGET_HANDS else config.source, "joints": joints}
    if not hands:
        raise SpecError(str(hand), [f"no dimension name matches a joint of {target.name} "
                                    f"(names: {list(names)[:8]}...)"])
    spec = {"name": name, **({"urdf_dir": str(Path(urdf_dir).resolve())} if urdf_dir else {}),
            **({"config_dir": str(Path(config_dir).resolve())} if config_dir else {}), "hands": hands, "wrist": None}
    return Proposal(spec, pd.DataFrame(rows, columns=TABLE_COLUMNS))


def dataset_sample(engine: object, dataset: str, max_frames: int = 2000) -> tuple[list[str], npt.NDArray[np.float64]]:
    """A catalogued robot dataset's state names and up to `max_frames` state rows (for the units)."""
    import json

    from db.queries.embodiments import dataset_robot_clips
    from db.queries.frames import robot_state_rows

    clips = dataset_robot_clips(engine, dataset)
    if clips.empty:
        raise SpecError(dataset, ["no robot episodes of this dataset in the catalog"])
    names = json.loads(clips["state_names"].iloc[0]) if isinstance(clips["state_names"].iloc[0], str) else None
    if not names:
        raise SpecError(dataset, ["its observation.state declares no dimension names: a spec maps names"])
    rows = robot_state_rows(engine, clips["clip_id"].tolist()[:20]).column("state").to_pylist()
    values = np.array([r for r in rows if r is not None and len(r) == len(names)][:max_frames], dtype=np.float64)
    return [str(n) for n in names], values.reshape(-1, len(names))


def spec_from_table(spec: dict, table: pd.DataFrame) -> dict:
    """The proposal `spec` with its joints replaced by an edited mapping table (rows without a dimension dropped)."""
    out = {**spec, "hands": {side: {**hand, "joints": {}} for side, hand in spec["hands"].items()}}
    for row in table.itertuples():
        if not isinstance(row.dimension, str) or not row.dimension or row.side not in out["hands"]:
            continue
        entry = {"joint": row.joint, "unit": row.unit}
        if row.unit == "normalized":
            entry["invert"] = bool(row.invert) if isinstance(row.invert, (bool, np.bool_)) else False
        out["hands"][row.side]["joints"][row.dimension] = entry
    return out
