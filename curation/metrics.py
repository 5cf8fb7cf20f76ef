"""Quality metrics of a clip's hand poses: what each one means, its unit, and how it is computed.

Every metric registers in `METRIC_REGISTRY` with `register_metric`, built-ins included, the way a
new one would; its storage column(s) are declared in `db.schemas` (`HAND_METRIC_NAMES`,
`CLIP_METRIC_NAMES`) and a test keeps the two in step. A per-hand metric `m` is stored as
`left_m`, `right_m` and `m` (the worse hand, or the sum, as `clip_agg` says), so a filter on any
hand is one column. Everything here is pure: arrays in, numbers out. `curation.score` does the I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt

from db.config_files import load_config
from db.schemas import CLIP_METRIC_NAMES, HAND_METRIC_NAMES, HANDS

from . import signals
from .signals import FloatArray, Span


@dataclass(frozen=True)
class MetricsConfig:
    """Thresholds the metrics are computed with (not the rules: those live in the YAML rule set)."""

    idle_speed_m_s: float = 0.02  # wrist slower than this counts as idle
    speed_spike_m_s: float = 4.0  # a keypoint faster than this between two frames is a spike
    accel_spike_m_s2: float = 150.0  # a keypoint accelerating faster than this is a spike
    jitter_window_frames: int = 7  # Savitzky-Golay window of the smoothing residual (odd)
    jitter_polyorder: int = 3  # polynomial order of that fit
    worst_window_s: float = 1.0  # jitter is the RMS residual of the worst window this long
    score_percentile: float = 5.0  # the "low" confidence percentile (score_p05)
    swap_min_frames: int = 2  # consecutive wrong-chirality frames that count as one swap
    chirality_margin_m: float = 0.004  # |thumb offset from the palm plane| below this is undecided
    chirality_max_bone_deviation: float = 0.1  # frames whose bones deviate more are not judged for handedness

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or not np.isfinite(value) or value <= 0:
                raise ValueError(f"MetricsConfig.{item.name} must be a positive number, got {value!r}")
        if self.jitter_window_frames % 2 == 0 or self.jitter_window_frames <= self.jitter_polyorder:
            raise ValueError("MetricsConfig.jitter_window_frames must be odd and larger than jitter_polyorder, "
                             f"got {self.jitter_window_frames}")

    @classmethod
    def from_yaml(cls, path: Path, override: dict | None = None) -> MetricsConfig:
        """Read a YAML mapping of these fields; `override` (not mutated) replaces some of them."""
        return load_config(cls, path, override)


@dataclass(frozen=True)
class HandSeries:
    """One hand of one clip, every labelled frame in order."""

    frame_index: npt.NDArray[np.int64]  # (T,) video frame of each row
    present: npt.NDArray[np.bool_]  # (T,)
    score: FloatArray  # (T,) confidence in [0, 1]
    kp3d_m: FloatArray  # (T, 21, 3) camera frame, metres
    kp2d_px: FloatArray  # (T, 21, 2) pixels
    dt_s: float  # seconds between rows
    width_px: float | None = None  # image size, for out-of-frame keypoints
    height_px: float | None = None
    hand: str = "right"
    retarget_residual_m: float | None = None  # mean egocurate_hand22 retargeting residual, when retargeted to it

    @property
    def points_m(self) -> FloatArray:
        """`kp3d_m` with absent frames as NaN."""
        return signals.masked(self.kp3d_m, self.present)


@dataclass(frozen=True)
class Measure:
    """A metric's value and, when it has one, the frame range (row indices) that made it."""

    value: float | None
    span: Span | None = None


@dataclass(frozen=True)
class MetricDef:
    """A registered metric. `compute` takes a `HandSeries` (per hand) or a dict of them (per clip)."""

    name: str
    meaning: str
    unit: str
    compute: Callable[..., Measure]
    per_hand: bool = True
    clip_agg: str = "max"  # clip column from the hands: max | min | sum
    worse: str = "high"  # which direction is worse: high | low | none (drives histograms, rules)


METRIC_REGISTRY: dict[str, MetricDef] = {}
JITTER_SPAN_FLOOR_M = 0.003  # a frame's residual must exceed this to be marked as jittering
CLIP_AGGS = ("max", "min", "sum")


def register_metric(metric: MetricDef) -> MetricDef:
    """Add a metric; its columns must also be declared in `db.schemas` to be stored."""
    if metric.clip_agg not in CLIP_AGGS:
        raise ValueError(f"metric {metric.name}: clip_agg must be one of {CLIP_AGGS}, got {metric.clip_agg!r}")
    if metric.worse not in ("high", "low", "none"):
        raise ValueError(f"metric {metric.name}: worse must be high|low|none, got {metric.worse!r}")
    METRIC_REGISTRY[metric.name] = metric
    return metric


def metric_column_info(column: str) -> tuple[MetricDef, str | None]:
    """The registered metric behind a column (`right_jitter_mm` -> jitter_mm, 'right')."""
    if column in METRIC_REGISTRY:
        return METRIC_REGISTRY[column], None
    hand, _, base = column.partition("_")
    if hand in HANDS and base in METRIC_REGISTRY and METRIC_REGISTRY[base].per_hand:
        return METRIC_REGISTRY[base], hand
    raise KeyError(f"unknown metric column {column!r}")


def documented_columns() -> list[str]:
    """Every column the registry documents (what `db.schemas.metric_columns()` must equal)."""
    columns = [name for name, m in METRIC_REGISTRY.items() if not m.per_hand]
    columns += [name for name, m in METRIC_REGISTRY.items() if m.per_hand]
    columns += [f"{hand}_{name}" for hand in HANDS for name, m in METRIC_REGISTRY.items() if m.per_hand]
    return columns


# --- built-in metrics -------------------------------------------------------------------------------

def _nan_to_none(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def detection_rate(h: HandSeries, cfg: MetricsConfig) -> Measure:
    return Measure(float(np.mean(h.present)) if len(h.present) else None)


def longest_dropout_s(h: HandSeries, cfg: MetricsConfig) -> Measure:
    gaps = signals.interior_gaps(h.present)
    if not h.present.any():
        return Measure(None)
    if not gaps:
        return Measure(0.0)
    first, last = max(gaps, key=lambda g: g[1] - g[0])
    return Measure((last - first + 1) * h.dt_s, (first, last))


def _scores(h: HandSeries) -> FloatArray:
    scores = h.score[h.present]
    return scores[np.isfinite(scores)]


def score_mean(h: HandSeries, cfg: MetricsConfig) -> Measure:
    scores = _scores(h)
    return Measure(float(np.mean(scores)) if scores.size else None)


def score_p05(h: HandSeries, cfg: MetricsConfig) -> Measure:
    scores = _scores(h)
    if not scores.size:
        return Measure(None)
    low = float(np.percentile(scores, cfg.score_percentile))
    return Measure(low, signals.span_of(np.flatnonzero(h.present & (h.score <= low))))


def jitter_mm(h: HandSeries, cfg: MetricsConfig) -> Measure:
    residual_m = signals.smoothing_residual(h.points_m, cfg.jitter_window_frames, cfg.jitter_polyorder)
    window = max(1, round(cfg.worst_window_s / h.dt_s))
    value, window_span = signals.worst_window_rms(residual_m, window)
    # Point at the jittering frames themselves when they stand out, else at the worst window.
    span = signals.robust_span(residual_m, 6.0, JITTER_SPAN_FLOOR_M) or window_span
    return Measure(_nan_to_none(value * 1000.0), span)


def _jerk(h: HandSeries) -> FloatArray:
    if len(h.present) <= 3:
        return np.array([])
    return signals.nanmean_rows(signals.derivative_norms(h.points_m, h.dt_s, 3))


def jerk_median_m_s3(h: HandSeries, cfg: MetricsConfig) -> Measure:
    jerk = _jerk(h)
    return Measure(_nan_to_none(np.nanmedian(jerk)) if np.isfinite(jerk).any() else None)


def jerk_p95_m_s3(h: HandSeries, cfg: MetricsConfig) -> Measure:
    jerk = _jerk(h)
    if not np.isfinite(jerk).any():
        return Measure(None)
    return Measure(float(np.nanpercentile(jerk, 95)), signals.robust_span(jerk, 6.0, 0.0))


def _spikes(h: HandSeries, order: int, limit: float) -> Measure:
    if len(h.present) <= order:
        return Measure(None)
    peak = np.nanmax(np.nan_to_num(signals.derivative_norms(h.points_m, h.dt_s, order), nan=0.0), axis=1)
    rows = np.flatnonzero(peak > limit)
    return Measure(float(rows.size), signals.span_of(rows))


def speed_spikes(h: HandSeries, cfg: MetricsConfig) -> Measure:
    return _spikes(h, 1, cfg.speed_spike_m_s)


def accel_spikes(h: HandSeries, cfg: MetricsConfig) -> Measure:
    return _spikes(h, 2, cfg.accel_spike_m_s2)


def bone_length_cv(h: HandSeries, cfg: MetricsConfig) -> Measure:
    cv, per_frame = signals.bone_deviation(h.points_m)
    return Measure(_nan_to_none(cv), signals.robust_span(per_frame, 6.0, 0.02))


def _wrong_hand(h: HandSeries, cfg: MetricsConfig) -> npt.NDArray[np.bool_]:
    points = h.points_m
    offset = signals.chirality(points)
    expected = 1.0 if h.hand == "right" else -1.0
    # Heavy jitter can flip the thumb's side for a frame or two; a frame whose bones are that far off
    # is not evidence of a swap (a swapped hand is a well-formed hand, just the other one).
    _, bone_deviation = signals.bone_deviation(points)
    well_formed = np.nan_to_num(bone_deviation, nan=np.inf) <= cfg.chirality_max_bone_deviation
    return (np.nan_to_num(offset * expected, nan=0.0) < -cfg.chirality_margin_m) & well_formed


def handedness_swaps(h: HandSeries, cfg: MetricsConfig) -> Measure:
    runs = [r for r in signals.true_runs(_wrong_hand(h, cfg)) if r[1] - r[0] + 1 >= cfg.swap_min_frames]
    if not h.present.any():
        return Measure(None)
    return Measure(float(len(runs)), (runs[0][0], runs[-1][1]) if runs else None)


def wrong_hand_frac(h: HandSeries, cfg: MetricsConfig) -> Measure:
    if not h.present.any():
        return Measure(None)
    wrong = _wrong_hand(h, cfg)
    return Measure(float(wrong[h.present].mean()), signals.span_of(np.flatnonzero(wrong)))


def out_of_frame_frac(h: HandSeries, cfg: MetricsConfig) -> Measure:
    if not h.present.any() or not h.width_px or not h.height_px:
        return Measure(None)
    u, v = h.kp2d_px[..., 0], h.kp2d_px[..., 1]
    outside = ((u < 0) | (u >= h.width_px) | (v < 0) | (v >= h.height_px)).any(axis=1) & h.present
    return Measure(float(outside[h.present].mean()), signals.span_of(np.flatnonzero(outside)))


def _wrist_speed_m_s(h: HandSeries) -> FloatArray:
    return signals.derivative_norms(h.points_m[:, :1], h.dt_s, 1)[:, 0] if len(h.present) > 1 else np.array([])


def idle_frac(h: HandSeries, cfg: MetricsConfig) -> Measure:
    speed = _wrist_speed_m_s(h)
    finite = speed[np.isfinite(speed)]
    return Measure(float(np.mean(finite < cfg.idle_speed_m_s)) if finite.size else None)


def motion_energy_m2_s2(h: HandSeries, cfg: MetricsConfig) -> Measure:
    speed = _wrist_speed_m_s(h)
    return Measure(_nan_to_none(np.nanmean(speed**2)) if np.isfinite(speed).any() else None)


def retarget_residual_mm(h: HandSeries, cfg: MetricsConfig) -> Measure:
    return Measure(None if h.retarget_residual_m is None else h.retarget_residual_m * 1000.0)


def duration_s(hands: dict[str, HandSeries], cfg: MetricsConfig) -> Measure:
    any_hand = next(iter(hands.values()))
    return Measure(len(any_hand.present) * any_hand.dt_s)


BUILTIN_METRICS = (
    MetricDef("duration_s", "length of the scored pose track", "s", duration_s, per_hand=False, worse="none"),
    MetricDef("detection_rate", "fraction of frames where the hand is tracked", "fraction 0-1",
              detection_rate, clip_agg="min", worse="low"),
    MetricDef("longest_dropout_s", "longest run of frames the hand is lost between two tracked frames "
              "(entering late or leaving early is not a dropout)", "s", longest_dropout_s),
    MetricDef("score_mean", "mean tracking confidence over tracked frames", "0-1", score_mean,
              clip_agg="min", worse="low"),
    MetricDef("score_p05", "5th percentile of tracking confidence over tracked frames", "0-1", score_p05,
              clip_agg="min", worse="low"),
    MetricDef("jitter_mm", "RMS distance of the keypoints from a cubic Savitzky-Golay fit (7 frames), over "
              "the worst 1 s window: high-frequency tracking noise", "mm", jitter_mm),
    MetricDef("jerk_median_m_s3", "median over frames of the mean keypoint jerk (3rd time derivative)",
              "m/s^3", jerk_median_m_s3),
    MetricDef("jerk_p95_m_s3", "95th percentile over frames of the mean keypoint jerk", "m/s^3", jerk_p95_m_s3),
    MetricDef("speed_spikes", "frames where some keypoint moves faster than `speed_spike_m_s`", "frames",
              speed_spikes),
    MetricDef("accel_spikes", "frames where some keypoint accelerates faster than `accel_spike_m_s2`",
              "frames", accel_spikes),
    MetricDef("bone_length_cv", "mean over the 20 bones of std/mean of the bone length over time (a rigid "
              "hand keeps it near 0)", "fraction", bone_length_cv),
    MetricDef("handedness_swaps", "runs of >= `swap_min_frames` frames whose keypoints have the other hand's "
              "chirality (thumb on the wrong side of the palm)", "count", handedness_swaps),
    MetricDef("wrong_hand_frac", "fraction of tracked frames with the other hand's chirality", "fraction",
              wrong_hand_frac),
    MetricDef("out_of_frame_frac", "fraction of tracked frames with a keypoint outside the image", "fraction",
              out_of_frame_frac),
    MetricDef("idle_frac", "fraction of frames with wrist speed below `idle_speed_m_s`", "fraction", idle_frac),
    MetricDef("motion_energy_m2_s2", "mean squared wrist speed (camera frame); the clip value is the sum "
              "over hands", "m^2/s^2", motion_energy_m2_s2, clip_agg="sum", worse="none"),
    MetricDef("retarget_residual_mm", "mean keypoint error left after retargeting to egocurate_hand22, the "
              "hand of exported human episodes; null until the clip is retargeted to it (every embodiment's own: "
              "the retarget_metrics view)", "mm", retarget_residual_mm),
)
for _metric in BUILTIN_METRICS:
    register_metric(_metric)


@dataclass
class ClipMetrics:
    """One clip's metric columns and, per column, the offending frame range (video frame indices)."""

    values: dict[str, float | None] = field(default_factory=dict)
    evidence: dict[str, list[int]] = field(default_factory=dict)


def _frames(h: HandSeries, span: Span | None) -> list[int] | None:
    return None if span is None else [int(h.frame_index[span[0]]), int(h.frame_index[span[1]])]


def compute_clip_metrics(hands: dict[str, HandSeries], cfg: MetricsConfig = MetricsConfig()) -> ClipMetrics:
    """Every registered metric for one clip: `hands` maps 'left'/'right' to its `HandSeries`."""
    out = ClipMetrics()
    for name, metric in METRIC_REGISTRY.items():
        if not metric.per_hand:
            measure = metric.compute(hands, cfg)
            out.values[name] = measure.value
            continue
        per_hand = {hand: metric.compute(series, cfg) for hand, series in hands.items()}
        for hand, measure in per_hand.items():
            out.values[f"{hand}_{name}"] = measure.value
            if (frames := _frames(hands[hand], measure.span)) is not None:
                out.evidence[f"{hand}_{name}"] = frames
        worst = _aggregate(metric, per_hand)
        out.values[name] = worst[0]
        if worst[1] is not None and (frames := _frames(hands[worst[1]], per_hand[worst[1]].span)):
            out.evidence[name] = frames
    return out


def _aggregate(metric: MetricDef, per_hand: dict[str, Measure]) -> tuple[float | None, str | None]:
    """The clip value of a per-hand metric and the hand it came from (None for sums)."""
    known = {hand: m.value for hand, m in per_hand.items() if m.value is not None}
    if not known:
        return None, None
    if metric.clip_agg == "sum":
        return float(sum(known.values())), None
    pick = max if metric.clip_agg == "max" else min
    hand = pick(known, key=known.__getitem__)
    return known[hand], hand


def assert_registry_matches_schema() -> None:
    """Raise when a stored metric column is undocumented or a registered metric has no column."""
    declared = [*CLIP_METRIC_NAMES, *HAND_METRIC_NAMES]
    missing = sorted(set(declared) - set(METRIC_REGISTRY))
    unstored = sorted(set(METRIC_REGISTRY) - set(declared))
    if missing or unstored:
        raise AssertionError(f"undocumented metric columns {missing}; registered but not stored {unstored}")
