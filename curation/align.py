"""Dynamic time warping of a human clip against a robot episode, with a band and subsequence matching.

The DTW runs in dtaidistance's C code: `dtw_ndim.warping_path` inside a Sakoe-Chiba band for the
aligned path, and the full accumulated cost matrix with both human ends relaxed (dtaidistance's
`psi`) for subsequence matching, so a robot episode may match any stretch of a longer human clip
(only that pass's O(T) traceback runs in Python).

`align_states` works in two passes because the wrist features are relative to a start frame:
1. joint angles only (absolute, comparable from any start), open begin/end on the human side:
   finds the human frames `[start, end]` that the robot episode matches;
2. joint angles plus start-relative wrist positions on that stretch, both ends fixed: the path
   and the cost that are stored.

    alignment = align_states(human_state_62, robot_state_62, AlignConfig())
    alignment.path      # (K, 2) [human_frame, robot_frame], monotone
    alignment.cost      # RMS distance per feature and path step: rad per joint

`align_sequences` runs the same two passes on any layout given its feature function: a robot's own
hand space (`curation.hand_space`) uses it with the spec's joints and wrists.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .action_layout import STATE_WIDTH, alignment_features

Float = npt.NDArray[np.float64]
Path = npt.NDArray[np.int64]
FeatureFn = Callable[[Float, bool, "AlignConfig"], Float]  # (sequence, joints_only, cfg) -> (T, F) DTW features


@dataclass(frozen=True)
class AlignConfig:
    """How a human clip is aligned to a robot episode."""

    band_frac: float = 0.3  # Sakoe-Chiba band half-width, as a fraction of the longer sequence
    min_band_samples: int = 8  # the band is never narrower than this many samples
    subsequence: bool = True  # the robot episode may match part of the human clip (open human ends)
    max_samples: int = 400  # longer sequences are strided down to this many samples (memory is r x c)
    wrist_weight_per_m: float = 5.0  # feature units per metre of relative wrist motion (joints are rad)

    def __post_init__(self) -> None:
        """Check ranges; errors name the field."""
        if not 0.0 < self.band_frac <= 1.0:
            raise ValueError(f"AlignConfig.band_frac must be in (0, 1], got {self.band_frac}")
        if self.min_band_samples < 1:
            raise ValueError(f"AlignConfig.min_band_samples must be >= 1, got {self.min_band_samples}")
        if self.max_samples < 8:
            raise ValueError(f"AlignConfig.max_samples must be >= 8, got {self.max_samples}")
        if self.wrist_weight_per_m < 0:
            raise ValueError(f"AlignConfig.wrist_weight_per_m must be >= 0, got {self.wrist_weight_per_m}")


@dataclass(frozen=True)
class Alignment:
    """A warping path between a human clip and a robot episode."""

    path: Path  # (K, 2) int64 [human_frame, robot_frame], both non-decreasing
    cost: float  # RMS distance per feature and path step (rad per joint), lower is better; see `align_sequences`
    human_start: int  # first human frame matched
    human_end: int  # last human frame matched (inclusive)

    def as_pairs(self) -> list[list[int]]:
        """JSON-able `[[human_frame, robot_frame], ...]` (what `pairs.path` stores)."""
        return self.path.tolist()


def band_samples(n_a: int, n_b: int, cfg: AlignConfig) -> int:
    """Band half-width in samples for sequences of `n_a` and `n_b` samples."""
    return max(cfg.min_band_samples, math.ceil(cfg.band_frac * max(n_a, n_b)))


def dtw_path(query: npt.ArrayLike, series: npt.ArrayLike, window: int | None,
             open_series_ends: bool) -> tuple[Path, float]:
    """DTW of `query (n, D)` against `series (m, D)` (dtaidistance, C).

    Returns the path `(K, 2)` as `[query_index, series_index]` and the summed squared Euclidean
    distance along it. `window` is the band half-width around both diagonals (None: no band). With
    `open_series_ends` the path may start and end anywhere in `series` (subsequence matching); that
    takes no band (see `locate_subsequence`).
    """
    from dtaidistance import dtw, dtw_ndim  # C extension, loaded on first use

    q = np.ascontiguousarray(query, dtype=np.double)
    s = np.ascontiguousarray(series, dtype=np.double)
    if q.ndim == 1:
        q, s = q[:, None], s[:, None]
    if not open_series_ends:
        path, distance = dtw_ndim.warping_path(q, s, window=window, include_distance=True, use_c=True)
        if not np.isfinite(distance):
            raise ValueError(f"no warping path inside a band of {window} samples for lengths {len(q)} and {len(s)}")
        return np.asarray(path, dtype=np.int64), float(distance) ** 2
    if window is not None:
        # dtaidistance 2.5.1's full C matrix is shifted by a column in some rows when a window is
        # set (checked against its Python version); without one it matches exactly.
        raise ValueError("subsequence matching takes no band")
    _, acc = dtw_ndim.warping_paths_fast(q, s, psi=(0, 0, len(s), len(s)), psi_neg=False)
    # Pick the open end ourselves: dtaidistance's psi end marking trips its own best_path.
    end = int(np.argmin(acc[-1, 1:])) + 1
    path = np.asarray(dtw.best_path(acc, row=acc.shape[0] - 1, col=end), dtype=np.int64)
    return path, float(acc[-1, end]) ** 2  # acc holds the square root of the summed squares


def _stride(n_frames: int, cfg: AlignConfig) -> int:
    return max(1, math.ceil(n_frames / cfg.max_samples))


def _to_frames(path: Path, stride_q: int, stride_s: int, n_q: int, n_s: int) -> Path:
    """Strided sample indices back to frame indices (clipped to the last frame)."""
    frames = path * np.array([stride_q, stride_s])
    return np.minimum(frames, [n_q - 1, n_s - 1])


def joint_and_wrist_features(state: npt.ArrayLike, joints_only: bool, cfg: AlignConfig) -> Float:
    """The 62-D layout's DTW features (`action_layout.alignment_features`) under `cfg`'s wrist weight."""
    return alignment_features(state, 0.0 if joints_only else cfg.wrist_weight_per_m, joints_only=joints_only)


def align_states(human_state: npt.ArrayLike, robot_state: npt.ArrayLike, cfg: AlignConfig = AlignConfig()
                 ) -> Alignment:
    """Align a human clip `(Th, 62)` to a robot episode `(Tr, 62)`, both in the 62-D layout.

    Wrist poses may be in any fixed frame (camera for humans, world for robots): only their
    motion relative to the matched start is compared.
    """
    human, robot = np.asarray(human_state, np.float64), np.asarray(robot_state, np.float64)
    for name, state in (("human", human), ("robot", robot)):
        if state.ndim != 2 or state.shape[1] != STATE_WIDTH or len(state) < 2:
            raise ValueError(f"{name} state must be (T >= 2, {STATE_WIDTH}), got {state.shape}")
    return align_sequences(human, robot, joint_and_wrist_features, cfg)


def align_sequences(human: Float, robot: Float, features: FeatureFn, cfg: AlignConfig = AlignConfig()) -> Alignment:
    """Align two `(T, D)` sequences of one layout, whose DTW features `features(segment, joints_only, cfg)` gives.

    `joints_only` features must compare from any start (absolute joint angles); the full features
    may be relative to the segment's first row (wrist motion). The cost is the RMS distance per
    feature and path step, so a hand of 6 joints and one of 44 that are both off by 0.1 rad on every
    joint cost the same 0.1 (a sum over the features would grow with the square root of their count).
    """
    start, end = 0, len(human) - 1
    if cfg.subsequence:
        start, end = locate_subsequence(human, robot, cfg, features)
    segment = human[start:end + 1]
    sh, sr = _stride(len(segment), cfg), _stride(len(robot), cfg)
    fh = features(segment, False, cfg)[::sh]
    fr = features(robot, False, cfg)[::sr]
    path, squared = dtw_path(fr, fh, band_samples(len(fr), len(fh), cfg), open_series_ends=False)
    frames = _to_frames(path, sr, sh, len(robot), len(segment))
    human_robot = np.stack([frames[:, 1] + start, frames[:, 0]], axis=1)
    cost = math.sqrt(squared / (len(path) * fh.shape[1]))
    return Alignment(path=human_robot, cost=cost, human_start=start, human_end=end)


def locate_subsequence(human: npt.ArrayLike, robot: npt.ArrayLike, cfg: AlignConfig,
                       features: FeatureFn = joint_and_wrist_features) -> tuple[int, int]:
    """First and last human frame that the whole robot episode matches (joint angles, open human ends).

    No band here: a band around the diagonal would forbid the very offsets this pass looks for. The
    band constrains the second pass, on the stretch found.
    """
    h, r = np.asarray(human, np.float64), np.asarray(robot, np.float64)
    stride = max(_stride(len(h), cfg), _stride(len(r), cfg))  # one stride: a subsequence keeps its speed
    fh = features(h, True, cfg)[::stride]
    fr = features(r, True, cfg)[::stride]
    path, _ = dtw_path(fr, fh, None, open_series_ends=True)
    first = int(path[0, 1]) * stride
    last = min(len(h) - 1, int(path[-1, 1]) * stride + stride - 1)
    if last - first < 1:
        return 0, len(h) - 1  # a degenerate match says nothing: align the whole clip
    return first, last


def robot_to_human_frames(path: npt.ArrayLike, n_robot_frames: int) -> Float:
    """`(n_robot_frames,)` the human frame (fractional: mean of the matches) for every robot frame.

    Robot frames the path skips (strided alignments) are interpolated.
    """
    p = np.asarray(path, dtype=np.float64)
    frames = np.arange(n_robot_frames)
    sums = np.bincount(p[:, 1].astype(np.int64), weights=p[:, 0], minlength=n_robot_frames)[:n_robot_frames]
    counts = np.bincount(p[:, 1].astype(np.int64), minlength=n_robot_frames)[:n_robot_frames]
    seen = counts > 0
    return np.interp(frames, frames[seen], sums[seen] / counts[seen])


def warp_error_frames(path: npt.ArrayLike, true_human_frames: npt.ArrayLike) -> float:
    """Largest gap, in frames, between the path's human frame per robot frame and the true one."""
    truth = np.asarray(true_human_frames, dtype=np.float64)
    return float(np.max(np.abs(robot_to_human_frames(path, len(truth)) - truth)))
