"""Parse a robot-hand URDF into a kinematic tree: links, joints, limits, mimic couplings.

Only kinematics is read; `<visual>`, `<collision>`, `<inertial>`, meshes, `<transmission>`,
`<gazebo>` and `<mujoco>` blocks are ignored, so URDFs whose meshes are absent load fine.

    from labeling.kinematics.urdf import load_urdf
    tree = load_urdf("hand.urdf")
    tree.dof_joint_names        # independent movable joints, URDF document order

Two joint orders matter downstream:
- `dof_joint_names`: movable, non-mimic joints in document order. This is the order of the
  Sharpa HA4 controller list (`config/joint_names_*.yaml`) and of the IsaacTeleop
  `target_joint_names`, and the order of every `q_rad` array in this project.
- `pinocchio_joint_names`: every movable joint (mimic ones too) depth-first from the root with
  sibling joints sorted by name. urdfdom keeps joints in a `std::map`, so this is the order
  pinocchio, and hence dex-retargeting's `RobotWrapper.dof_joint_names`, uses: Allegro gives
  joint_0..3, joint_12..15, joint_4..11, and the IsaacTeleop G1 outputs list index, middle,
  thumb. It differs from document order on most hands (Sharpa: index, middle, pinky, ring,
  thumb), so map by name when exchanging q with those tools.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

JOINT_TYPES = frozenset({"revolute", "continuous", "prismatic", "fixed"})
MOVABLE_TYPES = frozenset({"revolute", "continuous", "prismatic"})


class URDFError(ValueError):
    """A URDF that cannot be used: the message names the file, the element and the reason."""


@dataclass(frozen=True)
class Mimic:
    """`<mimic>`: this joint's value is `multiplier * q[joint] + offset`."""

    joint: str  # name of the joint followed
    multiplier: float = 1.0  # unitless gain
    offset: float = 0.0  # rad (revolute) or m (prismatic)


@dataclass(frozen=True)
class Link:
    """A rigid body; only its name matters for kinematics."""

    name: str


@dataclass(frozen=True)
class Joint:
    """One `<joint>`: child frame = parent frame @ origin @ motion(q) about/along `axis`."""

    name: str
    type: str  # revolute | continuous | prismatic | fixed
    parent: str  # parent link name
    child: str  # child link name
    origin_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)  # m, in the parent link frame
    origin_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)  # rad, fixed-axis roll, pitch, yaw
    axis: tuple[float, float, float] = (1.0, 0.0, 0.0)  # unit vector in the joint frame
    lower: float | None = None  # rad or m; None when the URDF gives no limit
    upper: float | None = None  # rad or m; None when the URDF gives no limit
    mimic: Mimic | None = None

    @property
    def movable(self) -> bool:
        """Whether the joint has a coordinate (revolute, continuous or prismatic)."""
        return self.type in MOVABLE_TYPES

    def origin_matrix(self) -> npt.NDArray[np.float64]:
        """The fixed parent→joint transform, (4, 4)."""
        out = np.eye(4)
        out[:3, :3] = rpy_to_matrix(self.origin_rpy)
        out[:3, 3] = self.origin_xyz
        return out


@dataclass(frozen=True)
class KinematicTree:
    """A parsed URDF: a tree of links joined by joints, rooted at `root_link`."""

    name: str  # `<robot name>`
    source: str  # file path or label, for messages
    root_link: str
    links: tuple[Link, ...]  # document order
    joints: tuple[Joint, ...]  # topological: every joint after the joint of its parent link
    dof_joint_names: tuple[str, ...]  # movable non-mimic joints, document order
    pinocchio_joint_names: tuple[str, ...]  # movable joints incl. mimic, pinocchio order

    @property
    def n_dof(self) -> int:
        """Number of independent coordinates (length of a `q_rad` row)."""
        return len(self.dof_joint_names)

    @property
    def link_names(self) -> tuple[str, ...]:
        """All link names, document order."""
        return tuple(link.name for link in self.links)

    def joint(self, name: str) -> Joint:
        """The joint called `name` (KeyError when absent)."""
        for joint in self.joints:
            if joint.name == name:
                return joint
        raise KeyError(f"{self.source}: no joint named {name!r}")

    def limits(self) -> npt.NDArray[np.float64]:
        """`(n_dof, 2)` lower/upper per independent joint; ±pi where the URDF gives none."""
        rows = []
        for name in self.dof_joint_names:
            joint = self.joint(name)
            lower = -math.pi if joint.lower is None else joint.lower
            upper = math.pi if joint.upper is None else joint.upper
            rows.append((lower, upper))
        return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def load_urdf(path: Path | str) -> KinematicTree:
    """Read and parse a URDF file.

    Raises:
        URDFError: unreadable file, malformed XML or an inconsistent kinematic tree.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise URDFError(f"{path}: cannot read URDF ({type(exc).__name__}: {exc})") from exc
    return parse_urdf(text, source=str(path))


def parse_urdf(text: str, source: str = "<string>") -> KinematicTree:
    """Parse URDF XML text into a `KinematicTree`.

    Raises:
        URDFError: malformed XML, a bad number, an unknown link or joint, a cycle, several
            roots, or an unsupported joint type; the message names the element.
    """
    try:
        robot = ET.fromstring(text)
    except ET.ParseError as exc:
        raise URDFError(f"{source}: malformed XML ({exc})") from exc
    if robot.tag != "robot":
        raise URDFError(f"{source}: root element is <{robot.tag}>, expected <robot>")
    links = _parse_links(robot, source)
    joints = [_parse_joint(elem, source) for elem in robot.findall("joint")]
    _check_names(links, joints, source)
    root = _find_root(links, joints, source)
    ordered = _topological(root, joints, source)
    _check_mimics(joints, source)
    dof = tuple(j.name for j in joints if j.movable and j.mimic is None)
    return KinematicTree(
        name=robot.get("name", ""), source=source, root_link=root, links=tuple(links),
        joints=tuple(ordered), dof_joint_names=dof,
        pinocchio_joint_names=tuple(_pinocchio_order(root, joints)),
    )


def rpy_to_matrix(rpy: tuple[float, float, float]) -> npt.NDArray[np.float64]:
    """URDF roll-pitch-yaw (fixed axes x, y, z) to a rotation matrix: Rz(y) @ Ry(p) @ Rx(r)."""
    roll, pitch, yaw = rpy
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def _parse_links(robot: ET.Element, source: str) -> list[Link]:
    links = []
    for elem in robot.findall("link"):
        name = elem.get("name")
        if not name:
            raise URDFError(f"{source}: a <link> has no name attribute")
        links.append(Link(name=name))
    if not links:
        raise URDFError(f"{source}: <robot> has no <link>")
    return links


def _parse_joint(elem: ET.Element, source: str) -> Joint:
    name = elem.get("name")
    if not name:
        raise URDFError(f"{source}: a <joint> has no name attribute")
    where = f"{source}: joint {name!r}"
    jtype = elem.get("type")
    if jtype not in JOINT_TYPES:
        raise URDFError(f"{where}: unsupported type {jtype!r} (expected one of {sorted(JOINT_TYPES)})")
    parent, child = _link_ref(elem, "parent", where), _link_ref(elem, "child", where)
    origin = elem.find("origin")
    xyz = _vector(origin, "xyz", where, (0.0, 0.0, 0.0))
    rpy = _vector(origin, "rpy", where, (0.0, 0.0, 0.0))
    axis = _axis(elem, jtype, where)
    lower, upper = _limits(elem, jtype, where)
    return Joint(name=name, type=jtype, parent=parent, child=child, origin_xyz=xyz, origin_rpy=rpy,
                 axis=axis, lower=lower, upper=upper, mimic=_mimic(elem, jtype, where))


def _link_ref(elem: ET.Element, tag: str, where: str) -> str:
    ref = elem.find(tag)
    link = None if ref is None else ref.get("link")
    if not link:
        raise URDFError(f"{where}: missing <{tag} link=...>")
    return link


def _number(text: str | None, where: str, what: str) -> float:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise URDFError(f"{where}: {what}={text!r} is not a number") from None
    if not math.isfinite(value):
        raise URDFError(f"{where}: {what}={text!r} is not finite")
    return value


def _vector(elem: ET.Element | None, attr: str, where: str,
            default: tuple[float, float, float]) -> tuple[float, float, float]:
    if elem is None or elem.get(attr) is None:
        return default
    parts = elem.get(attr, "").split()
    if len(parts) != 3:
        raise URDFError(f"{where}: <{elem.tag} {attr}={elem.get(attr)!r}> needs 3 numbers")
    x, y, z = (_number(p, where, f"<{elem.tag}> {attr}") for p in parts)
    return (x, y, z)


def _axis(elem: ET.Element, jtype: str, where: str) -> tuple[float, float, float]:
    axis = _vector(elem.find("axis"), "xyz", where, (1.0, 0.0, 0.0))
    norm = math.sqrt(sum(a * a for a in axis))
    if jtype == "fixed":
        return axis
    if norm < 1e-9:
        raise URDFError(f"{where}: <axis> is the zero vector")
    return (axis[0] / norm, axis[1] / norm, axis[2] / norm)


def _limits(elem: ET.Element, jtype: str, where: str) -> tuple[float | None, float | None]:
    limit = elem.find("limit")
    if jtype not in ("revolute", "prismatic") or limit is None:
        return None, None
    lower = _number(limit.get("lower", "0"), where, "<limit> lower")
    upper = _number(limit.get("upper", "0"), where, "<limit> upper")
    if lower > upper:
        raise URDFError(f"{where}: <limit> lower={lower} is above upper={upper}")
    return lower, upper


def _mimic(elem: ET.Element, jtype: str, where: str) -> Mimic | None:
    mimic = elem.find("mimic")
    if mimic is None:
        return None
    target = mimic.get("joint")
    if not target:
        raise URDFError(f"{where}: <mimic> has no joint attribute")
    if jtype not in MOVABLE_TYPES:
        raise URDFError(f"{where}: a {jtype} joint cannot <mimic>")
    return Mimic(joint=target, multiplier=_number(mimic.get("multiplier", "1"), where, "<mimic> multiplier"),
                 offset=_number(mimic.get("offset", "0"), where, "<mimic> offset"))


def _check_names(links: list[Link], joints: list[Joint], source: str) -> None:
    _first_duplicate([link.name for link in links], source, "link")
    _first_duplicate([joint.name for joint in joints], source, "joint")
    link_names = {link.name for link in links}
    parent_of: dict[str, str] = {}
    for joint in joints:
        for role, link in (("parent", joint.parent), ("child", joint.child)):
            if link not in link_names:
                raise URDFError(f"{source}: joint {joint.name!r}: {role} link {link!r} is not defined")
        if joint.parent == joint.child:
            raise URDFError(f"{source}: joint {joint.name!r}: cycle, link {joint.child!r} is its own parent")
        if joint.child in parent_of:
            raise URDFError(f"{source}: joint {joint.name!r}: link {joint.child!r} is already the child "
                            f"of joint {parent_of[joint.child]!r} (a link has one parent; cycle?)")
        parent_of[joint.child] = joint.name


def _first_duplicate(names: list[str], source: str, kind: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise URDFError(f"{source}: {kind} {name!r} is defined twice")
        seen.add(name)


def _find_root(links: list[Link], joints: list[Joint], source: str) -> str:
    children = {joint.child for joint in joints}
    roots = [link.name for link in links if link.name not in children]
    if not roots:
        raise URDFError(f"{source}: no root link, every link has a parent (the joints form a cycle)")
    if len(roots) > 1:
        raise URDFError(f"{source}: {len(roots)} root links {roots} (links without a parent joint); "
                        "a URDF is one tree")
    return roots[0]


def _topological(root: str, joints: list[Joint], source: str) -> list[Joint]:
    ordered = _depth_first(root, joints, by_name=False)
    if len(ordered) != len(joints):
        reached = {j.name for j in ordered}
        stray = [j.name for j in joints if j.name not in reached]
        raise URDFError(f"{source}: joints {stray} are not reachable from root {root!r} (they form a cycle)")
    return ordered


def _depth_first(root: str, joints: list[Joint], by_name: bool) -> list[Joint]:
    """Pre-order walk from `root`; siblings in document order, or sorted by name (urdfdom)."""
    by_parent: dict[str, list[Joint]] = {}
    for joint in joints:
        by_parent.setdefault(joint.parent, []).append(joint)
    out: list[Joint] = []
    stack: list[Joint] = []

    def push_children(link: str) -> None:
        children = by_parent.get(link, [])
        if by_name:
            children = sorted(children, key=lambda j: j.name)
        stack.extend(reversed(children))

    push_children(root)
    while stack:
        joint = stack.pop()
        out.append(joint)
        push_children(joint.child)
    return out


def _check_mimics(joints: list[Joint], source: str) -> None:
    by_name = {joint.name: joint for joint in joints}
    for joint in joints:
        seen = [joint.name]
        current = joint
        while current.mimic is not None:
            target = by_name.get(current.mimic.joint)
            if target is None:
                raise URDFError(f"{source}: joint {current.name!r}: <mimic joint={current.mimic.joint!r}> "
                                "names no joint in this URDF")
            if not target.movable:
                raise URDFError(f"{source}: joint {current.name!r}: <mimic> follows {target.type} joint "
                                f"{target.name!r}")
            if target.name in seen:
                raise URDFError(f"{source}: joint {joint.name!r}: <mimic> chain loops ({' -> '.join(seen)})")
            seen.append(target.name)
            current = target


def _pinocchio_order(root: str, joints: list[Joint]) -> list[str]:
    return [j.name for j in _depth_first(root, joints, by_name=True) if j.movable]
