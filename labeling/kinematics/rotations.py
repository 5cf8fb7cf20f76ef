"""Rotation encodings and unit vectors, one copy for the whole project. Pure numpy, no I/O.

The 6D rotation (Zhou et al. 2019, "On the Continuity of Rotation Representations") is what the
62-D action layout, `retargets.wrist_pose` and the synthetic demo store: the first two columns of
the rotation matrix, first column then second. Decoding re-orthonormalises by Gram-Schmidt, so a
slightly non-orthogonal (e.g. float32-rounded or network-predicted) encoding still gives a rotation.

    six = matrix_to_rot6d(rot)          # (..., 3, 3) -> (..., 6)
    rot = rot6d_to_matrix(six)          # (..., 6) -> (..., 3, 3)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Float = npt.NDArray[np.float64]
NORM_FLOOR = 1e-12  # a shorter vector is treated as this long, so a zero vector maps to zero, not NaN


def matrix_to_rot6d(rotation: npt.ArrayLike) -> Float:
    """`(..., 3, 3)` rotation matrices → `(..., 6)`: the first column, then the second."""
    m = np.asarray(rotation, dtype=np.float64)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def rot6d_to_matrix(rot6d: npt.ArrayLike) -> Float:
    """`(..., 6)` → `(..., 3, 3)` by Gram-Schmidt: columns x, y, x × y."""
    r = np.asarray(rot6d, dtype=np.float64)
    x = unit_vectors(r[..., :3], NORM_FLOOR)
    b = r[..., 3:6]
    y = unit_vectors(b - np.sum(x * b, axis=-1, keepdims=True) * x, NORM_FLOOR)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def unit_vectors(vectors: npt.ArrayLike, floor: float | None = None) -> Float:
    """`(..., 3)` vectors scaled to length 1 along the last axis.

    Args:
        vectors: any float array; the last axis is the vector.
        floor: with None, a zero-length vector gives NaN (so "undefined" stays visible, e.g. a wrist
            frame from coincident keypoints); with a number, lengths below it count as `floor`
            (a zero vector stays zero).
    """
    v = np.asarray(vectors, dtype=np.float64)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    if floor is not None:
        return v / np.maximum(norm, floor)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / norm
