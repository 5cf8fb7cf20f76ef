"""A robot state in its hand's own joint space: the spec's dimensions as URDF joint values (radians), and wrists.

    q_rad = hand_radians(spec.hands["right"], state_names, state)     # (T, J) in the spec's joint order
    wrist = wrist_poses(spec.wrist["right"], state_names, state)      # (T, 9) xyz + 6D rotation
    values = radians_to_dims(spec.hands["right"], q_rad)              # (T, J) back in the dataset's units

`full_dof(hand, q_rad)` fills the URDF's other independent joints (at zero, clipped into their
limits) so forward kinematics can draw the whole hand. Pure numpy, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from labeling.kinematics.rotations import matrix_to_rot6d

from .spec import HandSpec, WristSpec

Float = npt.NDArray[np.float64]


def _columns(names: Sequence[str], dims: Sequence[str]) -> npt.NDArray[np.intp]:
    index = {n: i for i, n in enumerate(names)}
    missing = [d for d in dims if d not in index]
    if missing:
        raise ValueError(f"the state has no dimension named {missing[0]!r}")
    return np.array([index[d] for d in dims], dtype=np.intp)


def hand_radians(hand: HandSpec, names: Sequence[str], state: npt.ArrayLike) -> Float:
    """`(T, J)` joint values (radians; metres for prismatic joints) of the spec's joints, in its order.

    Raises:
        ValueError: a mapped dimension is not among `names`, or `state` is not `(T, len(names))`.
    """
    s = np.asarray(state, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != len(names):
        raise ValueError(f"state must be (T, {len(names)}), got {s.shape}")
    values = s[:, _columns(names, [m.dim for m in hand.joints])]
    scale = np.array([m.scale for m in hand.joints])
    offset = np.array([m.offset for m in hand.joints])
    return offset + scale * values


def radians_to_dims(hand: HandSpec, q_rad: npt.ArrayLike) -> Float:
    """The inverse of `hand_radians`: `(T, J)` joint values in the dataset's units (spec joint order)."""
    scale = np.array([m.scale for m in hand.joints])
    offset = np.array([m.offset for m in hand.joints])
    return (np.asarray(q_rad, dtype=np.float64) - offset) / scale


def quaternion_matrix(quat: npt.ArrayLike, order: str = "wxyz") -> Float:
    """`(T, 3, 3)` rotation matrices of `(T, 4)` quaternions (normalised first; a zero one is identity)."""
    q = np.asarray(quat, dtype=np.float64).reshape(-1, 4)
    w, x, y, z = (q[:, 0], q[:, 1], q[:, 2], q[:, 3]) if order == "wxyz" else (q[:, 3], q[:, 0], q[:, 1], q[:, 2])
    norm = np.sqrt(w * w + x * x + y * y + z * z)
    zero = norm == 0
    w, norm = np.where(zero, 1.0, w), np.where(zero, 1.0, norm)
    w, x, y, z = (v / norm for v in (w, x, y, z))
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)


def wrist_poses(wrist: WristSpec, names: Sequence[str], state: npt.ArrayLike) -> Float:
    """`(T, 9)` one side's end-effector pose: xyz then the 6D rotation (`retargets.wrist_pose`'s layout)."""
    values = np.asarray(state, dtype=np.float64)[:, _columns(names, wrist.dims)]
    if wrist.rotation == "rot6d":
        return values
    return np.concatenate([values[:, :3], matrix_to_rot6d(quaternion_matrix(values[:, 3:], wrist.quaternion))], 1)


def full_dof(hand: HandSpec, q_rad: npt.ArrayLike) -> Float:
    """`(T, n_dof)` every independent URDF joint (`tree.dof_joint_names` order): the spec's joints from
    `q_rad`, the others at zero clipped into their limits (for forward kinematics)."""
    tree = hand.tree
    q = np.asarray(q_rad, dtype=np.float64).reshape(-1, len(hand.joints))
    limits = tree.limits()
    out = np.broadcast_to(np.clip(0.0, limits[:, 0], limits[:, 1]), (len(q), tree.n_dof)).copy()
    slot = {n: i for i, n in enumerate(tree.dof_joint_names)}
    for column, name in enumerate(hand.joint_names):
        if name in slot:
            out[:, slot[name]] = q[:, column]
    return out
