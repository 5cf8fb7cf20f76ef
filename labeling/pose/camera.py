"""Camera model and camera-frame hand poses from MediaPipe keypoints (a PnP fit per hand and frame).

MediaPipe gives each hand twice: 21 keypoints in pixels, and the same 21 in metres in a
hand-centred "world" frame (its metric guess of the hand's shape). A perspective-n-point fit finds
the rigid motion that carries the world keypoints into the camera so that they project onto the
pixels; applied to the world keypoints it places the hand in the camera frame (OpenCV axes: x
right, y down, z forward; metres). Depth therefore rests on MediaPipe's hand size and on the
intrinsics: known ones come from the clip (EgoDex), otherwise they are derived from an assumed
horizontal field of view, and every output says which (`CameraIntrinsics.note`).

Everything here is pure (arrays in, arrays out, no I/O).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import numpy.typing as npt

from labeling.kinematics.rotations import unit_vectors

from .hand21 import INDEX_MCP, MIDDLE_MCP, PINKY_MCP, THUMB_MCP, WRIST

# Head-mounted egocentric cameras are wide (EgoDex's is 105 degrees, Aria's RGB about 110, a GoPro
# 'wide' about 118) while phones and webcams sit near 65-70; 90 degrees errs by well under 2x in
# depth for all of them, where a webcam-like 60 would put egocentric hands 2x too far away.
DEFAULT_HFOV_DEG = 90.0
MIN_DEPTH_M = 0.01  # a PnP solution with any keypoint nearer than this (or behind) is rejected


@dataclass(frozen=True)
class CameraIntrinsics:
    """A pinhole camera without distortion, in pixels of the original video resolution."""

    fx_px: float  # focal length along x, pixels
    fy_px: float  # focal length along y, pixels
    cx_px: float  # principal point x, pixels
    cy_px: float  # principal point y, pixels
    width_px: int  # image width the intrinsics refer to
    height_px: int  # image height
    source: str  # 'clip': known (from the catalog); 'assumed': from `hfov_deg`
    hfov_deg: float  # horizontal field of view, degrees (derived from fx when known)

    def __post_init__(self) -> None:
        for name in ("fx_px", "fy_px", "width_px", "height_px"):
            value = getattr(self, name)
            if value is None or not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if self.source not in ("clip", "assumed"):
            raise ValueError(f"source must be 'clip' or 'assumed', got {self.source!r}")

    @classmethod
    def from_hfov(cls, width_px: int, height_px: int, hfov_deg: float = DEFAULT_HFOV_DEG) -> CameraIntrinsics:
        """Square pixels, principal point at the image centre, focal length from the FOV."""
        if hfov_deg is None or not 1.0 <= hfov_deg <= 179.0:
            raise ValueError(f"hfov_deg must be in [1, 179], got {hfov_deg!r}")
        focal_px = (width_px / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(focal_px, focal_px, width_px / 2.0, height_px / 2.0, int(width_px), int(height_px),
                   "assumed", float(hfov_deg))

    @classmethod
    def for_clip(cls, fx: float | None, fy: float | None, cx: float | None, cy: float | None,
                 width_px: int, height_px: int, assumed_hfov_deg: float = DEFAULT_HFOV_DEG) -> CameraIntrinsics:
        """The clip's own intrinsics when all four are known, else the assumed-FOV camera."""
        known = [v for v in (fx, fy, cx, cy) if v is not None and math.isfinite(v)]
        if len(known) < 4 or fx <= 0 or fy <= 0:
            return cls.from_hfov(width_px, height_px, assumed_hfov_deg)
        hfov_deg = math.degrees(2.0 * math.atan2(width_px / 2.0, fx))
        return cls(float(fx), float(fy), float(cx), float(cy), int(width_px), int(height_px), "clip", hfov_deg)

    def matrix(self) -> npt.NDArray[np.float64]:
        """The 3x3 intrinsic matrix K."""
        return np.array([[self.fx_px, 0.0, self.cx_px], [0.0, self.fy_px, self.cy_px], [0.0, 0.0, 1.0]])

    def note(self) -> dict[str, object]:
        """JSON-able description for outputs, including a sentence saying where it came from."""
        text = ("intrinsics from the clip" if self.source == "clip" else
                f"intrinsics assumed: {self.hfov_deg:g} deg horizontal FOV, principal point at the centre")
        return {**asdict(self), "text": text}


@dataclass(frozen=True)
class CameraFit:
    """Per-hand PnP results for N hands (NaN rows where no fit was possible)."""

    kp3d_m: npt.NDArray[np.float32]  # (N, 21, 3) keypoints in the camera frame, metres
    rotation: npt.NDArray[np.float32]  # (N, 3, 3) world-landmark frame -> camera frame
    translation_m: npt.NDArray[np.float32]  # (N, 3)
    reprojection_px: npt.NDArray[np.float32]  # (N,) mean reprojection error, pixels


def compute_chirality(kp_m: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """(N,) +1 where (N, 21, 3) keypoints have a right hand's handedness, -1 a left hand's, 0 undefined.

    The sign of the palm normal (wrist→index MCP × wrist→little MCP) along the thumb's side
    (index MCP→thumb MCP); a mirror image flips it, a rotation does not. 100% consistent with the
    ground truth of the EgoDex fixtures and the synthetic demo.
    """
    points = np.asarray(kp_m, np.float64)
    normal = np.cross(points[:, INDEX_MCP] - points[:, WRIST], points[:, PINKY_MCP] - points[:, WRIST])
    return np.nan_to_num(np.sign(np.sum(normal * (points[:, THUMB_MCP] - points[:, INDEX_MCP]), axis=1)))


def match_chirality(kp_world_m: npt.NDArray[np.floating], sides: Sequence[str]
                    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """MediaPipe world keypoints with the depth flip undone where the hand's shape has the wrong side.

    From one image, a hand and its mirror image in depth project to nearly the same pixels, and
    MediaPipe's metric hand sometimes comes out mirrored (on EgoDex ~15% of frames, on flat-shaded
    renders most of them). The hand's side is known from tracking, so a hand whose shape has the
    other side's handedness is mirrored back along the world frame's depth axis (z, which faces the
    camera like the image's): its 3D shape error against EgoDex's ground truth falls from ~32 to
    ~21 mm on those frames. Returns the keypoints and which hands were flipped.
    """
    world = np.array(kp_world_m, np.float32, copy=True)
    wanted = np.array([1.0 if side == "right" else -1.0 for side in sides])
    flipped = compute_chirality(world) == -wanted
    world[flipped, :, 2] *= -1.0
    return world, flipped


def compute_camera_keypoints(kp2d_px: npt.NDArray[np.floating], kp_world_m: npt.NDArray[np.floating],
                             intrinsics: CameraIntrinsics) -> CameraFit:
    """Place hands in the camera frame by fitting R, t with `project(R @ world + t) ~ kp2d`.

    Args:
        kp2d_px: (N, 21, 2) keypoints in pixels of the original image.
        kp_world_m: (N, 21, 3) MediaPipe world keypoints (metric, hand-centred).
        intrinsics: the camera.

    Returns:
        A CameraFit; a hand with non-finite input or a solution behind the camera is all NaN.
    """
    n = kp2d_px.shape[0]
    if kp2d_px.shape[1:] != (21, 2) or kp_world_m.shape != (n, 21, 3):
        raise ValueError(f"shapes {kp2d_px.shape} / {kp_world_m.shape} are not (N,21,2) / (N,21,3)")
    fit = CameraFit(np.full((n, 21, 3), np.nan, np.float32), np.full((n, 3, 3), np.nan, np.float32),
                    np.full((n, 3), np.nan, np.float32), np.full(n, np.nan, np.float32))
    matrix = intrinsics.matrix()
    for i in range(n):
        solved = _solve_pnp(np.asarray(kp2d_px[i], np.float64), np.asarray(kp_world_m[i], np.float64), matrix)
        if solved is not None:
            fit.rotation[i], fit.translation_m[i], fit.kp3d_m[i], fit.reprojection_px[i] = solved
    return fit


def _solve_pnp(image_px: npt.NDArray[np.float64], object_m: npt.NDArray[np.float64],
               matrix: npt.NDArray[np.float64]) -> tuple | None:
    if not (np.isfinite(image_px).all() and np.isfinite(object_m).all()):
        return None
    # SQPnP is globally optimal for the algebraic cost (no initial guess, no planar-pose flip
    # ambiguity to pick wrongly); a Levenberg-Marquardt pass then minimises pixel error.
    try:
        ok, rvec, tvec = cv2.solvePnP(object_m, image_px, matrix, None, flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            return None
        rvec, tvec = cv2.solvePnPRefineLM(object_m, image_px, matrix, None, rvec, tvec)
    except cv2.error:  # degenerate input (e.g. keypoints collapsed onto one pixel): no pose
        return None
    rotation = cv2.Rodrigues(rvec)[0]
    camera_m = object_m @ rotation.T + tvec.reshape(1, 3)
    if not (camera_m[:, 2] > MIN_DEPTH_M).all():
        return None
    projected = camera_m[:, :2] / camera_m[:, 2:3] * matrix[[0, 1], [0, 1]] + matrix[:2, 2]
    error_px = float(np.linalg.norm(projected - image_px, axis=1).mean())
    return rotation, tvec.reshape(3), camera_m, error_px


def compute_wrist_pose(kp3d_m: npt.NDArray[np.floating], hand: str) -> npt.NDArray[np.float32]:
    """Wrist poses (T, 4, 4) in the keypoints' frame from (T, 21, 3) keypoints; NaN where undefined.

    Origin at the wrist keypoint; x points from the wrist to the middle-finger knuckle; y lies in
    the palm across the knuckles, towards the thumb side for a right hand and towards the little
    finger for a left one, so that z = x cross y leaves the back of the hand for both hands (the
    two frames are mirror images, as in MANO).
    """
    if hand not in ("left", "right"):
        raise ValueError(f"hand must be 'left' or 'right', got {hand!r}")
    points = np.asarray(kp3d_m, np.float64)
    x_axis = unit_vectors(points[:, MIDDLE_MCP] - points[:, WRIST])
    across = points[:, INDEX_MCP] - points[:, PINKY_MCP]
    if hand == "left":
        across = -across
    y_axis = unit_vectors(across - np.sum(across * x_axis, axis=1, keepdims=True) * x_axis)
    z_axis = np.cross(x_axis, y_axis)
    pose = np.zeros((points.shape[0], 4, 4))
    pose[:, :3, 0], pose[:, :3, 1], pose[:, :3, 2] = x_axis, y_axis, z_axis
    pose[:, :3, 3] = points[:, WRIST]
    pose[:, 3, 3] = 1.0
    return pose.astype(np.float32)


def compute_aligned_error_m(points_a_m: npt.NDArray[np.floating],
                            points_b_m: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Mean per-joint distance (T,) after rigidly aligning each frame of `a` onto `b` (Kabsch).

    Rotation and translation only, no scaling and no reflection, so a shape error of the
    estimator is not hidden. Inputs are (T, K, 3) in metres; a frame with NaN gives NaN.
    """
    a = np.asarray(points_a_m, np.float64)
    b = np.asarray(points_b_m, np.float64)
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"shapes {a.shape} and {b.shape} must be the same (T, K, 3)")
    a0 = a - a.mean(axis=1, keepdims=True)
    b0 = b - b.mean(axis=1, keepdims=True)
    errors = np.full(a.shape[0], np.nan)
    for t in np.flatnonzero(np.isfinite(a0).all(axis=(1, 2)) & np.isfinite(b0).all(axis=(1, 2))):
        u, _, vt = np.linalg.svd(a0[t].T @ b0[t])
        sign = np.sign(np.linalg.det(u @ vt)) or 1.0
        rotation = u @ np.diag([1.0, 1.0, sign]) @ vt
        errors[t] = np.linalg.norm(a0[t] @ rotation - b0[t], axis=1).mean()
    return errors
