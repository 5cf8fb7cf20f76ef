"""Small rigid-body and camera helpers for the synthetic demo (pure numpy).

World frame: metres, y up (the EgoDex convention); the person sits at +z looking toward -z.
Cameras are OpenCV: camera-to-world 4x4 with x right, y down, z forward, so a world point goes
to pixels by `p_cam = inv(T_c2w) @ p_world`, `u = fx * x / z + cx`, `v = fy * y / z + cy`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
WORLD_UP = np.array([0.0, 1.0, 0.0])


def rot_x(angle_rad: npt.ArrayLike) -> Array:
    """Rotations about x, `(..., 3, 3)` for angles of shape `(...)`."""
    a = np.asarray(angle_rad, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_y(angle_rad: npt.ArrayLike) -> Array:
    """Rotations about y, `(..., 3, 3)` for angles of shape `(...)`."""
    a = np.asarray(angle_rad, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rot_z(angle_rad: npt.ArrayLike) -> Array:
    """Rotations about z, `(..., 3, 3)` for angles of shape `(...)`."""
    a = np.asarray(angle_rad, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def homogeneous(rotation: Array, translation_m: Array) -> Array:
    """Stack `(..., 3, 3)` rotations and `(..., 3)` translations into `(..., 4, 4)` poses."""
    out = np.zeros(rotation.shape[:-2] + (4, 4))
    out[..., :3, :3] = rotation
    out[..., :3, 3] = translation_m
    out[..., 3, 3] = 1.0
    return out


def transform_points(pose: Array, points_m: Array) -> Array:
    """Apply `(..., 4, 4)` poses to `(..., N, 3)` points."""
    return np.einsum("...ij,...nj->...ni", pose[..., :3, :3], points_m) + pose[..., None, :3, 3]


def look_at_c2w(eye_m: Array, target_m: Array) -> Array:
    """OpenCV camera-to-world poses `(T, 4, 4)` looking from `eye_m (T, 3)` at `target_m (T, 3)`."""
    forward = target_m - eye_m
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    right = np.cross(forward, WORLD_UP)
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(forward, right)
    return homogeneous(np.stack([right, down, forward], axis=-1), eye_m)


def intrinsic_matrix(width: int, height: int, hfov_deg: float) -> Array:
    """Pinhole intrinsics `(3, 3)` with square pixels and the principal point at the centre."""
    focal_px = 0.5 * width / np.tan(np.radians(hfov_deg) / 2.0)
    return np.array([[focal_px, 0.0, width / 2.0], [0.0, focal_px, height / 2.0], [0.0, 0.0, 1.0]])


def project(points_world_m: Array, cam_to_world: Array, intrinsic: Array) -> tuple[Array, Array]:
    """Project `(N, 3)` world points with one camera: pixels `(N, 2)` and depths `(N,)` in metres."""
    world_to_cam = np.linalg.inv(cam_to_world)
    cam = points_world_m @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    depth = cam[:, 2]
    safe = np.where(depth > 1e-6, depth, 1e-6)
    uv = cam[:, :2] / safe[:, None] * np.diag(intrinsic)[:2] + intrinsic[:2, 2]
    return uv, depth


def min_jerk(s: npt.ArrayLike) -> Array:
    """Minimum-jerk ease 10s³ − 15s⁴ + 6s⁵ of a phase clipped to [0, 1]."""
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


def interpolate_keys(times: Array, keys_t: Array, keys_v: Array) -> Array:
    """Minimum-jerk interpolation between keyframes.

    Args:
        times: `(T,)` query times; clamped to the first/last key.
        keys_t: `(K,)` increasing key times.
        keys_v: `(K, D)` key values.

    Returns:
        `(T, D)` values; velocity is zero at every key, like a sequence of reaching movements.
    """
    idx = np.clip(np.searchsorted(keys_t, times, side="right") - 1, 0, len(keys_t) - 2)
    span = np.maximum(keys_t[idx + 1] - keys_t[idx], 1e-9)
    ease = min_jerk((times - keys_t[idx]) / span)[:, None]
    return keys_v[idx] + ease * (keys_v[idx + 1] - keys_v[idx])
