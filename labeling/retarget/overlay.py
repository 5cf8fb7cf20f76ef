"""The viewer's robot hand: a clip's `retargets` rows placed in the camera frame through the URDF.

    overlay = robot_overlay(root, clip_id, "right", "egocurate_hand22")
    overlay.xyz_m          # (T, L, 3) link positions, camera frame, NaN where the hand is absent

The retarget stage records in each lake commit which URDF (and free-joint / mimic options) every
side of an embodiment used (`stage._side_meta`); this module reads that back, so drawing needs no
config files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from db.engine import query_engine
from db.lake import Lake
from db.queries.retargets import clip_retargets
from labeling.hands import MEDIAPIPE21_LINKS
from labeling.kinematics.rotations import rot6d_to_matrix
from labeling.kinematics.torch_fk import HandKinematics, add_dummy_free_joint, strip_mimic
from labeling.kinematics.urdf import load_urdf
from labeling.pose.hand21 import CONNECTIONS

from .stage import STAGE_NAME


@dataclass(frozen=True)
class RobotOverlay:
    """A retargeted robot hand placed in the camera frame, frame by frame, for drawing over the video."""

    frame_index: npt.NDArray[np.int32]  # (T,)
    link_names: tuple[str, ...]  # (L,) the points drawn
    edges: tuple[tuple[int, int], ...]  # pairs of indices into link_names to join with a line
    xyz_m: npt.NDArray[np.float64]  # (T, L, 3) camera frame (OpenCV axes), metres; NaN where absent


def robot_overlay(root: Path | str, clip_id: str, hand: str, embodiment: str) -> RobotOverlay:
    """The robot hand of a clip's `retargets` rows in the camera frame (project with the clip's intrinsics).

    Points are the 21 MediaPipe-placed links for hands that have them (the built-in hand), else every
    URDF link, joined along the kinematic tree.

    Raises:
        LookupError: no retargets of this clip, hand and embodiment.
    """
    root = Path(root)
    rows = clip_retargets(query_engine(root), clip_id, hand, embodiment)
    if rows.empty:
        raise LookupError(f"no retargets for clip {clip_id!r}, hand {hand!r}, embodiment {embodiment!r}")
    side = _side_meta_from_commits(root, embodiment).get(hand)
    if side is None:
        raise LookupError(f"the lake's commits do not say which URDF embodiment {embodiment!r} used for {hand!r}")
    kin, names, edges = _overlay_model(side["urdf_path"], bool(side["add_dummy_free_joint"]),
                                       bool(side["ignore_mimic_joint"]), hand)
    present = rows["q_rad"].notna().to_numpy()
    xyz = np.full((len(rows), len(names), 3), np.nan)
    if present.any():
        q = np.stack(rows["q_rad"][present].to_list()).astype(np.float64)
        pose = np.stack(rows["wrist_pose"][present].to_list()).astype(np.float64)
        local = kin.link_positions(q, names).cpu().numpy().astype(np.float64)
        xyz[present] = pose[:, None, :3] + np.einsum("tij,tlj->tli", rot6d_to_matrix(pose[:, 3:]), local)
    return RobotOverlay(rows["frame_index"].to_numpy(np.int32), names, edges, xyz)


def robot_keypoints_camera(root: Path | str, clip_id: str, hand: str, embodiment: str) -> npt.NDArray[np.float64]:
    """`(T, L, 3)` robot link positions in the camera frame, by frame (see `robot_overlay`)."""
    return robot_overlay(root, clip_id, hand, embodiment).xyz_m


def _side_meta_from_commits(root: Path, embodiment: str) -> dict[str, dict[str, Any]]:
    """The newest `sides` meta that a retarget commit recorded for `embodiment` (read from the commit log)."""
    for entry in reversed(Lake(Path(root)).entries()):
        meta = entry.get("meta", {})
        if meta.get("stage") == STAGE_NAME and meta.get("embodiment") == embodiment and meta.get("sides"):
            return meta["sides"]
    return {}


def retarget_joint_names(root: Path | str, embodiment: str, hand: str) -> tuple[str, ...]:
    """The names of `q_rad`'s columns for one embodiment and hand (dex-retargeting's `joint_names`
    of the URDF the newest retarget commit used); empty when no commit says."""
    side = _side_meta_from_commits(Path(root), embodiment).get(hand)
    if side is None:
        return ()
    kin, _, _ = _overlay_model(side["urdf_path"], bool(side["add_dummy_free_joint"]),
                               bool(side["ignore_mimic_joint"]), hand)
    return tuple(kin.joint_names)


def retarget_dof(root: Path | str, embodiment: str) -> dict[str, int]:
    """Per hand, the independent finger joints the newest retarget commit of `embodiment` recorded
    (commits written before it was recorded say nothing: an empty dict)."""
    sides = _side_meta_from_commits(Path(root), embodiment)
    return {hand: int(meta["dof"]) for hand, meta in sides.items() if isinstance(meta.get("dof"), int)}


@lru_cache(maxsize=16)
def _overlay_model(urdf_path: str, free_joint: bool, ignore_mimic: bool, side: str
                   ) -> tuple[HandKinematics, tuple[str, ...], tuple[tuple[int, int], ...]]:
    import torch

    tree = load_urdf(urdf_path)
    tree = add_dummy_free_joint(tree) if free_joint else tree
    tree = strip_mimic(tree) if ignore_mimic else tree
    kin = HandKinematics(tree, "cpu", torch.float64)
    if side in MEDIAPIPE21_LINKS and set(MEDIAPIPE21_LINKS[side]) <= set(tree.link_names):
        return kin, MEDIAPIPE21_LINKS[side], CONNECTIONS
    names = tuple(n for n in kin.link_names if not n.startswith("dummy_"))
    slot = {n: i for i, n in enumerate(names)}
    edges = tuple((slot[j.parent], slot[j.child]) for j in tree.joints if j.parent in slot and j.child in slot)
    return kin, names, edges
