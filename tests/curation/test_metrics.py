"""Quality metrics: documented, and right by construction on synthetic hands with known noise."""

from __future__ import annotations

import numpy as np
import pytest

from curation.metrics import (
    METRIC_REGISTRY,
    HandSeries,
    MetricsConfig,
    assert_registry_matches_schema,
    compute_clip_metrics,
    documented_columns,
    metric_column_info,
)
from curation.noise import Injection, inject
from db.schemas import METRICS, metric_columns
from tests.curation.conftest import FPS, two_hand_poses


def hands_of(poses, residual_m=None) -> dict[str, HandSeries]:  # noqa: ANN001
    n = len(poses.present)
    return {side: HandSeries(frame_index=np.arange(n), present=poses.present[:, h], score=poses.score[:, h],
                             kp3d_m=poses.kp3d_m[:, h], kp2d_px=poses.kp2d_px[:, h], dt_s=1 / FPS, width_px=640,
                             height_px=480, hand=side, retarget_residual_m=residual_m)
            for h, side in enumerate(("left", "right"))}


def metrics_with(injection: Injection | None = None, n_frames: int = 90):  # noqa: ANN201
    poses = two_hand_poses(n_frames)
    if injection is not None:
        poses = inject(poses, injection, np.random.default_rng(1))
    return compute_clip_metrics(hands_of(poses))


def test_every_metric_column_is_documented_and_stored():
    assert_registry_matches_schema()
    assert documented_columns() == metric_columns()
    stored = set(METRICS.names) - {"clip_id", "scored_at", "pose_source", "evidence", "kind", "source", "task",
                                   "task_slug"}
    assert stored == set(documented_columns())
    for column in metric_columns():
        metric, _ = metric_column_info(column)
        assert metric.meaning and metric.unit, f"{column} lacks a meaning or a unit"
    units = {name: m.unit for name, m in METRIC_REGISTRY.items()}
    assert units["jitter_mm"] == "mm" and units["longest_dropout_s"] == "s"


def test_clean_motion_scores_clean():
    values = metrics_with().values
    assert values["detection_rate"] == 1.0 and values["longest_dropout_s"] == 0.0
    assert values["jitter_mm"] < 0.5
    assert values["bone_length_cv"] < 1e-4
    assert values["speed_spikes"] == values["accel_spikes"] == values["handedness_swaps"] == 0
    assert values["wrong_hand_frac"] == 0.0
    assert values["out_of_frame_frac"] == 0.0
    assert values["duration_s"] == pytest.approx(3.0)
    assert values["retarget_residual_mm"] is None  # no retargets yet: null, not zero


def test_jitter_raises_jitter_and_bone_variation_and_points_at_the_frames():
    result = metrics_with(Injection("jitter", "left", 30, 59, 6.0))
    values = result.values
    assert values["left_jitter_mm"] > 5 and values["right_jitter_mm"] < 0.5
    assert values["left_bone_length_cv"] > 0.05 and values["right_bone_length_cv"] < 1e-4
    assert values["jitter_mm"] == values["left_jitter_mm"]  # the clip column is the worse hand
    first, last = result.evidence["left_jitter_mm"]
    assert 25 <= first <= 32 and 57 <= last <= 64


def test_dropout_is_measured_in_seconds_with_its_frames():
    result = metrics_with(Injection("dropout", "right", 30, 44))
    assert result.values["right_longest_dropout_s"] == pytest.approx(15 / FPS)
    assert result.values["right_detection_rate"] == pytest.approx(75 / 90)
    assert result.values["detection_rate"] == result.values["right_detection_rate"]  # min over hands
    assert result.evidence["right_longest_dropout_s"] == [30, 44]


def test_a_hand_entering_late_is_not_a_dropout():
    poses = two_hand_poses()
    poses.present[:20, 0] = False
    values = compute_clip_metrics(hands_of(poses)).values
    assert values["left_longest_dropout_s"] == 0.0 and values["left_detection_rate"] < 1


def test_swap_is_counted_once_and_spikes_at_its_edges():
    result = metrics_with(Injection("swap", "right", 40, 59))
    values = result.values
    assert values["left_handedness_swaps"] == values["right_handedness_swaps"] == 1
    assert result.evidence["handedness_swaps"] == [40, 59]
    assert values["left_wrong_hand_frac"] == pytest.approx(20 / 90)
    assert values["speed_spikes"] >= 2  # the hands jump 24 cm in one frame, twice


def test_idle_motion_energy_out_of_frame_and_residual():
    poses = two_hand_poses()
    still = poses.kp3d_m.copy()
    still[:] = still[:1]
    poses = type(poses)(still, poses.kp2d_px + np.float32(400), poses.present, poses.score, poses.intrinsics)
    values = compute_clip_metrics(hands_of(poses, residual_m=0.012)).values
    assert values["idle_frac"] == 1.0 and values["motion_energy_m2_s2"] == 0.0
    assert values["out_of_frame_frac"] == 1.0
    assert values["retarget_residual_mm"] == pytest.approx(12.0)


def test_a_hand_never_seen_has_null_metrics_not_zeros():
    poses = two_hand_poses()
    poses.present[:, 0] = False
    poses.kp3d_m[:, 0] = np.nan
    values = compute_clip_metrics(hands_of(poses)).values
    assert values["left_detection_rate"] == 0.0
    for name in ("jitter_mm", "bone_length_cv", "longest_dropout_s", "score_mean", "idle_frac"):
        assert values[f"left_{name}"] is None, name
        assert values[name] == values[f"right_{name}"], name  # the clip column uses the hand that is there


def test_metrics_config_validates_and_loads_yaml(tmp_path):
    with pytest.raises(ValueError, match="idle_speed_m_s"):
        MetricsConfig(idle_speed_m_s=-1)
    with pytest.raises(ValueError, match="jitter_window_frames"):
        MetricsConfig(jitter_window_frames=6)
    path = tmp_path / "m.yml"
    path.write_text("speed_spike_m_s: 2.5\n")
    assert MetricsConfig.from_yaml(path, {"idle_speed_m_s": 0.05}) == MetricsConfig(speed_spike_m_s=2.5,
                                                                                    idle_speed_m_s=0.05)
