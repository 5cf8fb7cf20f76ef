"""Batched forward kinematics in torch: every frame of a clip through a hand's URDF at once (CPU or CUDA).

    from labeling.kinematics.torch_fk import HandKinematics
    kin = HandKinematics.from_urdf("hand.urdf", device="cuda")
    xyz_m = kin.link_positions(q_rad, ["thumb_tip", "index_tip"])    # (B, 2, 3), differentiable
    xyz_m, jac = kin.positions_and_jacobian(q_rad, kin.link_indices(["thumb_tip"]))

`q_rad` rows follow `kin.joint_names`: every movable joint, mimic ones included, in pinocchio order,
which is dex-retargeting's `joint_names` order (`KinematicTree.pinocchio_joint_names`). Prismatic
values are metres. `expand(q_dof)` fills the mimic joints from `tree.dof_joint_names`-ordered values.

FK is compiled once into a fixed sequence of batched tensor operations, one group per tree depth:
all joints whose parent link is at depth d move together, so a forward pass is a few dozen tensor
ops whatever the batch size, with no Python loop over frames. `positions_and_jacobian` also gives the
exact positional Jacobian (axis x lever arm per ancestor joint), which the retargeting solver uses
instead of autograd because it is cheaper; tests check the two agree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .urdf import Joint, KinematicTree, Link, load_urdf

if TYPE_CHECKING:
    import torch

NO_LIMIT = 1e4  # bound used for joints without limits (dex-retargeting uses the same value)
DUMMY_JOINT_NAMES = tuple([f"dummy_{a}_translation_joint" for a in "xyz"]
                          + [f"dummy_{a}_rotation_joint" for a in "xyz"])
DUMMY_LINK_NAMES = tuple([f"dummy_{a}_translation_link" for a in "xyz"] + [f"dummy_{a}_rotation_link" for a in "xyz"])
DUMMY_LIMITS = ((-5.0, 5.0),) * 3 + ((-2 * math.pi, 2 * math.pi),) * 3  # m, then rad (as dex-retargeting)


class LinkNameError(KeyError):
    """A link name the URDF does not define; the message names it, the URDF and the known links."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


def add_dummy_free_joint(tree: KinematicTree) -> KinematicTree:
    """The tree with a 6-DoF floating base: x, y, z prismatic then x, y, z revolute joints above the root.

    Mirrors dex-retargeting's `add_dummy_free_joint`: the joints come first in both joint orders.
    """
    links = [Link(name) for name in DUMMY_LINK_NAMES]
    joints = []
    for i, name in enumerate(DUMMY_JOINT_NAMES):
        axis = tuple(float(i % 3 == k) for k in range(3))
        child = DUMMY_LINK_NAMES[i + 1] if i < 5 else tree.root_link
        joints.append(Joint(name=name, type="prismatic" if i < 3 else "revolute", parent=DUMMY_LINK_NAMES[i],
                            child=child, axis=axis, lower=DUMMY_LIMITS[i][0], upper=DUMMY_LIMITS[i][1]))
    return dataclasses.replace(
        tree, root_link=DUMMY_LINK_NAMES[0], links=tuple(links) + tree.links, joints=tuple(joints) + tree.joints,
        dof_joint_names=DUMMY_JOINT_NAMES + tree.dof_joint_names,
        pinocchio_joint_names=DUMMY_JOINT_NAMES + tree.pinocchio_joint_names)


def strip_mimic(tree: KinematicTree) -> KinematicTree:
    """The tree with `<mimic>` ignored: every movable joint independent (`ignore_mimic_joint`)."""
    joints = tuple(dataclasses.replace(j, mimic=None) for j in tree.joints)
    order = {j.name: i for i, j in enumerate(tree.joints)}
    dof = tuple(sorted((j.name for j in tree.joints if j.movable), key=order.__getitem__))
    return dataclasses.replace(tree, joints=joints, dof_joint_names=dof)


@contextlib.contextmanager
def single_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run torch on one CPU thread, then restore the caller's setting.

    The solver's tensors are small (frames x joints): extra intra-op threads only add
    synchronisation, and on a loaded machine they make a solve many times slower.
    """
    import torch

    if device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def joint_limits(tree: KinematicTree, names: Sequence[str]) -> npt.NDArray[np.float64]:
    """`(len(names), 2)` lower/upper of the named movable joints; ±NO_LIMIT where the URDF gives none."""
    rows = []
    for name in names:
        joint = tree.joint(name)
        limited = joint.type in ("revolute", "prismatic") and joint.lower is not None and joint.upper is not None
        rows.append((joint.lower, joint.upper) if limited else (-NO_LIMIT, NO_LIMIT))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def mimic_affine(tree: KinematicTree, names: Sequence[str]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The map from values of `names` to every movable joint: `q_full = q @ A.T + b`.

    Joints in `names` are copied, mimic joints follow their (possibly chained) source, and any
    other joint is held at 0 (its row of `A` is zero and its `b` is 0).

    Returns:
        `A (n_joints, len(names))` and `b (n_joints,)` in `tree.pinocchio_joint_names` order.
    """
    full = list(tree.pinocchio_joint_names)
    by_name = {j.name: j for j in tree.joints}
    rows: dict[str, tuple[npt.NDArray[np.float64], float]] = {}

    def resolve(name: str) -> tuple[npt.NDArray[np.float64], float]:
        if name in rows:
            return rows[name]
        row = np.zeros(len(names))
        offset = 0.0
        mimic = by_name[name].mimic
        if name in names:
            row[list(names).index(name)] = 1.0
        elif mimic is not None:
            source_row, source_offset = resolve(mimic.joint)
            row, offset = mimic.multiplier * source_row, mimic.multiplier * source_offset + mimic.offset
        rows[name] = (row, offset)
        return rows[name]

    matrix = np.stack([resolve(n)[0] for n in full]) if full else np.zeros((0, len(names)))
    offsets = np.array([resolve(n)[1] for n in full])
    return matrix.reshape(len(full), len(names)), offsets


@dataclass(frozen=True)
class _Level:
    """Joints whose parent link is at one depth of the tree, as tensors."""

    q_index: torch.Tensor  # (n,) column of the padded q (last column is a constant 0 for fixed joints)
    parent: torch.Tensor  # (n,) slot of the parent link in the previous level's output
    origin: torch.Tensor  # (n, 4, 4) parent→joint transform
    turn_sin: torch.Tensor | None  # (n, 4, 4) R_origin @ K (K = skew(axis)) top-left, zero unless revolute
    turn_cos: torch.Tensor | None  # (n, 4, 4) R_origin @ K @ K top-left, zero unless revolute
    slide: torch.Tensor | None  # (n, 4, 4) R_origin @ axis in the last column, zero unless prismatic


class HandKinematics:
    """Compiled batched FK of one URDF. Build with `from_tree` / `from_urdf`; immutable afterwards."""

    def __init__(self, tree: KinematicTree, device: str | torch.device | None = None, dtype: torch.dtype | None = None
                 ) -> None:
        """Compile `tree` for `device` (default: CUDA when available) and `dtype` (default float32)."""
        import torch

        self.tree = tree
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = dtype or torch.float32
        self.joint_names: tuple[str, ...] = tree.pinocchio_joint_names
        self._q_column = {name: i for i, name in enumerate(self.joint_names)}
        self._levels, self.link_names = self._compile_levels()
        self._link_slot = {name: i for i, name in enumerate(self.link_names)}
        self._compile_jacobian()

    @classmethod
    def from_tree(cls, tree: KinematicTree, device: str | torch.device | None = None,
                  dtype: torch.dtype | None = None) -> HandKinematics:
        """Compile a parsed URDF."""
        return cls(tree, device, dtype)

    @classmethod
    def from_urdf(cls, path: Path | str, device: str | torch.device | None = None, dtype: torch.dtype | None = None,
                  free_joint: bool = False) -> HandKinematics:
        """Parse and compile a URDF file (`free_joint`: add dex-retargeting's 6 dummy base joints).

        Raises:
            labeling.kinematics.urdf.URDFError: the URDF cannot be used (the message names the element).
        """
        tree = load_urdf(path)
        return cls(add_dummy_free_joint(tree) if free_joint else tree, device, dtype)

    @property
    def n_joints(self) -> int:
        """Length of a `q_rad` row: movable joints including mimic ones."""
        return len(self.joint_names)

    def limits(self) -> npt.NDArray[np.float64]:
        """`(n_joints, 2)` joint limits in `joint_names` order (±NO_LIMIT where none)."""
        return joint_limits(self.tree, self.joint_names)

    def link_indices(self, names: Sequence[str], what: str = "link") -> list[int]:
        """Slots of the named links (for `positions_and_jacobian`).

        Raises:
            LinkNameError: a name the URDF does not define; `what` says where it came from.
        """
        missing = [n for n in names if n not in self._link_slot]
        if missing:
            raise LinkNameError(f"{what}: unknown link {missing[0]!r} in {self.tree.source}; "
                                f"links are {list(self.link_names)}")
        return [self._link_slot[n] for n in names]

    def expand(self, q_dof: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """`(B, n_joints)` full joint values from `(B, n_dof)` values in `tree.dof_joint_names` order."""
        q = np.asarray(q_dof, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != self.tree.n_dof:
            raise ValueError(f"q_dof must have shape (B, {self.tree.n_dof}) for {self.tree.source}, got {q.shape}")
        matrix, offset = mimic_affine(self.tree, self.tree.dof_joint_names)
        return q @ matrix.T + offset

    def forward(self, q_rad: torch.Tensor | npt.ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
        """Poses of every link in the root frame.

        Args:
            q_rad: `(B, n_joints)` in `joint_names` order.

        Returns:
            `rot (B, n_links, 3, 3)` and `xyz_m (B, n_links, 3)`, links in `link_names` order.
        """
        import torch

        q = self._as_tensor(q_rad)
        batch = q.shape[0]
        q_pad = torch.cat([q, q.new_zeros(batch, 1)], dim=1)
        pose = torch.eye(3, 4, dtype=self.dtype, device=self.device).expand(batch, 1, 3, 4)  # [R | t]
        poses = [pose]
        for level in self._levels:
            angle = q_pad.index_select(1, level.q_index)[..., None, None]  # (B, n, 1, 1)
            local = level.origin
            if level.turn_sin is not None:  # Rodrigues: R_origin @ (I + sin K + (1 - cos) K^2)
                local = torch.addcmul(torch.addcmul(local, torch.sin(angle), level.turn_sin),
                                      1.0 - torch.cos(angle), level.turn_cos)
            if level.slide is not None:
                local = torch.addcmul(local, angle, level.slide)
            pose = pose.index_select(1, level.parent) @ local  # (B, n, 3, 4) @ (.., 4, 4)
            poses.append(pose)
        poses_all = torch.cat(poses, dim=1)
        return poses_all[..., :3], poses_all[..., 3]

    def link_positions(self, q_rad: torch.Tensor | npt.ArrayLike, names: Sequence[str]) -> torch.Tensor:
        """`(B, len(names), 3)` positions (m) of the named links in the root frame."""
        import torch

        slots = torch.as_tensor(self.link_indices(names), dtype=torch.long, device=self.device)
        return self.forward(q_rad)[1].index_select(1, slots)

    def positions_and_jacobian(self, q_rad: torch.Tensor | npt.ArrayLike, slots: Sequence[int]
                               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions of some links and their exact Jacobian with respect to every joint.

        Args:
            q_rad: `(B, n_joints)` in `joint_names` order.
            slots: L link slots from `link_indices`.

        Returns:
            `xyz_m (B, L, 3)` and `jac (B, L, 3, n_joints)` (metres per radian, or per metre).
        """

        plan = self._jacobian_plan(tuple(slots))
        rot, xyz = self.forward(q_rad)
        batch, n_links = xyz.shape[0], len(slots)
        points = xyz.index_select(1, plan["slots"])  # (B, L, 3)
        joint_rot = rot.index_select(1, plan["child"])  # (B, P, 3, 3): the joint frame of each pair
        axis = (joint_rot @ plan["axis"][..., None])[..., 0]  # (B, P, 3) world axis
        lever = points.index_select(1, plan["link"]) - xyz.index_select(1, plan["child"])
        column = _cross(axis, lever) * plan["revolute"] + axis * plan["prismatic"]  # (B, P, 3)
        jac = column.new_zeros(batch, n_links * self.n_joints, 3)
        jac.index_copy_(1, plan["flat"], column)
        return points, jac.view(batch, n_links, self.n_joints, 3).transpose(2, 3)

    def _jacobian_plan(self, slots: tuple[int, ...]) -> dict[str, torch.Tensor]:
        """Index tensors for the (link, ancestor joint) pairs of `slots`; the only non-zero Jacobian columns."""
        import torch

        if slots in self._plans:
            return self._plans[slots]
        joints = [self.tree.joint(name) for name in self.joint_names]
        link, joint = np.nonzero(self._ancestor_np[list(slots)]) if slots else (np.zeros(0, int), np.zeros(0, int))

        def tensor(values: npt.ArrayLike, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(np.asarray(values), dtype=dtype, device=self.device)

        plan = {
            "slots": tensor(list(slots), torch.long), "link": tensor(link, torch.long),
            "child": tensor([self._link_slot[joints[k].child] for k in joint], torch.long),
            "flat": tensor(link * self.n_joints + joint, torch.long),
            "axis": tensor(np.reshape([joints[k].axis for k in joint], (-1, 3)), self.dtype),
            "revolute": tensor([[float(joints[k].type in ("revolute", "continuous"))] for k in joint], self.dtype),
            "prismatic": tensor([[float(joints[k].type == "prismatic")] for k in joint], self.dtype),
        }
        self._plans[slots] = plan
        return plan

    # --- compilation ------------------------------------------------------------------------------

    def _as_tensor(self, q_rad: torch.Tensor | npt.ArrayLike) -> torch.Tensor:
        import torch

        q = torch.as_tensor(q_rad, dtype=self.dtype, device=self.device)
        if q.ndim != 2 or q.shape[1] != self.n_joints:
            raise ValueError(f"q_rad must have shape (B, {self.n_joints}) for {self.tree.source} "
                             f"(joints {list(self.joint_names)}), got {tuple(q.shape)}")
        return q

    def _compile_levels(self) -> tuple[list[_Level], tuple[str, ...]]:
        depth = {self.tree.root_link: 0}
        for joint in self.tree.joints:  # topological: a joint's parent link already has a depth
            depth[joint.child] = depth[joint.parent] + 1
        by_level: dict[int, list[Joint]] = {}
        for joint in self.tree.joints:
            by_level.setdefault(depth[joint.parent], []).append(joint)
        slot_in_level = {self.tree.root_link: 0}
        link_names = [self.tree.root_link]
        levels = []
        for d in sorted(by_level):
            joints = by_level[d]
            levels.append(self._compile_level(joints, [slot_in_level[j.parent] for j in joints]))
            for i, joint in enumerate(joints):
                slot_in_level[joint.child] = i
            link_names.extend(j.child for j in joints)
        return levels, tuple(link_names)

    def _compile_level(self, joints: list[Joint], parents: list[int]) -> _Level:
        import torch

        pad = self.n_joints
        origin, turn_sin, turn_cos, slide, q_index = [], [], [], [], []
        for joint in joints:
            base = joint.origin_matrix()
            axis = np.asarray(joint.axis, dtype=np.float64)
            skew = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
            turns = joint.type in ("revolute", "continuous")
            sin_term, cos_term, slide_term = np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4))
            if turns:
                sin_term[:3, :3], cos_term[:3, :3] = base[:3, :3] @ skew, base[:3, :3] @ skew @ skew
            if joint.type == "prismatic":
                slide_term[:3, 3] = base[:3, :3] @ axis
            origin.append(base)
            turn_sin.append(sin_term)
            turn_cos.append(cos_term)
            slide.append(slide_term)
            q_index.append(self._q_column.get(joint.name, pad) if joint.movable else pad)

        def tensor(values: list, used: bool = True) -> torch.Tensor | None:
            return torch.as_tensor(np.asarray(values), dtype=self.dtype, device=self.device) if used else None

        turning = any(j.type in ("revolute", "continuous") for j in joints)
        sliding = any(j.type == "prismatic" for j in joints)
        return _Level(q_index=torch.as_tensor(q_index, dtype=torch.long, device=self.device),
                      parent=torch.as_tensor(parents, dtype=torch.long, device=self.device),
                      origin=tensor(origin), turn_sin=tensor(turn_sin, turning), turn_cos=tensor(turn_cos, turning),
                      slide=tensor(slide, sliding))

    def _compile_jacobian(self) -> None:
        """Which movable joints move each link (its ancestors), for the Jacobian plans."""
        parent_joint = {j.child: j for j in self.tree.joints}
        ancestor = np.zeros((len(self.link_names), self.n_joints), dtype=bool)
        for slot, link in enumerate(self.link_names):
            joint = parent_joint.get(link)
            while joint is not None:
                if joint.name in self._q_column:
                    ancestor[slot, self._q_column[joint.name]] = True
                joint = parent_joint.get(joint.parent)
        self._ancestor_np = ancestor
        self._plans: dict[tuple[int, ...], dict[str, torch.Tensor]] = {}


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cross product over the last axis (cheaper than torch.linalg.cross on small batches)."""
    import torch

    a1, a2, a3 = a.unbind(-1)
    b1, b2, b3 = b.unbind(-1)
    return torch.stack([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], dim=-1)
