"""Handedness and hand-to-side assignment (pure), and the MediaPipe adapter on real frames."""

from __future__ import annotations

import numpy as np
import pytest

from labeling.media.video import iter_frames_rgb
from labeling.pose.mediapipe_hands import HandObservation, HandPoseEstimator, box_iou, compute_hand_sides, hand_side


def _hand(side: str, centre_x_px: float, score: float = 0.9, size_px: float = 100.0, y_px: float = 300.0):
    """A hand-sized box of 21 keypoints around (centre_x_px, y_px)."""
    grid = np.linspace(-0.5, 0.5, 21, dtype=np.float32)
    kp2d = np.column_stack([centre_x_px + size_px * grid, y_px + size_px * grid[::-1] ** 2])
    return HandObservation(side, score, kp2d.astype(np.float32), np.zeros((21, 3), np.float32))


def _sides(result):
    return [{side: (hand.kp2d_px[:, 0].mean().round() if hand else None) for side, hand in frame.items()}
            for frame in result]


def test_mediapipe_labels_assume_a_mirrored_image():
    assert hand_side("Left", mirrored=False) == "right"
    assert hand_side("Right", mirrored=False) == "left"
    assert hand_side("Left", mirrored=True) == "left"
    with pytest.raises(ValueError, match="handedness"):
        hand_side("Both", mirrored=False)


def test_box_iou():
    a = _hand("left", 100).kp2d_px
    assert box_iou(a, a) == pytest.approx(1.0)
    assert box_iou(a, a + [50, 0]) == pytest.approx(1 / 3, abs=0.01)
    assert box_iou(a, a + [500, 0]) == 0.0


def test_one_hand_reported_twice_keeps_the_tracked_one():
    frames = [[_hand("right", 100)], [_hand("right", 104, score=0.7), _hand("right", 112, score=0.99)]]
    result = compute_hand_sides(frames, [0, 1], max_gap_frames=5)
    assert _sides(result) == [{"left": None, "right": 100}, {"left": None, "right": 104}]


def test_egocentric_rule_trusts_image_order_over_confident_wrong_labels():
    # Both hands in view, MediaPipe confidently swapping them, then only the left hand.
    both = [[_hand("right", 200 + t, 0.95), _hand("left", 900 + t, 0.95)] for t in range(5)]
    alone = [[_hand("right", 205 + t, 0.9)] for t in range(5)]
    frames, indices = both + alone, list(range(10))
    egocentric = _sides(compute_hand_sides(frames, indices, max_gap_frames=5, rule="egocentric"))
    assert all(frame["left"] is not None and frame["left"] < 300 for frame in egocentric)
    assert all(frame["right"] is not None for frame in egocentric[:5])
    model = _sides(compute_hand_sides(frames, indices, max_gap_frames=5, rule="model"))
    assert all(frame["right"] is not None and frame["right"] < 300 for frame in model)


def test_a_flickering_label_is_settled_per_track():
    labels = ["left", "right", "left", "left", "right", "left"]
    frames = [[_hand(label, 400 + 2 * t)] for t, label in enumerate(labels)]
    result = _sides(compute_hand_sides(frames, range(6), max_gap_frames=5, rule="tracks"))
    assert all(frame["left"] is not None and frame["right"] is None for frame in result)
    # A long gap starts a new track, which votes on its own.
    frames.append([_hand("right", 412)])
    result = _sides(compute_hand_sides(frames, [*range(6), 30], max_gap_frames=5, rule="tracks"))
    assert result[-1]["right"] == 412


def test_at_most_two_hands_and_distinct_sides():
    frame = [_hand("left", 100, 0.9), _hand("left", 500, 0.8), _hand("left", 900, 0.7)]
    result = compute_hand_sides([frame], [0], max_gap_frames=5, rule="model")[0]
    assert result["left"].kp2d_px[:, 0].mean() == pytest.approx(100)
    assert result["right"].kp2d_px[:, 0].mean() == pytest.approx(500)
    with pytest.raises(ValueError, match="rule"):
        compute_hand_sides([frame], [0], max_gap_frames=5, rule="vote")


def test_estimator_finds_the_right_hand_of_the_dex_clip_and_nothing_in_noise(shared_data):
    estimator = HandPoseEstimator()
    try:
        video = shared_data / "videos" / "dexretargeting_human_hand_video.mp4"
        found = [estimator.detect(rgb) for _, rgb in iter_frames_rgb(video, stride=60)]
        assert all(len(hands) >= 1 and hands[0].side == "right" for hands in found)
        hand = found[0][0]
        assert hand.kp2d_px.shape == (21, 2) and hand.kp_world_m.shape == (21, 3)
        assert 0.05 < np.linalg.norm(hand.kp_world_m[9] - hand.kp_world_m[0]) < 0.12  # wrist to middle knuckle
        assert (hand.kp2d_px >= 0).all() and (hand.kp2d_px[:, 0] < 1280).all()
        estimator.reset()
        noise = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
        assert estimator.detect(noise) == []
    finally:
        estimator.close()
