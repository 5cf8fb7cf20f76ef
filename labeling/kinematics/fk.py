"""Batched forward kinematics in numpy for a `KinematicTree`.

    from labeling.kinematics.fk import link_positions
    xyz_m = link_positions(tree, q_rad, ["thumb_tip", "index_tip"])   # (B, 2, 3)

`q_rad` rows follow `tree.dof_joint_names`; mimic joints are filled in from the joint they follow
(`multiplier * q + offset`), prismatic values are metres. Poses are in the root-link frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .urdf import Joint, KinematicTree


def full_joint_values(tree: KinematicTree, q_rad: npt.ArrayLike) -> dict[str, npt.NDArray[np.float64]]:
    """Value of every movable joint, mimic ones included.

    Args:
        tree: the parsed URDF.
        q_rad: `(B, n_dof)` independent joint values in `tree.dof_joint_names` order.

    Returns:
        joint name → `(B,)` value (rad, or m for prismatic joints).
    """
    q = np.asarray(q_rad, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != tree.n_dof:
        raise ValueError(f"q_rad must have shape (B, {tree.n_dof}) for {tree.source}, got {q.shape}")
    values = {name: q[:, i] for i, name in enumerate(tree.dof_joint_names)}
    pending = [j for j in tree.joints if j.movable and j.mimic is not None]
    while pending:  # mimic chains resolve in a few passes; parse_urdf rejects loops
        left = []
        for joint in pending:
            assert joint.mimic is not None
            source = values.get(joint.mimic.joint)
            if source is None:
                left.append(joint)
            else:
                values[joint.name] = joint.mimic.multiplier * source + joint.mimic.offset
        if len(left) == len(pending):
            raise ValueError(f"{tree.source}: unresolved mimic joints {[j.name for j in left]}")
        pending = left
    return values


def link_poses(tree: KinematicTree, q_rad: npt.ArrayLike) -> dict[str, npt.NDArray[np.float64]]:
    """Pose of every link in the root frame.

    Args:
        tree: the parsed URDF.
        q_rad: `(B, n_dof)` independent joint values in `tree.dof_joint_names` order.

    Returns:
        link name → `(B, 4, 4)` homogeneous transform root←link.
    """
    values = full_joint_values(tree, q_rad)
    batch = np.asarray(q_rad).shape[0]
    poses = {tree.root_link: np.broadcast_to(np.eye(4), (batch, 4, 4)).copy()}
    for joint in tree.joints:
        local = joint.origin_matrix() @ _motion(joint, values.get(joint.name), batch)
        poses[joint.child] = poses[joint.parent] @ local
    return poses


def link_positions(tree: KinematicTree, q_rad: npt.ArrayLike,
                   link_names: Sequence[str]) -> npt.NDArray[np.float64]:
    """Positions of the named links in the root frame.

    Args:
        tree: the parsed URDF.
        q_rad: `(B, n_dof)` independent joint values in `tree.dof_joint_names` order.
        link_names: L link names.

    Returns:
        `(B, L, 3)` positions in metres.
    """
    poses = link_poses(tree, q_rad)
    missing = [name for name in link_names if name not in poses]
    if missing:
        raise KeyError(f"{tree.source}: no links named {missing}")
    return np.stack([poses[name][:, :3, 3] for name in link_names], axis=1)


def _motion(joint: Joint, value: npt.NDArray[np.float64] | None, batch: int) -> npt.NDArray[np.float64]:
    """`(B, 4, 4)` joint motion: rotation about, or translation along, the joint axis."""
    out = np.broadcast_to(np.eye(4), (batch, 4, 4)).copy()
    if value is None or not joint.movable:
        return out
    axis = np.asarray(joint.axis)
    if joint.type == "prismatic":
        out[:, :3, 3] = value[:, None] * axis
        return out
    out[:, :3, :3] = axis_angle_matrix(axis, value)
    return out


def axis_angle_matrix(axis: npt.NDArray[np.float64], angle_rad: npt.NDArray[np.float64]
                      ) -> npt.NDArray[np.float64]:
    """Rodrigues: `(B, 3, 3)` rotations by `angle_rad (B,)` about the unit `axis (3,)`."""
    x, y, z = axis
    skew = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    sin = np.sin(angle_rad)[:, None, None]
    cos = np.cos(angle_rad)[:, None, None]
    return np.eye(3) + sin * skew + (1.0 - cos) * (skew @ skew)
