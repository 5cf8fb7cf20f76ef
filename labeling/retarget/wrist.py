"""Wrist frames: where a hand's keypoints are measured from, on the human and on the robot.

`compute_wrist_frames` builds dex-retargeting's MANO wrist frame from MediaPipe-21 keypoints (the
frame its configs are tuned for); `palm_rotation` finds the same frame on a robot's own palm, so a
human wrist pose can be carried onto the robot's root link (`stage.compute_retargets`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from labeling.hands import SIDES
from labeling.kinematics.rotations import unit_vectors
from labeling.pose.hand21 import INDEX_MCP, MIDDLE_MCP, WRIST

from .objective import RetargetObjective


def compute_wrist_frames(keypoints_cam: npt.NDArray[np.floating], side: str
                         ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """MANO wrist frames from MediaPipe-21 keypoints, and the keypoints in them.

    The frame is dex-retargeting's (`estimate_frame_from_hand_points`, then `OPERATOR2MANO`), which
    its configs are tuned for: origin at the wrist; z toward the fingers (wrist → middle MCP, made
    orthogonal to the palm); x out of the palm, normal to the wrist / index MCP / middle MCP
    triangle; y = z × x, toward the thumb on a right hand and toward the little finger on a left one.

    Args:
        keypoints_cam: `(T, 21, 3)` metres in any frame (e.g. the camera's), finite.
        side: "left" or "right".

    Returns:
        `rot (T, 3, 3)`: columns are the MANO axes in the input frame; `keypoints_mano (T, 21, 3)`.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    points = np.asarray(keypoints_cam, dtype=np.float64)
    wrist = points[:, WRIST]
    index, middle = points[:, INDEX_MCP] - wrist, points[:, MIDDLE_MCP] - wrist
    normal = unit_vectors(np.cross(index, middle))
    fingers = unit_vectors(middle - (middle * normal).sum(-1, keepdims=True) * normal)
    toward_index = np.cross(-fingers, normal)  # dex's z; flip the normal so it points from middle to index
    flip = np.where((toward_index * (index - middle)).sum(-1, keepdims=True) < 0, -1.0, 1.0)
    normal, toward_index = normal * flip, toward_index * flip
    if side == "right":  # OPERATOR2MANO_RIGHT: x = -normal, y = toward index, z = fingers
        rot = np.stack([-normal, toward_index, fingers], axis=-1)
    else:  # OPERATOR2MANO_LEFT: x = normal, y = away from the index, z = fingers
        rot = np.stack([normal, -toward_index, fingers], axis=-1)
    return rot, (points - wrist[:, None]) @ rot


def palm_rotation(retargeter: RetargetObjective, side: str) -> npt.NDArray[np.float64] | None:
    """The MANO frame `compute_wrist_frames` finds on the robot's own palm at rest, in its root frame.

    A config's `input_rotation` is nominal: it assumes the model's wrist, index MCP and middle MCP
    lie in the root's palm plane, while a real palm arches (the built-in hand's by ~6°). The wrist
    frame of a human hand is estimated from those three keypoints, so the rotation that carries it
    onto the robot's root is the one the same estimate gives on the robot's palm. None when the
    config does not name the links at keypoints 0, 5 and 9 (e.g. DexPilot's wrist + fingertips).
    """
    import torch

    links: dict[int, str] = {}
    human_rows = retargeter.human_indices  # (2, N) origin/task, or (1, N) task-only for position configs
    slot_rows = (retargeter.origin_index, retargeter.task_index)[-len(human_rows):]
    for humans, slots in zip(human_rows, slot_rows, strict=True):
        for human, slot in zip(humans, slots, strict=True):
            links.setdefault(int(human), retargeter.link_names[slot])
    if not {0, 5, 9} <= links.keys():
        return None
    lower, upper = retargeter.target_limits[:, 0], retargeter.target_limits[:, 1]
    rest = torch.as_tensor(np.clip(0.0, lower, upper)[None], dtype=retargeter.dtype, device=retargeter.device)
    q_rest = retargeter.full_q(rest).cpu().numpy()
    palm = np.zeros((1, 21, 3))
    palm[0, [0, 5, 9]] = retargeter.link_positions(q_rest, [links[0], links[5], links[9]])[0]
    return compute_wrist_frames(palm, side)[0][0]
