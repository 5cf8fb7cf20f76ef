"""Built-in kinematic hands: the project's own 22-DoF `egocurate_hand22`, one URDF per side.

    from labeling.hands import hand_keypoints_m
    kp = hand_keypoints_m("right", q_rad)          # (B, 21, 3) metres, wrist frame

`egocurate_hand22` has the Sharpa HA4 joint layout and names (`right_thumb_CMC_FE`, ...) with
adult human proportions, so human motion can be written in the EgoScale 22-joint action space
and drawn as keypoints. Its wrist frame, on both sides:

- origin at the wrist (MediaPipe landmark 0);
- x from the wrist toward the fingers (toward the middle-finger MCP);
- z out of the back of the hand (the palm faces -z);
- y = z × x: toward the thumb on the right hand, toward the little finger on the left.

The left URDF is the right one mirrored in the x–z plane, so the same `q_rad` gives mirror-image
keypoints (y negated). Positive flexion curls toward the palm on both sides.

A new hand registers the way this one does: add a `HandSpec` to `HANDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from labeling.kinematics.fk import link_positions
from labeling.kinematics.urdf import KinematicTree, load_urdf
from labeling.pose.hand21 import KEYPOINT_NAMES

HANDS_DIR = Path(__file__).resolve().parent
SIDES = ("left", "right")


def _mediapipe21(side: str) -> tuple[str, ...]:
    return tuple(f"{side}_{name}" for name in KEYPOINT_NAMES)


# The 21 egocurate_hand22 link names in MediaPipe landmark order (0 wrist, 1-4 thumb CMC..tip,
# 5-8 index MCP..tip, 9-12 middle, 13-16 ring, 17-20 pinky), per side.
MEDIAPIPE21_LINKS: dict[str, tuple[str, ...]] = {side: _mediapipe21(side) for side in SIDES}


@dataclass(frozen=True)
class HandSpec:
    """A kinematic hand model with one URDF per side."""

    name: str  # registry key
    urdf_paths: dict[str, Path]  # side ("left"/"right") → URDF file
    wrist_links: dict[str, str]  # side → root link at the wrist
    mediapipe21_links: dict[str, tuple[str, ...]]  # side → 21 link names, MediaPipe order
    n_dof: int  # independent joints per hand

    def __post_init__(self) -> None:
        """Check both sides are described."""
        for field in ("urdf_paths", "wrist_links", "mediapipe21_links"):
            if set(getattr(self, field)) != set(SIDES):
                raise ValueError(f"HandSpec.{field} needs exactly the sides {SIDES}")
        if any(len(names) != 21 for names in self.mediapipe21_links.values()):
            raise ValueError("HandSpec.mediapipe21_links needs 21 link names per side")


HANDS: dict[str, HandSpec] = {
    "egocurate_hand22": HandSpec(
        name="egocurate_hand22",
        urdf_paths={side: HANDS_DIR / f"egocurate_hand22_{side}.urdf" for side in SIDES},
        wrist_links={side: f"{side}_wrist" for side in SIDES},
        mediapipe21_links=MEDIAPIPE21_LINKS,
        n_dof=22,
    ),
}


@lru_cache(maxsize=32)
def hand_tree(side: str, hand: str = "egocurate_hand22") -> KinematicTree:
    """The parsed URDF of a registered hand (cached; trees are immutable)."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    if hand not in HANDS:
        raise KeyError(f"unknown hand {hand!r}; registered: {sorted(HANDS)}")
    return load_urdf(HANDS[hand].urdf_paths[side])


def hand_keypoints_m(side: str, q_rad: npt.ArrayLike, hand: str = "egocurate_hand22"
                     ) -> npt.NDArray[np.float64]:
    """MediaPipe-21 keypoints of a registered hand by forward kinematics.

    Args:
        side: "left" or "right".
        q_rad: `(B, n_dof)` joint angles in the URDF's `dof_joint_names` order.
        hand: registry key in `HANDS`.

    Returns:
        `(B, 21, 3)` positions in metres in the wrist frame.
    """
    tree = hand_tree(side, hand)
    return link_positions(tree, q_rad, HANDS[hand].mediapipe21_links[side])
