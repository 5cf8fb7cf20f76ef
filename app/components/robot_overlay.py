"""The retargeted robot hand in the clip viewer: projected links, a 3D view and joint-angle curves.

No Streamlit here; `app/cache.py` wraps `robot_choices`, `joint_choices` and `clip_robot_layer`, and
`app.components.viewer.with_robot` adds the layer to the player's config. Like the keypoints, all of
it travels once as JSON for the whole clip:

- `hands`: per retargeted hand, the robot's links (`labeling.retarget.overlay.robot_overlay`, camera
  frame) projected through the clip's camera, `u = fx·x/z + cx`, `v = fy·y/z + cy`, in pixels of the
  original resolution rounded to 0.1 px; the player draws them with the same frame index as the
  skeleton;
- `view3d`: the chosen hand's links (and the human keypoints it was retargeted from) in millimetres,
  around the centroid of the robot's links, in camera axes, for the player's rotatable 3D view;
- `series`: the chosen hand's joint angles over the clip, drawn like a robot episode's curves.

The labelling stage and `labeling/retarget/overlay.py` are heavy to import (torch, OpenCV), so they
are imported where used.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from db.engine import QueryEngine
from db.queries.clips import get_clip
from db.queries.frames import hand_frames
from db.queries.retargets import clip_retargets, retarget_embodiments

if TYPE_CHECKING:
    from labeling.pose.camera import CameraIntrinsics
    from labeling.retarget.overlay import RobotOverlay

ROBOT_NONE = "none"  # the picker's choice for drawing no robot hand
DEFAULT_JOINT_DIMS = 6  # joint curves shown first: the joints that move most in the clip
MIN_DEPTH_M = 0.01  # a link nearer than this (or behind the camera) has no projection
HAND_ORDER = ("left", "right")


def robot_choices(engine: QueryEngine, clip_id: str) -> dict[str, list[str]]:
    """Embodiment → the hands (`left`/`right`) retargeted to it with at least one solved frame."""
    rows = retarget_embodiments(engine, clip_id)
    choices: dict[str, list[str]] = {}
    for embodiment, hand, frames in zip(rows["embodiment"], rows["hand"], rows["frames"], strict=True):
        if frames:
            choices.setdefault(str(embodiment), []).append(str(hand))
    return {name: sorted(hands, key=_hand_rank) for name, hands in choices.items()}


def _hand_rank(hand: str) -> int:
    return HAND_ORDER.index(hand) if hand in HAND_ORDER else len(HAND_ORDER)


def clip_intrinsics(root: Path, clip: dict) -> CameraIntrinsics:
    """The camera the clip's 3D poses were made with, so projecting them lands on the 2D keypoints.

    That is the camera a MediaPipe labelling recorded for the clip (it may use a non-default FOV),
    else the clip's own intrinsics (EgoDex), else `labeling.pose.camera`'s assumed-FOV camera
    (`DEFAULT_HFOV_DEG` horizontal, principal point at the centre), exactly as labelling derives it.
    """
    from labeling.pose.camera import CameraIntrinsics
    from labeling.pose.label import clip_camera

    width, height = int(clip.get("width") or 1), int(clip.get("height") or 1)
    recorded = clip_camera(root, str(clip["clip_id"]))
    if recorded and int(recorded.get("width_px", 0)) == width:
        return CameraIntrinsics.for_clip(recorded["fx_px"], recorded["fy_px"], recorded["cx_px"], recorded["cy_px"],
                                         width, height)
    return CameraIntrinsics.for_clip(_number(clip.get("fx")), _number(clip.get("fy")), _number(clip.get("cx")),
                                     _number(clip.get("cy")), width, height)


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def project_points(xyz_m: npt.NDArray[np.floating], fx: float, fy: float, cx: float, cy: float
                   ) -> npt.NDArray[np.float64]:
    """`(..., 2)` pixels of `(..., 3)` camera-frame points (OpenCV axes); NaN where behind the camera or NaN."""
    xyz = np.asarray(xyz_m, dtype=np.float64)
    z = xyz[..., 2]
    visible = np.isfinite(xyz).all(axis=-1) & (z > MIN_DEPTH_M)
    safe_z = np.where(visible, z, 1.0)
    uv = np.stack([fx * xyz[..., 0] / safe_z + cx, fy * xyz[..., 1] / safe_z + cy], axis=-1)
    uv[~visible] = np.nan
    return uv


def frame_lists(points: npt.NDArray[np.floating], frame_index: npt.NDArray[np.integer], n_frames: int,
                decimals: int = 1) -> list[list[float | None] | None]:
    """Per video frame, the flattened rounded points of `points (T, K, D)` (None: no row or all NaN).

    `frame_index (T,)` says which video frame each row belongs to; a NaN coordinate travels as null.
    """
    out: list[list[float | None] | None] = [None] * n_frames
    for row, frame in zip(np.asarray(points, dtype=np.float64), frame_index, strict=True):
        if not (0 <= frame < n_frames) or not np.isfinite(row).any():
            continue
        out[int(frame)] = [None if math.isnan(v) else round(float(v), decimals) for v in row.reshape(-1)]
    return out


def hand_layer(overlay: RobotOverlay, hand: str, intrinsics: CameraIntrinsics, n_frames: int) -> dict:
    """One hand's robot links as the player draws them over the video: `uv` per frame, `edges`."""
    uv = project_points(overlay.xyz_m, intrinsics.fx_px, intrinsics.fy_px, intrinsics.cx_px, intrinsics.cy_px)
    return {"hand": hand, "links": list(overlay.link_names), "edges": [list(e) for e in overlay.edges],
            "uv": frame_lists(uv, overlay.frame_index, n_frames)}


def view3d_layer(overlay: RobotOverlay, hand: str, n_frames: int,
                 human_m: npt.NDArray[np.floating] | None = None) -> dict:
    """The chosen hand for the 3D view: links (and the human's 21 keypoints) in mm around the robot hand.

    `human_m` is `(n_frames, 21, 3)` camera-frame keypoints by video frame (NaN where absent). Both
    keep camera axes, so the view starts as the camera sees the hand; the origin is the centroid of
    the robot's links per frame, so the hand stays centred (and turns about its middle) while the
    arm moves.
    """
    from labeling.pose.hand21 import CONNECTIONS

    origin = np.full((len(overlay.xyz_m), 1, 3), np.nan)
    solved = np.isfinite(overlay.xyz_m).all(axis=-1).any(axis=-1)
    origin[solved] = np.nanmean(overlay.xyz_m[solved], axis=1, keepdims=True)
    layer: dict = {"hand": hand, "links": list(overlay.link_names), "edges": [list(e) for e in overlay.edges],
                   "xyz": frame_lists((overlay.xyz_m - origin) * 1000.0, overlay.frame_index, n_frames),
                   "human": None, "humanEdges": [list(e) for e in CONNECTIONS]}
    if human_m is not None:
        keep = (overlay.frame_index >= 0) & (overlay.frame_index < n_frames)
        frames = overlay.frame_index[keep]
        human = np.asarray(human_m, dtype=np.float64)[frames] - origin[keep]
        layer["human"] = frame_lists(human * 1000.0, frames, n_frames)
    return layer


def human_keypoints(engine: QueryEngine, clip_id: str, hand: str, pose_source: str, n_frames: int
                    ) -> npt.NDArray[np.float64] | None:
    """`(n_frames, 21, 3)` camera-frame keypoints (metres) of one hand by video frame, NaN where absent."""
    table = hand_frames(engine, [clip_id], pose_source).to_pandas()
    rows = table[(table["hand"] == hand) & table["present"].fillna(False).astype(bool)]
    if rows.empty:
        return None
    out = np.full((n_frames, 21, 3), np.nan)
    for frame, points in zip(rows["frame_index"], rows["kp3d_m"], strict=True):
        if points is not None and 0 <= frame < n_frames:
            out[int(frame)] = np.asarray([list(p) for p in points], dtype=np.float64).reshape(21, 3)
    return out


def joint_names(root: Path, embodiment: str, hand: str, n_joints: int) -> list[str]:
    """The names of `q_rad`'s columns: the joints of the URDF the retarget commit recorded.

    Falls back to `q[i]` when the commit log does not say (or disagrees with the stored width).
    """
    from labeling.retarget.overlay import retarget_joint_names

    names = retarget_joint_names(root, embodiment, hand)
    if len(names) != n_joints:
        return [f"q[{i}]" for i in range(n_joints)]
    return [short_joint_label(name, hand) for name in names]


def short_joint_label(name: str, hand: str) -> str:
    """A joint's name without what the picker already says (the side) or says nothing (`_joint`)."""
    for prefix in (f"{hand}_hand_", f"{hand}_"):
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
            break
    return name.removesuffix("_joint") or name


def q_matrix(rows: pd.DataFrame, n_frames: int) -> npt.NDArray[np.float64]:
    """`(n_frames, n_joints)` joint angles by video frame from `clip_retargets` rows; NaN where absent."""
    vectors = [(f, q) for f, q in zip(rows["frame_index"], rows["q_rad"], strict=True) if q is not None]
    width = max((len(q) for _, q in vectors), default=0)
    out = np.full((n_frames, width), np.nan)
    for frame, q in vectors:
        if 0 <= frame < n_frames:
            out[int(frame), :len(q)] = np.asarray(q, dtype=np.float64)
    return out


def busiest_joints(q_rad: npt.NDArray[np.floating], names: list[str], count: int = DEFAULT_JOINT_DIMS) -> list[int]:
    """Indexes of the `count` joints that move most (by standard deviation), in joint order.

    The virtual free joints some configs add (`dummy_*`, the wrist pose) are not finger motion, so
    they are never picked.
    """
    spread = np.zeros(q_rad.shape[1])
    solved = np.isfinite(q_rad).sum(axis=0) > 1  # nanstd warns on a joint never solved
    spread[solved] = np.nanstd(q_rad[:, solved], axis=0)
    candidates = [i for i in np.argsort(-spread, kind="stable") if not names[i].startswith("dummy")]
    return sorted(int(i) for i in candidates[:count])


def joint_choices(engine: QueryEngine, clip_id: str, hand: str, embodiment: str) -> dict[str, list]:
    """`labels` of the hand's joints (q_rad's columns) and the `default` ones to draw."""
    clip = get_clip(engine, clip_id)
    if clip is None:
        return {"labels": [], "default": []}
    q_rad = q_matrix(clip_retargets(engine, clip_id, hand, embodiment), int(clip.get("n_frames") or 0))
    labels = joint_names(engine.root, embodiment, hand, q_rad.shape[1])
    return {"labels": labels, "default": busiest_joints(q_rad, labels)}


def joint_series(q_rad: npt.NDArray[np.floating], labels: list[str], dims: list[int], title: str,
                 max_dims: int) -> list[dict]:
    """The player's curves (like `viewer.robot_series`): the chosen joints of `q_rad (T, n_joints)`, 4 digits."""
    chosen = [d for d in dims if 0 <= d < q_rad.shape[1]][:max_dims]
    if not chosen:
        return []
    values = [[None if math.isnan(v) else float(f"{v:.4g}") for v in q_rad[:, d]] for d in chosen]
    return [{"title": title, "values": values, "names": [labels[d] for d in chosen]}]


def clip_robot_layer(engine: QueryEngine, clip_id: str, embodiment: str, hand: str | None = None,
                     pose_source: str | None = None, joint_dims: tuple[int, ...] = (), max_dims: int = 12
                     ) -> dict | None:
    """Everything the player needs to draw `embodiment`'s hands on a clip (None: nothing retargeted).

    Returns `{"robot": {"embodiment", "hands", "view3d"}, "series": [...]}`: every retargeted hand
    over the video; `hand` (default: the first one) in 3D, with the human keypoints of `pose_source`
    beside it, and its `joint_dims` curves.
    """
    from labeling.retarget.overlay import robot_overlay

    clip = get_clip(engine, clip_id)
    hands = robot_choices(engine, clip_id).get(embodiment, [])
    if clip is None or not hands:
        return None
    n_frames = int(clip.get("n_frames") or 0)
    intrinsics = clip_intrinsics(engine.root, clip)
    overlays = {}
    for side in hands:
        try:
            overlays[side] = robot_overlay(engine.root, clip_id, side, embodiment)
        except LookupError:  # the commit log lost the URDF it used: draw the other hand
            continue
    if not overlays:
        return None
    chosen = hand if hand in overlays else next(iter(overlays))
    human = human_keypoints(engine, clip_id, chosen, pose_source, n_frames) if pose_source else None
    q_rad = q_matrix(clip_retargets(engine, clip_id, chosen, embodiment), n_frames)
    labels = joint_names(engine.root, embodiment, chosen, q_rad.shape[1])
    title = f"{chosen} hand: {embodiment} joint angles (rad)"
    return {"robot": {"embodiment": embodiment, "camera": str(intrinsics.note()["text"]),
                      "hands": [hand_layer(o, s, intrinsics, n_frames) for s, o in overlays.items()],
                      "view3d": view3d_layer(overlays[chosen], chosen, n_frames, human)},
            "series": joint_series(q_rad, labels, list(joint_dims), title, max_dims)}
