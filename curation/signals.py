"""Pure array helpers behind the quality metrics: gaps, smoothing residuals, derivatives, bones, chirality.

Shapes: keypoints `(T, 21, 3)` metres (or `(T, 21, 2)` pixels), `present (T,)`, per-frame series
`(T,)`. Absent frames are NaN, so every derived quantity that touches one is NaN too, and all
summaries ignore NaN. Spans are `(first, last)` row indices, inclusive.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import savgol_coeffs

from labeling.pose.hand21 import INDEX_MCP, PARENT, PINKY_MCP, THUMB_CMC, THUMB_MCP, WRIST

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Span = tuple[int, int]


def true_runs(mask: BoolArray) -> list[Span]:
    """Inclusive `(first, last)` index runs where `mask (T,)` is true."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def interior_gaps(present: BoolArray) -> list[Span]:
    """Runs of absent frames with the hand present both before and after (tracking dropouts).

    A hand that enters the view late or leaves early is not a dropout; a hole in the middle is.
    """
    last = len(present) - 1
    return [(a, b) for a, b in true_runs(~np.asarray(present, bool)) if a > 0 and b < last]


def masked(points: FloatArray, present: BoolArray) -> FloatArray:
    """`points (T, K, D)` as float64 with absent frames set to NaN."""
    out = np.array(points, dtype=np.float64, copy=True)
    out[~np.asarray(present, bool)] = np.nan
    return out


def smoothing_residual(points_m: FloatArray, window: int, polyorder: int) -> FloatArray:
    """Per-frame RMS over keypoints of `points - savgol(points)`, `(T,)`, NaN where undefined.

    A cubic Savitzky-Golay fit follows real hand motion at 30 fps closely, so what is left is the
    high-frequency part: tracking jitter. Frames whose window touches a gap or an edge are NaN.
    """
    coeffs = savgol_coeffs(window, polyorder)
    n = points_m.shape[0]
    out = np.full(n, np.nan)
    if n < window:
        return out
    flat = points_m.reshape(n, -1)
    # `valid` correlation: row i is the fit at frame i + window // 2.
    view = np.lib.stride_tricks.sliding_window_view(flat, window, axis=0)
    smooth = view @ coeffs[::-1]
    half = window // 2
    residual = (flat[half:n - half] - smooth).reshape(n - 2 * half, points_m.shape[1], -1)
    out[half:n - half] = np.sqrt(np.mean(np.sum(residual**2, axis=-1), axis=-1))
    return out


def worst_window_rms(values: FloatArray, window: int) -> tuple[float, Span | None]:
    """The largest RMS of `values (T,)` over `window` consecutive frames, and that window.

    Windows need at least half their frames finite, so a single stray frame cannot dominate.
    """
    finite = np.isfinite(values)
    if finite.sum() == 0:
        return float("nan"), None
    window = max(1, min(window, int(finite.sum())))
    squares = np.where(finite, values, 0.0) ** 2
    sums = np.convolve(squares, np.ones(window), "valid")
    counts = np.convolve(finite.astype(float), np.ones(window), "valid")
    rms = np.where(counts >= max(1, window // 2), np.sqrt(sums / np.maximum(counts, 1)), np.nan)
    if not np.isfinite(rms).any():
        return float(np.sqrt(np.nanmean(values**2))), (0, len(values) - 1)
    start = int(np.nanargmax(rms))
    return float(rms[start]), (start, start + window - 1)


def nanmean_rows(values: FloatArray) -> FloatArray:
    """Mean of each row of `values (T, K)` over its finite entries; NaN for a row with none (no warning)."""
    finite = np.isfinite(values)
    counts = finite.sum(axis=1)
    sums = np.where(finite, values, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def derivative_norms(points_m: FloatArray, dt_s: float, order: int) -> FloatArray:
    """`(T - order, K)` norms of the `order`-th finite difference of `points (T, K, 3)` per second**order."""
    return np.linalg.norm(np.diff(points_m, n=order, axis=0), axis=-1) / dt_s**order


def bone_lengths_m(points_m: FloatArray) -> FloatArray:
    """`(T, 20)` lengths of the 20 hand bones."""
    parents = np.asarray(PARENT[1:])
    return np.linalg.norm(points_m[:, 1:] - points_m[:, parents], axis=-1)


def bone_deviation(points_m: FloatArray) -> tuple[float, FloatArray]:
    """Mean coefficient of variation of the bone lengths, and the per-frame relative deviation `(T,)`.

    A rigid hand keeps its bone lengths: ground truth varies by < 0.1 %, noisy tracking by 10 %+.
    """
    lengths = bone_lengths_m(points_m)
    if np.isfinite(lengths).all(axis=1).sum() < 2:
        return float("nan"), np.full(len(points_m), np.nan)
    median = np.nanmedian(lengths, axis=0)
    cv = np.nanstd(lengths, axis=0) / np.maximum(median, 1e-6)
    per_frame = nanmean_rows(np.abs(lengths - median) / np.maximum(median, 1e-6))
    return float(np.nanmean(cv)), per_frame


def chirality(points_m: FloatArray) -> FloatArray:
    """`(T,)` signed distance (m) of the thumb base from the palm plane (wrist, index MCP, pinky MCP).

    The sign tells a left hand (< 0) from a right one (> 0) in a right-handed camera frame, whatever
    the pose: the thumb sits on a fixed side of the palm. On EgoDex ground truth the margin is
    1-5 cm and the sign never flips, so a hand whose sign disagrees with its label was swapped.
    """
    a = points_m[:, INDEX_MCP] - points_m[:, WRIST]
    b = points_m[:, PINKY_MCP] - points_m[:, WRIST]
    normal = np.cross(a, b)
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)
    thumb = 0.5 * (points_m[:, THUMB_CMC] + points_m[:, THUMB_MCP]) - points_m[:, WRIST]
    return np.einsum("ij,ij->i", normal, thumb)


def robust_span(values: FloatArray, k: float, floor: float) -> Span | None:
    """First to last frame whose value exceeds `max(median + k * MAD, floor)`, or None."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    median = float(np.median(finite))
    mad = float(np.median(np.abs(finite - median)))
    above = np.flatnonzero(np.nan_to_num(values, nan=-np.inf) > max(median + k * 1.4826 * mad, floor))
    return (int(above[0]), int(above[-1])) if above.size else None


def span_of(indices: npt.NDArray[np.int64]) -> Span | None:
    """`(first, last)` of a set of row indices, or None when empty."""
    return (int(indices.min()), int(indices.max())) if indices.size else None
