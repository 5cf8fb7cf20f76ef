"""Hand shapes of the synthetic demo: joint-angle presets of `egocurate_hand22` and wrist orientation.

A grip is `q = rest + g * (shape - rest)` for a closure `g` in [0, 1]. Shapes are written once by
joint name without the side prefix (`index_PIP`) and work for both hands, because the left URDF
is the mirror of the right one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from labeling.hands import hand_keypoints_m, hand_tree

from .geometry import rot_x, rot_y

Array = npt.NDArray[np.float64]


def _fingers(mcp: float, pip: float, dip: float, fingers: tuple[str, ...] = ("index", "middle", "ring", "pinky")
             ) -> dict[str, float]:
    out: dict[str, float] = {}
    for finger in fingers:
        out.update({f"{finger}_MCP_FE": mcp, f"{finger}_PIP": pip, f"{finger}_DIP": dip})
    return out


def _thumb(cmc_fe: float, cmc_aa: float, mcp_fe: float, ip: float) -> dict[str, float]:
    return {"thumb_CMC_FE": cmc_fe, "thumb_CMC_AA": cmc_aa, "thumb_MCP_FE": mcp_fe, "thumb_IP": ip}


_SPREAD = {"index_MCP_AA": 0.05, "ring_MCP_AA": -0.04, "pinky_MCP_AA": -0.09}

# Joint angles in radians, keyed by joint name without the side prefix; absent joints are 0.
GRIP_SHAPES: dict[str, dict[str, float]] = {
    "rest": {**_fingers(0.18, 0.30, 0.18), **_thumb(0.15, 0.0, 0.12, 0.12), **_SPREAD, "pinky_CMC": 0.05},
    "pinch": {**_fingers(0.75, 0.65, 0.35, ("index",)), **_fingers(0.9, 0.9, 0.45, ("middle",)),
              **_fingers(1.0, 1.1, 0.55, ("ring", "pinky")), **_thumb(0.95, 0.25, 0.45, 0.35),
              "pinky_CMC": 0.2},
    "power": {**_fingers(0.95, 1.2, 0.65), **_thumb(1.0, 0.3, 0.5, 0.55), "pinky_CMC": 0.35},
    "point": {**_fingers(0.05, 0.05, 0.02, ("index",)), **_fingers(1.3, 1.6, 1.0, ("middle", "ring", "pinky")),
              **_thumb(1.0, 0.2, 0.6, 0.7), "pinky_CMC": 0.3},
    "flat": {**_fingers(0.12, 0.12, 0.08), **_thumb(0.3, 0.1, 0.1, 0.1), **_SPREAD},
    "hook": {**_fingers(0.3, 1.3, 0.9), **_thumb(0.4, 0.1, 0.2, 0.2), "pinky_CMC": 0.1},
}

# MediaPipe-21 indices whose mean is the point a shape holds an object at.
_GRIP_POINT_KEYPOINTS = {"pinch": (4, 8), "power": (4, 8, 12, 16, 5, 9), "point": (8,),
                         "flat": (0, 5, 9, 13, 17), "hook": (6, 10, 14), "rest": (0, 9)}


@lru_cache(maxsize=32)
def grip_q(side: str, shape: str) -> Array:
    """`(22,)` joint angles of a shape for one side, in `dof_joint_names` order."""
    if shape not in GRIP_SHAPES:
        raise KeyError(f"unknown grip shape {shape!r}; known: {sorted(GRIP_SHAPES)}")
    tree = hand_tree(side)
    angles = GRIP_SHAPES[shape]
    q = np.array([angles.get(name.removeprefix(f"{side}_"), 0.0) for name in tree.dof_joint_names])
    q.setflags(write=False)
    return q


@lru_cache(maxsize=32)
def grip_point_m(side: str, shape: str) -> Array:
    """`(3,)` wrist-frame point where a fully closed `shape` holds an object (or touches, for point)."""
    keypoints = hand_keypoints_m(side, grip_q(side, shape)[None])[0]
    point = keypoints[list(_GRIP_POINT_KEYPOINTS[shape])].mean(axis=0)
    if shape == "flat":
        point = point + np.array([0.0, 0.0, -0.022])  # below the palm: the top of what it rests on
    point.setflags(write=False)
    return point


def joint_limits(side: str) -> Array:
    """`(22, 2)` lower/upper joint limits of one side."""
    return hand_tree(side).limits()


# Hand frame (x to the fingers, z dorsal) → world (y up, person looking to -z) at zero yaw, pitch,
# roll: fingers point forward (-z), the back of the hand up (+y), hand y to the left (-x).
_HAND_TO_WORLD = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])


def hand_rotation(yaw_rad: npt.ArrayLike, pitch_rad: npt.ArrayLike, roll_rad: npt.ArrayLike) -> Array:
    """World rotation `(..., 3, 3)` of a palm-down hand turned by yaw, pitch and roll.

    Yaw turns about world up (+ points the fingers left), pitch about the hand y (+ points the
    fingers down), roll about the hand x.
    """
    return rot_y(yaw_rad) @ _HAND_TO_WORLD @ rot_y(pitch_rad) @ rot_x(roll_rad)
