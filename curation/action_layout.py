"""The 62-D `egocurate_hand22` state/action layout (DESIGN.md) and its wrist-pose arithmetic. Pure, no I/O.

Per hand, left then right: wrist xyz (3, metres), wrist 6D rotation (6: the first two columns of the
rotation matrix, Zhou et al. 2019), then the 22 joint angles (radians) in `hand_tree(side)` order:
`2 x (3 + 6 + 22) = 62`. Robot episodes of the demo store the wrist in the world frame; human
episodes come from `retargets` with the wrist in the camera frame. Human exports and the DTW
features use the wrist *relative to a start frame*, expressed in that frame's wrist axes:
`p_rel = R0^T (p - p0)`, `R_rel = R0^T R`. That is the same number whatever fixed frame the poses
were measured in, which is what makes a camera-frame human comparable to a world-frame robot.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from labeling.kinematics.rotations import matrix_to_rot6d, rot6d_to_matrix

HAND22_EMBODIMENT = "egocurate_hand22"  # the retargets embodiment whose joints fill the layout
SIDES = ("left", "right")
WRIST_POS_DIMS = 3
WRIST_ROT_DIMS = 6
HAND_JOINTS = 22
PER_HAND = WRIST_POS_DIMS + WRIST_ROT_DIMS + HAND_JOINTS  # 31
STATE_WIDTH = 2 * PER_HAND  # 62
WRIST_POSE_DIMS = WRIST_POS_DIMS + WRIST_ROT_DIMS  # 9 floats of `retargets.wrist_pose`
Float = npt.NDArray[np.float64]


@lru_cache(maxsize=1)
def state_names() -> tuple[str, ...]:
    """The 62 dimension names (the same as the demo robot dataset's `observation.state`)."""
    from labeling.hands import hand_tree  # parses the URDFs once; kept out of import time

    names: list[str] = []
    for side in SIDES:
        names += [f"{side}_wrist_{axis}" for axis in "xyz"]
        names += [f"{side}_wrist_rot6d_{i}" for i in range(WRIST_ROT_DIMS)]
        names += list(hand_tree(side).dof_joint_names)
    return tuple(names)


@lru_cache(maxsize=2)
def layout_from_retarget_order(side: str) -> npt.NDArray[np.intp]:
    """Indexes that put a `retargets.q_rad` row (dex-retargeting's `joint_names`, i.e. pinocchio
    order: siblings sorted by name) into this layout's joint order (`hand_tree(side).dof_joint_names`,
    the Sharpa controller order: thumb, index, middle, ring, pinky)."""
    from labeling.hands import hand_tree

    tree = hand_tree(side)
    stored = list(tree.pinocchio_joint_names)
    return np.array([stored.index(name) for name in tree.dof_joint_names], dtype=np.intp)


def modality_groups() -> dict[str, dict[str, int]]:
    """GR00T `modality.json` groups over the 62-D vector: `{left_wrist_pos: {start, end}, ...}`."""
    groups, start = {}, 0
    for side in SIDES:
        for group, width in (("wrist_pos", WRIST_POS_DIMS), ("wrist_rot6d", WRIST_ROT_DIMS), ("hand", HAND_JOINTS)):
            groups[f"{side}_{group}"] = {"start": start, "end": start + width}
            start += width
    return groups


def hand_slices(hand: int) -> tuple[slice, slice, slice]:
    """Position, 6D rotation and joint slices of hand 0 (left) or 1 (right) in the 62-D vector."""
    base = hand * PER_HAND
    return (slice(base, base + 3), slice(base + 3, base + 9), slice(base + 9, base + PER_HAND))


def relative_wrists(state: npt.ArrayLike, origin: int = 0) -> Float:
    """`(T, 62)` with each wrist made relative to frame `origin`; joint angles are left as they are.

    Row `origin` becomes `[0, 0, 0, 1, 0, 0, 0, 1, 0]` per hand (no translation, identity rotation).
    """
    out = np.array(state, dtype=np.float64, copy=True)
    if out.ndim != 2 or out.shape[1] != STATE_WIDTH:
        raise ValueError(f"state must be (T, {STATE_WIDTH}), got {out.shape}")
    for hand in range(2):
        pos, rot, _ = hand_slices(hand)
        rotation = rot6d_to_matrix(out[:, rot])
        r0_t = rotation[origin].T
        out[:, pos] = (out[:, pos] - out[origin, pos]) @ r0_t.T
        out[:, rot] = matrix_to_rot6d(r0_t @ rotation)
    return out


def next_state_actions(state: npt.ArrayLike) -> Float:
    """`(T, D)` actions as the next frame's state, the last frame holding (the demo dataset's convention)."""
    s = np.asarray(state, dtype=np.float64)
    return np.concatenate([s[1:], s[-1:]], axis=0)


def fill_gaps(values: npt.ArrayLike, valid: npt.ArrayLike) -> tuple[Float, int]:
    """Linearly interpolate the invalid rows of `(T, D)` from valid neighbours (ends hold).

    Returns the filled array and how many rows were filled. With no valid row at all, the rows
    stay as given (the caller decides what a hand that was never seen means).
    """
    out = np.array(values, dtype=np.float64, copy=True)
    ok = np.asarray(valid, dtype=bool) & np.all(np.isfinite(out), axis=1)
    missing = int((~ok).sum())
    if missing == 0 or not ok.any():
        return out, missing if ok.any() else 0
    frames = np.arange(len(out))
    for column in range(out.shape[1]):
        out[~ok, column] = np.interp(frames[~ok], frames[ok], out[ok, column])
    return out, missing


def rest_hand(n_frames: int) -> Float:
    """`(T, 31)` one hand never seen: wrist at the origin with identity rotation, joints at zero."""
    hand = np.zeros((n_frames, PER_HAND))
    hand[:, 3], hand[:, 7] = 1.0, 1.0  # 6D identity: columns (1, 0, 0) and (0, 1, 0)
    return hand


def alignment_features(state: npt.ArrayLike, wrist_weight_per_m: float, joints_only: bool = False) -> Float:
    """`(T, 44)` joint angles, plus `(T, 6)` weighted start-relative wrist positions unless `joints_only`.

    Joint angles are absolute, so they compare across any start; the wrist positions are relative
    to row 0, so they only compare once both sequences start at the same moment of the task.
    """
    s = np.asarray(state, dtype=np.float64)
    joints = [s[:, hand_slices(h)[2]] for h in range(2)]
    if joints_only:
        return np.concatenate(joints, axis=1)
    rel = relative_wrists(s)
    positions = [wrist_weight_per_m * rel[:, hand_slices(h)[0]] for h in range(2)]
    return np.concatenate(joints + positions, axis=1)
