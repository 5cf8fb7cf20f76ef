"""Draw the two hands (and forearms) of one frame into an RGB image with OpenCV.

Bones are capsules whose pixel radius follows the depth; every primitive is drawn outline first,
then filled, far to near, so fingers crossing the palm keep a visible edge. Human hands are
skin-toned (the left a shade darker than the right), robot hands grey with dark joints.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from labeling.pose.hand21 import FINGER_BONES

from .tasks import TABLE_Y_M

Array = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]
RGB = tuple[int, int, int]
SHIFT = 4  # OpenCV fixed-point bits: sub-pixel positions for smooth motion
SCALE = float(1 << SHIFT)

# Radius (m) of each finger bone drawn, in `hand21.FINGER_BONES` order (thumb, index, ..., pinky; palm outward).
FINGER_BONE_RADII_M = (
    0.0125, 0.0105, 0.0095,
    0.0098, 0.0088, 0.0080,
    0.0100, 0.0090, 0.0082,
    0.0095, 0.0086, 0.0078,
    0.0085, 0.0076, 0.0070,
)
_BONE_A = np.array([a for a, _ in FINGER_BONES])
_BONE_B = np.array([b for _, b in FINGER_BONES])
_BONE_R = np.array(FINGER_BONE_RADII_M)
PALM = (0, 1, 2, 5, 9, 13, 17)
WRIST_RADIUS_M = 0.024
BARE_FOREARM_M = 0.12  # skin between the wrist and the rolled-up sleeve
# Where the forearms point: elbows near the table edge in front of the body, (left, right), world.
ELBOWS_M = (np.array([-0.27, TABLE_Y_M + 0.03, 0.12]), np.array([0.27, TABLE_Y_M + 0.03, 0.12]))


@dataclass(frozen=True)
class HandStyle:
    """Colours of a pair of hands."""

    fill_rgb: tuple[RGB, RGB]  # left, right
    outline_rgb: tuple[RGB, RGB]
    joint_rgb: RGB | None  # disc at each finger joint (robot); None for skin
    forearm_rgb: RGB | None  # None: skin up to the sleeve
    outline_px: float = 1.2


HUMAN = HandStyle(fill_rgb=((222, 168, 148), (238, 186, 164)), outline_rgb=((150, 100, 84), (165, 112, 94)),
                  joint_rgb=None, forearm_rgb=None)
ROBOT = HandStyle(fill_rgb=((168, 172, 180), (168, 172, 180)), outline_rgb=((70, 72, 80), (70, 72, 80)),
                  joint_rgb=(60, 62, 70), forearm_rgb=(95, 98, 108))


@dataclass(frozen=True)
class Capsule:
    """A projected capsule: two pixel centres, pixel radii, mean depth."""

    a_px: Array
    b_px: Array
    radius_px: float
    depth_m: float
    fill_rgb: RGB
    outline_rgb: RGB


def draw_hands(image: Image, keypoints_m: Array, wrist_pose: Array, world_to_cam: Array, intrinsic: Array,
               style: HandStyle, sleeve_rgb: RGB) -> None:
    """Draw both hands in place.

    Args:
        image: `(H, W, 3)` RGB, modified.
        keypoints_m: `(2, 21, 3)` world keypoints, (left, right).
        wrist_pose: `(2, 4, 4)` world wrist poses.
        world_to_cam: `(4, 4)` OpenCV world-to-camera.
        intrinsic: `(3, 3)`.
        style: colours.
        sleeve_rgb: shirt sleeve colour of a human forearm.
    """
    order = np.argsort([-_depth(keypoints_m[h, 0], world_to_cam) for h in range(2)])
    for h in order:
        if not np.isfinite(keypoints_m[h]).all():
            continue
        _draw_forearm(image, wrist_pose[h], world_to_cam, intrinsic, style, h, sleeve_rgb)
        cam = keypoints_m[h] @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
        if (cam[:, 2] < 0.05).any():
            continue
        px = cam[:, :2] / cam[:, 2:3] * np.diag(intrinsic)[:2] + intrinsic[:2, 2]
        focal = float(intrinsic[0, 0])
        _draw_palm(image, px, cam, focal, style, h)
        _draw_fingers(image, px, cam[:, 2], focal, style, h)


def _draw_fingers(image: Image, px: Array, depth_m: Array, focal: float, style: HandStyle, h: int) -> None:
    """Draw fingers far to near, each outlined as a whole and then filled.

    One silhouette per finger: a short, foreshortened segment is never hidden by its neighbour's rim.
    """
    mid_depth = 0.5 * (depth_m[_BONE_A] + depth_m[_BONE_B])
    radius_px = focal * _BONE_R / mid_depth
    points = [tuple(p) for p in np.round(np.clip(px, -1e4, 1e4) * SCALE).astype(np.int64).tolist()]
    fill, outline = style.fill_rgb[h], style.outline_rgb[h]
    finger_depth = mid_depth.reshape(5, 3).mean(axis=1)
    for finger in np.argsort(-finger_depth).tolist():
        bones = range(3 * finger, 3 * finger + 3)
        for rgb, grow in ((outline, style.outline_px), (fill, 0.0)):
            for k in bones:
                thickness = max(1, round(2 * (float(radius_px[k]) + grow)))
                cv2.line(image, points[_BONE_A[k]], points[_BONE_B[k]], rgb, thickness, cv2.LINE_AA, SHIFT)
        if style.joint_rgb is not None:
            for k in bones:
                cv2.circle(image, points[_BONE_A[k]], max(1, int(0.55 * radius_px[k] * SCALE)), style.joint_rgb,
                           -1, cv2.LINE_AA, SHIFT)


def draw_capsule(image: Image, capsule: Capsule, outline_px: float) -> None:
    """Outline then fill a capsule (round caps)."""
    a, b = _fixed(capsule.a_px), _fixed(capsule.b_px)
    for rgb, radius in ((capsule.outline_rgb, capsule.radius_px + outline_px), (capsule.fill_rgb, capsule.radius_px)):
        # OpenCV draws thick lines with round ends: one call is a capsule.
        cv2.line(image, a, b, rgb, max(1, round(2 * radius)), cv2.LINE_AA, SHIFT)


def _draw_palm(image: Image, px: Array, cam: Array, focal: float, style: HandStyle, h: int) -> None:
    hull = cv2.convexHull(np.round(px[list(PALM)] * SCALE).astype(np.int32))
    outline = max(1, round(2 * style.outline_px))
    cv2.fillConvexPoly(image, hull, style.fill_rgb[h], cv2.LINE_AA, SHIFT)
    cv2.polylines(image, [hull], True, style.outline_rgb[h], outline, cv2.LINE_AA, SHIFT)
    wrist_px = focal * WRIST_RADIUS_M / cam[0, 2]
    _disc(image, px[0], wrist_px, style.fill_rgb[h])


def _draw_forearm(image: Image, wrist: Array, world_to_cam: Array, intrinsic: Array, style: HandStyle,
                  h: int, sleeve_rgb: RGB) -> None:
    """Forearm from the wrist to the elbow near the body; bare skin first, then the sleeve."""
    toward = ELBOWS_M[h] - wrist[:3, 3]
    unit = toward / (np.linalg.norm(toward) + 1e-9)
    sleeve_start = wrist[:3, 3] + BARE_FOREARM_M * unit
    points = np.stack([ELBOWS_M[h] + 0.1 * unit, sleeve_start, wrist[:3, 3]])
    cam = points @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    if (cam[:, 2] < 0.05).any():
        return
    px = cam[:, :2] / cam[:, 2:3] * np.diag(intrinsic)[:2] + intrinsic[:2, 2]
    focal = float(intrinsic[0, 0])
    skin = style.forearm_rgb or style.fill_rgb[h]
    sleeve = style.forearm_rgb or sleeve_rgb
    dark = tuple(int(c * 0.6) for c in sleeve)
    draw_capsule(image, Capsule(px[1], px[2], focal * 0.027 / cam[1:, 2].mean(), 0.0, skin,
                                style.outline_rgb[h]), style.outline_px)
    draw_capsule(image, Capsule(px[0], px[1], focal * 0.036 / cam[:2, 2].mean(), 0.0, sleeve,
                                dark), style.outline_px)  # type: ignore[arg-type]


def _disc(image: Image, centre_px: Array, radius_px: float, rgb: RGB) -> None:
    cv2.circle(image, _fixed(centre_px), max(1, int(radius_px * SCALE)), rgb, -1, cv2.LINE_AA, SHIFT)


def _fixed(point_px: Array) -> tuple[int, int]:
    """Clamp to a safe range (OpenCV draws int32 fixed-point) and convert."""
    x, y = np.clip(point_px, -1e4, 1e4) * SCALE
    return int(round(x)), int(round(y))


def _depth(point_m: Array, world_to_cam: Array) -> float:
    return float(world_to_cam[2, :3] @ point_m + world_to_cam[2, 3])
