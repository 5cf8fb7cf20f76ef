"""Render a synthetic egocentric tabletop frame: wooden table, props, soft shadows, two hands.

    renderer = SceneRenderer(width, height, intrinsic, seed)
    rgb = renderer.frame(motion, t, scene.props, HUMAN, scene.sleeve_rgb)

The table is a procedurally grained texture warped onto the plane y = TABLE_Y_M by the frame's
homography, so it moves consistently with the head camera. Props are flat-shaded boxes and
cylinders drawn far to near; hands are drawn last (they are always above the table).
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import numpy.typing as npt

from .geometry import transform_points
from .hand_drawing import SCALE, SHIFT, HandStyle, draw_hands
from .motions import ClipMotion
from .tasks import TABLE_Y_M, Prop

Array = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]
TABLE_X_M = (-0.75, 0.75)  # table extent, world x
TABLE_Z_M = (-0.95, 0.15)  # table extent, world z (the person sits at +z)
TEXTURE_M_PER_PX = 0.002
SHADOW_DEPTH = 0.38  # fraction of light a full shadow takes away
LIGHT = np.array([-0.35, 1.0, 0.45]) / np.linalg.norm([-0.35, 1.0, 0.45])
BOX_FACES = ((0, 1, 2, 3), (4, 7, 6, 5), (0, 4, 5, 1), (1, 5, 6, 2), (2, 6, 7, 3), (3, 7, 4, 0))


class SceneRenderer:
    """Draws frames of one camera size; the table texture is built once per seed."""

    def __init__(self, width: int, height: int, intrinsic: Array, seed: int) -> None:
        self.width, self.height, self.intrinsic = width, height, np.asarray(intrinsic, dtype=np.float64)
        rng = np.random.default_rng(seed)
        self.texture = _wood_texture(rng)
        self.background = _background(width, height)

    def frame(self, motion: ClipMotion, index: int, props: tuple[Prop, ...], style: HandStyle,
              sleeve_rgb: tuple[int, int, int]) -> Image:
        """RGB `(H, W, 3)` image of frame `index` of `motion`."""
        world_to_cam = np.linalg.inv(motion.camera_c2w[index])
        image = self._table(world_to_cam)
        keypoints = motion.keypoints_world_m[index]
        self._shadows(image, world_to_cam, keypoints, motion.prop_pose[index], props)
        cam_pos = motion.camera_c2w[index, :3, 3]
        order = np.argsort([-np.linalg.norm(motion.prop_pose[index, p, :3, 3] - cam_pos) for p in range(len(props))])
        for p in order:
            self._prop(image, props[p], motion.prop_pose[index, p], world_to_cam, cam_pos)
        draw_hands(image, keypoints, motion.wrist_pose[index], world_to_cam, self.intrinsic, style, sleeve_rgb)
        return image

    def frames(self, motion: ClipMotion, props: tuple[Prop, ...], style: HandStyle,
               sleeve_rgb: tuple[int, int, int]) -> Iterator[Image]:
        """Every frame of `motion`, in order."""
        for index in range(len(motion.t_s)):
            yield self.frame(motion, index, props, style, sleeve_rgb)

    def _project(self, points_m: Array, world_to_cam: Array) -> tuple[Array, Array]:
        cam = points_m @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
        depth = np.maximum(cam[:, 2], 1e-3)
        return cam[:, :2] / depth[:, None] * np.diag(self.intrinsic)[:2] + self.intrinsic[:2, 2], depth

    def _table(self, world_to_cam: Array) -> Image:
        """Warp the table texture onto the image (texture pixel → table point → camera)."""
        rotation, translation = world_to_cam[:3, :3], world_to_cam[:3, 3]
        origin = np.array([TABLE_X_M[0], TABLE_Y_M, TABLE_Z_M[0]])
        plane_to_cam = np.stack([rotation[:, 0] * TEXTURE_M_PER_PX, rotation[:, 2] * TEXTURE_M_PER_PX,
                                 rotation @ origin + translation], axis=1)
        homography = self.intrinsic @ plane_to_cam
        image = self.background.copy()
        cv2.warpPerspective(self.texture, homography, (self.width, self.height), dst=image,
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
        return image

    def _shadows(self, image: Image, world_to_cam: Array, keypoints_m: Array, prop_pose: Array,
                 props: tuple[Prop, ...]) -> None:
        """Darken the table under the hands and props (light straight above, blurred)."""
        mask = np.zeros(image.shape[:2], np.uint8)
        focal = self.intrinsic[0, 0]
        for hand in keypoints_m:
            if not np.isfinite(hand).all():
                continue
            drop = hand.copy()
            drop[:, 1] = TABLE_Y_M
            drop[:, 0] += 0.25 * (hand[:, 1] - TABLE_Y_M)  # light slightly from the left
            px, depth = self._project(drop, world_to_cam)
            hull = cv2.convexHull(np.round(px[[0, 1, 2, 5, 9, 13, 17]] * SCALE).astype(np.int32))
            cv2.fillConvexPoly(mask, hull, 255, cv2.LINE_AA, SHIFT)
            for a, b in ((2, 4), (5, 8), (9, 12), (13, 16), (17, 20)):
                thickness = max(1, int(focal * 0.018 / depth[a]))
                cv2.line(mask, _fixed(px[a]), _fixed(px[b]), 255, thickness, cv2.LINE_AA, SHIFT)
        for prop, pose in zip(props, prop_pose, strict=True):
            radius = max(prop.size_m[0], prop.size_m[2]) * 0.6 if prop.shape in ("box",) else prop.size_m[0]
            if prop.shape == "drawer":
                continue
            centre = pose[:3, 3] * np.array([1.0, 0.0, 1.0]) + np.array([0.0, TABLE_Y_M, 0.0])
            ring = centre + radius * 1.1 * np.stack([np.cos(_ANGLES), 0 * _ANGLES, np.sin(_ANGLES)], 1)
            px, _ = self._project(ring, world_to_cam)
            cv2.fillConvexPoly(mask, np.round(px * SCALE).astype(np.int32), 200, cv2.LINE_AA, SHIFT)
        blur = max(3, int(self.width / 40) | 1)
        light = 255 - (cv2.GaussianBlur(mask, (blur, blur), 0) * SHADOW_DEPTH).astype(np.uint8)
        cv2.multiply(image, cv2.cvtColor(light, cv2.COLOR_GRAY2RGB), dst=image, scale=1.0 / 255.0)

    def _prop(self, image: Image, prop: Prop, pose: Array, world_to_cam: Array, cam_pos: Array) -> None:
        if prop.shape == "box":
            self._box(image, pose, prop.size_m, prop.color_rgb, world_to_cam, cam_pos)
        elif prop.shape == "drawer":
            self._drawer(image, prop, pose, world_to_cam, cam_pos)
        else:
            self._cylinder(image, prop, pose, world_to_cam, cam_pos)

    def _box(self, image: Image, pose: Array, size_m: tuple[float, float, float], rgb: tuple[int, int, int],
             world_to_cam: Array, cam_pos: Array) -> None:
        """Visible faces of a box (bottom-centred at `pose`), shaded by the light, far to near."""
        w, h, d = size_m
        local = np.array([[x, y, z] for y in (0.0, h) for x, z in ((-w, -d), (w, -d), (w, d), (-w, d))])
        local[:, [0, 2]] /= 2.0
        corners = transform_points(pose, local)
        px, depth = self._project(corners, world_to_cam)
        centre = corners.mean(axis=0)
        faces = []
        for face in BOX_FACES:
            mid = corners[list(face)].mean(axis=0)
            normal = mid - centre
            normal /= np.linalg.norm(normal) + 1e-12
            if normal @ (cam_pos - mid) > 0:
                faces.append((float(depth[list(face)].mean()), face, float(normal @ LIGHT)))
        for _, face, lit in sorted(faces, reverse=True):
            shade = np.clip(np.asarray(rgb) * (0.55 + 0.45 * max(lit, 0.0)), 0, 255)
            poly = np.round(px[list(face)] * SCALE).astype(np.int32)
            cv2.fillConvexPoly(image, poly, shade.tolist(), cv2.LINE_AA, SHIFT)
            cv2.polylines(image, [poly], True, (shade * 0.6).tolist(), 1, cv2.LINE_AA, SHIFT)

    def _cylinder(self, image: Image, prop: Prop, pose: Array, world_to_cam: Array, cam_pos: Array) -> None:
        """Side as the hull of both rims, then the top cap; cups and bowls show a darker inside."""
        radius, height = prop.size_m[0], prop.size_m[1]
        rim = np.stack([np.cos(_ANGLES), np.zeros_like(_ANGLES), np.sin(_ANGLES)], 1) * radius
        bottom, top = transform_points(pose, rim), transform_points(pose, rim + [0.0, height, 0.0])
        px, _ = self._project(np.concatenate([bottom, top]), world_to_cam)
        rgb = np.asarray(prop.color_rgb, dtype=np.float64)
        hull = cv2.convexHull(np.round(px * SCALE).astype(np.int32))
        cv2.fillConvexPoly(image, hull, (rgb * 0.72).tolist(), cv2.LINE_AA, SHIFT)
        cv2.polylines(image, [hull], True, (rgb * 0.45).tolist(), 1, cv2.LINE_AA, SHIFT)
        up = pose[:3, 1]
        if up @ (cam_pos - top.mean(axis=0)) <= 0:
            return
        cap = np.round(px[len(_ANGLES):] * SCALE).astype(np.int32)
        cv2.fillConvexPoly(image, cap, np.clip(rgb * 1.05, 0, 255).tolist(), cv2.LINE_AA, SHIFT)
        if prop.shape in ("cup", "bowl"):
            inner = transform_points(pose, rim * 0.82 + [0.0, height, 0.0])
            inner_px, _ = self._project(inner, world_to_cam)
            inside = (rgb * 0.55 + np.array([10.0, 20.0, 40.0]) * (prop.shape == "cup")).clip(0, 255)
            cv2.fillConvexPoly(image, np.round(inner_px * SCALE).astype(np.int32), inside.tolist(),
                               cv2.LINE_AA, SHIFT)

    def _drawer(self, image: Image, prop: Prop, pose: Array, world_to_cam: Array, cam_pos: Array) -> None:
        """The part of a drawer that is out of its cabinet, plus its handle."""
        closed = np.asarray(prop.position_m)
        out_m = max(float((pose[:3, 3] - closed) @ pose[:3, 2]), 0.004)
        width, height = prop.size_m[0], prop.size_m[1]
        body = pose.copy()
        body[:3, 3] = closed + pose[:3, 2] * (out_m / 2.0) + pose[:3, 1] * (pose[1, 3] - closed[1])
        self._box(image, body, (width, height, out_m), prop.color_rgb, world_to_cam, cam_pos)
        handle = pose.copy()
        handle[:3, 3] = body[:3, 3] + pose[:3, 2] * (out_m / 2.0 + 0.008) + pose[:3, 1] * (0.6 * height)
        dark = tuple(int(c * 0.45) for c in prop.color_rgb)
        self._box(image, handle, (0.08, 0.012, 0.016), dark, world_to_cam, cam_pos)


_ANGLES = np.linspace(0.0, 2 * np.pi, 28, endpoint=False)


def _fixed(point_px: Array) -> tuple[int, int]:
    x, y = np.clip(point_px, -1e4, 1e4) * SCALE
    return int(round(x)), int(round(y))


def _wood_texture(rng: np.random.Generator) -> Image:
    """Light oak planks running across the table, `(rows=z, cols=x, 3)` RGB."""
    cols = int((TABLE_X_M[1] - TABLE_X_M[0]) / TEXTURE_M_PER_PX)
    rows = int((TABLE_Z_M[1] - TABLE_Z_M[0]) / TEXTURE_M_PER_PX)
    x = np.arange(cols)[None, :] * TEXTURE_M_PER_PX
    z = np.arange(rows)[:, None] * TEXTURE_M_PER_PX
    plank_m = 0.14
    plank = np.floor(z / plank_m)
    phase = rng.uniform(0, 2 * np.pi, size=64)[plank.astype(int) % 64]
    grain = np.sin(2 * np.pi * (z * 32.0 + 0.8 * np.sin(2 * np.pi * x * 1.1 + phase) + 0.15 * np.sin(x * 23.0)))
    blotch = cv2.resize(rng.normal(0, 1, size=(12, 16)).astype(np.float32), (cols, rows),
                        interpolation=cv2.INTER_CUBIC)
    tone = 0.88 + 0.045 * grain + 0.04 * blotch + 0.05 * np.cos(phase)
    seam = np.abs(z / plank_m - np.round(z / plank_m)) * plank_m < 0.0015
    tone = np.where(seam, 0.55, tone)
    base = np.array([186.0, 140.0, 92.0])
    return np.clip(tone[..., None] * base, 0, 255).astype(np.uint8)


def _background(width: int, height: int) -> Image:
    """What is beyond the table: a pale wall, darker toward the bottom."""
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top, bottom = np.array([200.0, 204.0, 210.0]), np.array([120.0, 122.0, 130.0])
    image = (top * (1 - ramp) + bottom * ramp) * np.ones((1, width, 1), np.float32)
    return image.astype(np.uint8)
