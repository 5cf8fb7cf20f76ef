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

Names that say nothing (GR00T's `motor_0`...) match no joint: the proposal is then a skeleton to fill
in (`Proposal.note` says so; `Proposal.skeleton()` has a `FILL_IN_<joint>` key per unmapped joint),
and GR00T `modality.json` state groups (`left_hand: {start, end}`) narrow each side to its hand's
dimensions, listed in the note and used for the units. Joints are never matched by position: the
URDF's joint order is rarely the dataset's.

    names, values, groups = dataset_folder_sample(Path("gr00t_dataset"))   # a dataset folder, catalogued or not
    mapping_table(spec)      # a stored spec's mapping, one row per joint, with the URDF limits
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from db.config_files import ConfigError
from labeling.hands import SIDES
from labeling.retarget.registry import RETARGET_HANDS, resolve_embodiment

from .spec import EmbodimentSpec, SpecError, urdf_tree

SYNONYMS = {"little": "pinky", "small": "pinky", "pinkie": "pinky", "fore": "index", "first": "index",
            "rotation": "yaw", "rot": "yaw", "abduction": "yaw", "abd": "yaw", "aa": "yaw", "swing": "yaw",
            "bend": "pitch", "flexion": "pitch", "flex": "pitch", "fe": "pitch", "mcp": "proximal",
            "pip": "intermediate", "dip": "distal", "l": "left", "r": "right"}
FINGERS = frozenset({"thumb", "index", "middle", "ring", "pinky"})
NOISE = frozenset({"joint", "k", "hand", "q", "pos", "position", "state"})
TABLE_COLUMNS = ["side", "dimension", "joint", "unit", "invert", "score"]
PLACEHOLDER = "FILL_IN_"  # skeleton keys: replace `FILL_IN_<joint>` with the dataset dimension of that joint


@dataclass(frozen=True)
class Proposal:
    """A proposed spec and its mapping as a table (one row per mapped or unmatched joint)."""

    spec: dict  # the sides with a joint matched by name, and those joints
    table: pd.DataFrame
    note: str | None = None  # what is left to fill in, and where the hand's dimensions are (None: all matched)
    hands: dict[str, str] = field(default_factory=dict)  # every side of the hand -> its `hand:` value

    def skeleton(self) -> dict:
        """`spec` with every side and a `FILL_IN_<joint>: {joint, unit}` entry per unmapped joint, to edit."""
        hands = {side: {"hand": hand, "joints": dict(self.spec["hands"].get(side, {}).get("joints", {}))}
                 for side, hand in self.hands.items()}
        for row in self.table.itertuples():
            if not isinstance(row.dimension, str) and row.side in hands:
                hands[row.side]["joints"][f"{PLACEHOLDER}{row.joint}"] = {"joint": row.joint, "unit": row.unit}
        return {**self.spec, "hands": hands}


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
                 urdf_dir: Path | str | None = None, values: npt.ArrayLike | None = None,
                 groups: Mapping[str, tuple[int, int]] | None = None) -> Proposal:
    """Propose a spec mapping `names` onto `hand`'s joints (see the module docstring).

    `values` is an optional `(T, len(names))` sample of the state, for the units; `groups` the
    dataset's GR00T state groups (name -> [start, end)), whose `<side>_hand` groups hold each side's dims.

    Raises:
        SpecError: the hand cannot be resolved.
    """
    try:
        target = resolve_embodiment(hand, config_dir, urdf_dir)
    except ConfigError as exc:
        raise SpecError(str(hand), [f"hand: {exc}"]) from exc
    names = list(names)
    sample = None if values is None or not names else np.asarray(values, dtype=np.float64).reshape(-1, len(names))
    hand_dims = _hand_groups(names, groups or {})
    hands, rows, sides = {}, [], {}
    for side, config in sorted(target.configs.items()):
        tree = urdf_tree(config.urdf_path)
        mine = hand_dims.get(side) or [n for n in names if side_of(n) == side] or \
            [n for n in names if side_of(n) is None]
        scored = sorted(((match_score(d, j), d, j) for d in mine for j in tree.dof_joint_names), reverse=True)
        taken_dims, mapping = set(), {}
        for score, dim, joint in scored:
            if score > 0 and dim not in taken_dims and joint not in mapping:
                mapping[joint] = (dim, score)
                taken_dims.add(dim)
        limits = dict(zip(tree.dof_joint_names, tree.limits().tolist(), strict=True))
        # One unit per hand: a vendor writes its hand one way, and a narrow joint alone cannot tell.
        measured = [mapping[j][0] for j in tree.dof_joint_names if j in mapping] or hand_dims.get(side, [])
        unit = guess_unit(None if sample is None or not measured else sample[:, [names.index(d) for d in measured]],
                          min(lo for lo, _ in limits.values()), max(hi for _, hi in limits.values()))
        joints = {}
        for joint in tree.dof_joint_names:
            dim, score = mapping.get(joint, (None, 0.0))
            invert = False if unit == "normalized" and dim else None
            rows.append({"side": side, "dimension": dim, "joint": joint, "unit": unit,
                         "invert": invert, "score": score})
            if dim:
                joints[dim] = {"joint": joint, "unit": unit} | ({"invert": False} if invert is not None else {})
        sides[side] = str(hand) if str(hand) in RETARGET_HANDS else config.source
        if joints:
            hands[side] = {"hand": sides[side], "joints": joints}
    spec = {"name": name, **({"urdf_dir": str(Path(urdf_dir).resolve())} if urdf_dir else {}),
            **({"config_dir": str(Path(config_dir).resolve())} if config_dir else {}), "hands": hands, "wrist": None}
    others = {g: names[a:b] for g, (a, b) in (groups or {}).items() if 0 <= a < b <= len(names)
              and names[a:b] not in hand_dims.values()}
    if others:  # GR00T modality groups other than the hands: exports keep them (`groups:`)
        spec["groups"] = others
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    return Proposal(spec, table, _note(table, target.name, names, hand_dims), sides)


def _hand_groups(names: list[str], groups: Mapping[str, tuple[int, int]]) -> dict[str, list[str]]:
    """side -> the dimensions of its `<side>_hand` state group (GR00T modality.json), where there is one."""
    out = {}
    for group, (start, end) in groups.items():
        found = words(group)
        side = next((s for s in SIDES if s in found), None)
        if side is not None and "hand" in found and 0 <= start < end <= len(names):
            out[side] = names[start:end]
    return out


def _note(table: pd.DataFrame, hand: str, names: list[str], hand_dims: dict[str, list[str]]) -> str | None:
    missing = table[table["dimension"].isna()]
    if missing.empty:
        return None
    sides = ", ".join(f"{side} {len(group)}/{len(table[table.side == side])}"
                      for side, group in missing.groupby("side"))
    lead = ("No dimension name matches a joint of " if len(missing) == len(table) else
            "Some joints have no dimension whose name matches (") + hand + (
        f" (names like {names[:3]})" if len(missing) == len(table) else f"; unmapped per side: {sides})")
    where = "; ".join(f"the {side} hand is {dims[0]}..{dims[-1]} ({len(dims)} dims, modality.json)"
                      for side, dims in sorted(hand_dims.items()))
    return (f"{lead}. Fill in each joint's dataset dimension (leave out a joint the dataset does not have) and "
            f"check the unit and invert{': ' + where if where else ''}.")


def dataset_sample(engine: object, dataset: str, max_frames: int = 2000
                   ) -> tuple[list[str], npt.NDArray[np.float64], dict[str, tuple[int, int]]]:
    """A catalogued robot dataset's state names, up to `max_frames` state rows (for the units), and its
    modality.json state groups when the folder is still there."""
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
    groups = dataset_folder_sample(Path(dataset), max_frames=0)[2] if Path(dataset).is_dir() else {}
    return [str(n) for n in names], values.reshape(-1, len(names)), groups


def spec_from_table(spec: dict, table: pd.DataFrame) -> dict:
    """`spec` (a proposal's skeleton) with its joints replaced by an edited mapping table: rows without a
    dimension dropped, and sides left without joints."""
    out = {**spec, "hands": {side: {**hand, "joints": {}} for side, hand in spec["hands"].items()}}
    for row in table.itertuples():
        if not isinstance(row.dimension, str) or not row.dimension or row.side not in out["hands"]:
            continue
        entry = {"joint": row.joint, "unit": row.unit}
        if row.unit == "normalized":
            entry["invert"] = bool(row.invert) if isinstance(row.invert, (bool, np.bool_)) else False
        out["hands"][row.side]["joints"][row.dimension] = entry
    out["hands"] = {side: hand for side, hand in out["hands"].items() if hand["joints"]}
    return out


def mapping_table(spec: EmbodimentSpec) -> pd.DataFrame:
    """A checked spec's mapping, one row per mapped joint: side, dimension, joint, unit, invert, lower, upper (rad)."""
    rows = [{"side": side, "dimension": m.dim, "joint": m.joint, "unit": m.unit, "invert": m.invert,
             "lower": m.lower, "upper": m.upper} for side, hand in spec.hands.items() for m in hand.joints]
    return pd.DataFrame(rows, columns=["side", "dimension", "joint", "unit", "invert", "lower", "upper"])


def dataset_folder_sample(dataset: Path, max_frames: int = 2000
                          ) -> tuple[list[str] | None, npt.NDArray[np.float64] | None, dict[str, tuple[int, int]]]:
    """A LeRobot dataset folder's declared state names, up to `max_frames` state rows (for the units) and its
    GR00T `modality.json` state groups (name -> [start, end)); each None or empty when the folder lacks it."""
    import json

    import pyarrow.parquet as pq

    from labeling.sources.lerobot_layout import DATA_DIR, MODALITY_PATH, STATE_KEY

    from .apply import declared_state_names

    names = declared_state_names(dataset)
    rows: list = []
    for path in sorted((dataset / DATA_DIR).rglob("*.parquet")):
        if len(rows) >= max_frames:
            break
        try:
            rows += pq.read_table(path, columns=[STATE_KEY]).column(STATE_KEY).to_pylist()[:max_frames - len(rows)]
        except (OSError, KeyError, ValueError):
            continue
    values = None
    if names and rows:
        kept = [r for r in rows if r is not None and len(r) == len(names)]
        values = np.asarray(kept, dtype=np.float64).reshape(-1, len(names)) if kept else None
    try:
        state = json.loads((dataset / MODALITY_PATH).read_text()).get("state", {})
        groups = {str(k): (int(v["start"]), int(v["end"])) for k, v in state.items()}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        groups = {}
    return names, values, groups
