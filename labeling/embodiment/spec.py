"""The embodiment spec: a YAML file per robot saying which dataset dimensions are which URDF joints.

    spec = read_spec("g1_inspire.yml")                 # checked against the URDFs; raises SpecError
    spec.check_names(state_names)                      # ... and against a dataset's declared names

```yaml
name: g1_inspire                    # the embodiment name used in retargets, pairs, exports
urdf_dir: ../urdf/dex-urdf/hands    # optional: resolves the configs' relative urdf_path (dex-retargeting's)
config_dir: null                    # optional: where a registered hand's configs are (see labeling.retarget.registry)
hands:
  right:
    hand: ../configs/inspire_hand_right.yml   # a dex-retargeting config (URDF + joint order) or a registered hand
    joints:                                   # dataset dimension name -> URDF joint and the dataset's unit
      kRightHandPinky: {joint: pinky_proximal_joint, unit: normalized, invert: true}
  left: {...}
wrist: null                # or per side the end-effector pose dims: 7 (xyz + quaternion, `quaternion: wxyz`
                           # or `xyzw`) or 9 (xyz + 6D rotation): {right: {dims: [...], quaternion: wxyz}}
groups: {left_arm: [...]}  # optional: GR00T modality groups (contiguous dims); hands and wrists get their own
```

Units: `rad`, `deg`, `normalized` (0..1 over the joint's URDF limits; `invert: true` when 1 is the
lower limit). Paths are relative to the spec file. Every problem is collected and reported at once,
one line each naming the field, the dimension or the joint (`SpecError.problems`), the dataset's names
included when `against` gives them; only a hand that cannot be resolved (its URDF or config not found)
leaves its joint names unchecked, since they are the URDF's.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from db.config_files import ConfigError, read_yaml_mapping
from labeling.hands import SIDES
from labeling.kinematics.urdf import KinematicTree, URDFError, load_urdf
from labeling.retarget.config import RetargetConfig
from labeling.retarget.registry import RETARGET_HANDS, Embodiment, hand_configs

UNITS = ("rad", "deg", "normalized")
ROTATIONS = {7: "quaternion", 9: "rot6d"}  # wrist dims -> how the rotation is written
QUATERNION_ORDERS = ("wxyz", "xyzw")
RESERVED_NAMES = frozenset({"human"})  # the embodiment of human episodes in exports
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
TOP_FIELDS = frozenset({"name", "description", "urdf_dir", "config_dir", "hands", "wrist", "groups"})


class SpecError(ConfigError):
    """A spec that cannot be used: one line per problem, each naming the field, dimension or joint."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source, self.problems = source, list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: embodiment spec has {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class JointMap:
    """One dataset dimension as one URDF joint: `q = offset + scale * value` (radians, or metres for prismatic)."""

    dim: str  # the dataset's dimension name
    joint: str  # the URDF joint (independent, not a mimic)
    unit: str  # rad | deg | normalized
    invert: bool  # normalized only: 1 is the lower limit
    lower: float  # the joint's URDF limits (nan when it has none)
    upper: float

    @property
    def scale(self) -> float:
        if self.unit == "deg":
            return math.pi / 180.0
        if self.unit == "normalized":
            return (self.lower - self.upper) if self.invert else (self.upper - self.lower)
        return 1.0

    @property
    def offset(self) -> float:
        if self.unit == "normalized":
            return self.upper if self.invert else self.lower
        return 0.0


@dataclass(frozen=True)
class HandSpec:
    """One side: the hand (its retargeting config names the URDF) and the mapped dimensions."""

    side: str
    hand: str  # as resolved: a registered hand name, or an absolute config path
    config: RetargetConfig
    joints: tuple[JointMap, ...]

    @property
    def tree(self) -> KinematicTree:
        return urdf_tree(self.config.urdf_path)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(m.joint for m in self.joints)


@dataclass(frozen=True)
class WristSpec:
    """One side's end-effector pose dims: xyz then a quaternion (`order`) or a 6D rotation."""

    side: str
    dims: tuple[str, ...]  # 7 or 9 names
    quaternion: str = "wxyz"  # quaternion order (7 dims only)

    @property
    def rotation(self) -> str:
        return ROTATIONS[len(self.dims)]


@dataclass(frozen=True)
class EmbodimentSpec:
    """A checked embodiment spec (see the module docstring)."""

    name: str
    hands: dict[str, HandSpec]
    wrist: dict[str, WristSpec] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    urdf_dir: str | None = None  # absolute, or None
    config_dir: str | None = None
    description: str = ""
    source: str = "<dict>"

    def dims(self) -> list[str]:
        """Every dataset dimension the spec names (joints, wrists, groups), in spec order, once each."""
        names = [m.dim for h in self.hands.values() for m in h.joints]
        names += [d for w in self.wrist.values() for d in w.dims]
        names += [d for dims in self.groups.values() for d in dims]
        return list(dict.fromkeys(names))

    def check_names(self, names: Sequence[str] | None, what: str = "the dataset's observation.state") -> list[str]:
        """Problems of this spec against a dataset's declared dimension names (empty when it fits)."""
        return name_problems([(where_dim(self, d), d) for d in self.dims()], self.groups, names, what)

    def retarget_target(self) -> Embodiment:
        """What `egocurate retarget --embodiment` retargets human clips to: this spec's hands, under its name."""
        return Embodiment(self.name, {side: hand.config for side, hand in self.hands.items()})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, paths resolved: `spec_from_dict(spec.to_dict())` gives this spec back anywhere."""
        hands = {side: {"hand": h.hand, "joints": {m.dim: {"joint": m.joint, "unit": m.unit, "invert": m.invert}
                                                   for m in h.joints}} for side, h in self.hands.items()}
        wrist = {side: {"dims": list(w.dims), "quaternion": w.quaternion} for side, w in self.wrist.items()}
        return {"name": self.name, "description": self.description, "urdf_dir": self.urdf_dir,
                "config_dir": self.config_dir, "hands": hands, "wrist": wrist or None,
                "groups": {g: list(d) for g, d in self.groups.items()}}


def name_problems(dims: Sequence[tuple[str, str]], groups: Mapping[str, Sequence[str]], names: Sequence[str] | None,
                  what: str) -> list[str]:
    """Problems of (field, dimension) pairs and groups against a dataset's declared names (empty when they fit)."""
    if not names:
        return [f"{what} declares no dimension names: a spec maps names, so the dataset must name them"]
    known, problems = list(names), []
    for where, dim in dict.fromkeys(dims):
        if dim not in known:
            close = difflib.get_close_matches(dim, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{where}: unknown dimension {dim!r}: {what} has no such name{hint}")
    for group, members in groups.items():
        at = [known.index(d) for d in members if d in known]
        if len(at) == len(members) and at != list(range(at[0], at[0] + len(at))):
            problems.append(f"groups.{group}: dimensions must be contiguous in {what}")
    return problems


def raw_dims(values: Mapping[str, Any]) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """The (field, dimension) pairs and groups a spec's YAML mapping names, read as written (even when the rest
    of it does not check), so a dataset's names can be checked in the same pass."""
    dims: list[tuple[str, str]] = []
    hands = values.get("hands") if isinstance(values.get("hands"), dict) else {}
    for side, entry in hands.items():
        joints = entry.get("joints") if isinstance(entry, dict) else None
        dims += [(f"hands.{side}.joints.{d}", str(d)) for d in (joints if isinstance(joints, dict) else {})]
    wrists = values.get("wrist") if isinstance(values.get("wrist"), dict) else {}
    for side, entry in wrists.items():
        listed = entry.get("dims") if isinstance(entry, dict) else entry
        dims += [(f"wrist.{side}", d) for d in (listed if isinstance(listed, list) else []) if isinstance(d, str)]
    raw_groups = values.get("groups") if isinstance(values.get("groups"), dict) else {}
    groups = {str(g): [d for d in v if isinstance(d, str)] for g, v in raw_groups.items() if isinstance(v, list)}
    dims += [(f"groups.{g}", d) for g, members in groups.items() for d in members]
    return dims, groups


def where_dim(spec: EmbodimentSpec, dim: str) -> str:
    """The spec field that names a dimension (for messages)."""
    for side, hand in spec.hands.items():
        if dim in (m.dim for m in hand.joints):
            return f"hands.{side}.joints.{dim}"
    for side, wrist in spec.wrist.items():
        if dim in wrist.dims:
            return f"wrist.{side}"
    return next((f"groups.{g}" for g, dims in spec.groups.items() if dim in dims), "spec")


@lru_cache(maxsize=32)
def urdf_tree(urdf_path: str) -> KinematicTree:
    return load_urdf(urdf_path)


Against = Mapping[str, Sequence[str] | None]  # where a dataset's names come from -> its declared state names


def read_spec(path: Path | str, against: Against | None = None) -> EmbodimentSpec:
    """Read and check a spec file (relative paths in it are relative to its folder), and against datasets' names.

    Raises:
        SpecError: every problem found, one line each, the names' included (a file that is not YAML, or not a
            mapping, is one problem).
    """
    path = Path(path).expanduser().resolve()
    try:
        values = read_yaml_mapping(path, "embodiment spec")
    except ConfigError as exc:
        raise SpecError(str(path), [str(exc).removeprefix(f"{path}: ")]) from exc
    return spec_from_dict(values, base_dir=path.parent, source=str(path), against=against)


def spec_from_dict(values: Mapping[str, Any], base_dir: Path | str | None = None, source: str = "<dict>",
                   against: Against | None = None) -> EmbodimentSpec:
    """Build and check a spec from its YAML mapping (not mutated); see `read_spec`.

    `against` maps a label (a dataset folder, a clip) to its declared state names: the spec's dimensions are
    checked against each in the same pass, so one report holds every problem.
    """
    problems: list[str] = [f"{key}: unknown field (fields: {sorted(TOP_FIELDS)})" for key in values
                           if key not in TOP_FIELDS]
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    name = values.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        problems.append(f"name: must be a plain name (letters, digits, . _ -), got {name!r}")
    elif name in RESERVED_NAMES:
        problems.append(f"name: {name!r} is reserved for human episodes")
    urdf_dir, config_dir = (_folder(values.get(k), base, k, problems) for k in ("urdf_dir", "config_dir"))
    hands = {}
    raw_hands = values.get("hands")
    if not isinstance(raw_hands, dict) or not raw_hands:
        problems.append(f"hands: must map a side ({'/'.join(SIDES)}) to its hand and joints, got {raw_hands!r}")
        raw_hands = {}
    for side, entry in raw_hands.items():
        if side not in SIDES:
            problems.append(f"hands.{side}: unknown side (sides: {', '.join(SIDES)})")
            continue
        hand = _hand(side, entry, base, urdf_dir, config_dir, problems)
        if hand is not None:
            hands[side] = hand
    wrist = _wrists(values.get("wrist"), problems)
    groups = _groups(values.get("groups"), problems)
    spec = EmbodimentSpec(name=str(name), hands=hands, wrist=wrist, groups=groups, urdf_dir=urdf_dir,
                          config_dir=config_dir, description=str(values.get("description") or ""), source=source)
    seen: dict[str, str] = {}
    for dim in [m.dim for h in hands.values() for m in h.joints] + [d for w in wrist.values() for d in w.dims]:
        if dim in seen:
            problems.append(f"{where_dim(spec, dim)}: dimension {dim!r} is used twice")
        seen[dim] = dim
    dims, raw_groups = raw_dims(values)
    for label, names in (against or {}).items():
        problems += [f"{label}: {p}" for p in name_problems(dims, raw_groups, names, "its observation.state")]
    if problems:
        raise SpecError(source, problems)
    return spec


def _folder(raw: object, base: Path, name: str, problems: list[str]) -> str | None:
    if raw is None:
        return None
    folder = (base / str(raw)).expanduser().resolve()
    if not isinstance(raw, str) or not folder.is_dir():
        problems.append(f"{name}: {raw!r} is not a folder (relative paths start at the spec's folder)")
        return None
    return str(folder)


def _hand(side: str, entry: object, base: Path, urdf_dir: str | None, config_dir: str | None,
          problems: list[str]) -> HandSpec | None:
    where = f"hands.{side}"
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a mapping with 'hand' and 'joints', got {entry!r}")
        return None
    problems += [f"{where}.{k}: unknown field (fields: hand, joints)" for k in entry if k not in ("hand", "joints")]
    raw = entry.get("hand")
    if not isinstance(raw, str) or not raw:
        problems.append(f"{where}.hand: must name a dex-retargeting config file or a registered hand "
                        f"({', '.join(sorted(RETARGET_HANDS))}), got {raw!r}")
        return None
    try:
        if raw in RETARGET_HANDS:
            resolved, config = raw, hand_configs(raw, config_dir, urdf_dir, sides=(side,))[side]
        else:
            path = (base / raw).expanduser().resolve()
            if not path.is_file():
                raise ConfigError(f"no such config file {path} and no registered hand named {raw!r}")
            resolved, config = str(path), RetargetConfig.from_yaml(path, urdf_dir=urdf_dir)
        tree = urdf_tree(config.urdf_path)
    except (ConfigError, URDFError, OSError) as exc:  # OSError: a search under a urdf_dir that moves underfoot
        problems.append(f"{where}.hand: {exc} (its joint names are checked once the hand resolves)")
        config = tree = None
    joints = entry.get("joints")
    if not isinstance(joints, dict) or not joints:
        problems.append(f"{where}.joints: must map dataset dimension names to {{joint, unit}}, got {joints!r}")
        return None
    if config is None or tree is None:  # the units and fields can still be checked
        for dim, value in joints.items():
            _joint_map(f"{where}.joints.{dim}", str(dim), value, None, None, problems)
        return None
    maps, by_joint = [], {}
    for dim, value in joints.items():
        mapped = _joint_map(f"{where}.joints.{dim}", str(dim), value, tree, config, problems)
        if mapped is None:
            continue
        if mapped.joint in by_joint:
            problems.append(f"{where}.joints: {by_joint[mapped.joint]!r} and {dim!r} both map to joint "
                            f"{mapped.joint!r}; one dimension per joint")
            continue
        by_joint[mapped.joint] = str(dim)
        maps.append(mapped)
    return HandSpec(side, resolved, config, tuple(maps))


def _joint_map(where: str, dim: str, value: object, tree: KinematicTree | None, config: RetargetConfig | None,
               problems: list[str]) -> JointMap | None:
    """One dimension's mapping, checked (without a tree: its fields and unit only, and no JointMap)."""
    if not isinstance(value, dict):
        problems.append(f"{where}: must be {{joint: NAME, unit: rad|deg|normalized}}, got {value!r}")
        return None
    found = [f"{where}: unknown field {k!r} (fields: joint, unit, invert)" for k in value
             if k not in ("joint", "unit", "invert")]
    joint, unit, invert = value.get("joint"), value.get("unit"), value.get("invert", False)
    movable = {j.name: j for j in tree.joints if j.movable} if tree is not None else {}
    if tree is not None and config is not None:
        if not isinstance(joint, str) or joint not in movable:
            close = difflib.get_close_matches(str(joint), list(movable), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            found.append(f"{where}: unknown joint {joint!r} in {Path(tree.source).name}{hint}")
        elif movable[joint].mimic is not None and not config.ignore_mimic_joint:
            found.append(f"{where}: joint {joint!r} follows {movable[joint].mimic.joint!r} (<mimic>): map that one")
    if unit not in UNITS:
        found.append(f"{where}: unit {unit!r} is not one of {', '.join(UNITS)}")
    if not isinstance(invert, bool):
        found.append(f"{where}: invert must be true or false, got {invert!r}")
    elif invert and unit in ("rad", "deg"):
        found.append(f"{where}: invert applies to unit normalized only")
    if found or tree is None:
        problems += found
        return None
    lower, upper = movable[joint].lower, movable[joint].upper
    if unit == "normalized" and (lower is None or upper is None or not upper > lower):
        problems.append(f"{where}: unit normalized needs the URDF limits of joint {joint!r}, which has none")
        return None
    return JointMap(dim, joint, unit, invert, math.nan if lower is None else float(lower),
                    math.nan if upper is None else float(upper))


def _wrists(raw: object, problems: list[str]) -> dict[str, WristSpec]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"wrist: must be null or map a side to its pose dims, got {raw!r}")
        return {}
    out = {}
    for side, entry in raw.items():
        where = f"wrist.{side}"
        mapping = entry if isinstance(entry, dict) else {"dims": entry}
        dims, order = mapping.get("dims"), mapping.get("quaternion", "wxyz")
        if side not in SIDES:
            problems.append(f"{where}: unknown side (sides: {', '.join(SIDES)})")
        elif not isinstance(dims, list) or len(dims) not in ROTATIONS or not all(isinstance(d, str) for d in dims):
            problems.append(f"{where}: needs 7 dims (xyz + quaternion) or 9 (xyz + 6D rotation), got {dims!r}")
        elif order not in QUATERNION_ORDERS:
            problems.append(f"{where}.quaternion: must be one of {', '.join(QUATERNION_ORDERS)}, got {order!r}")
        else:
            out[side] = WristSpec(side, tuple(dims), order)
    return out


def _groups(raw: object, problems: list[str]) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, list) and v and all(isinstance(d, str) for d in v)
                                            for v in raw.values()):
        problems.append(f"groups: must map a group name to a list of dimension names, got {raw!r}")
        return {}
    return {str(k): tuple(v) for k, v in raw.items()}
