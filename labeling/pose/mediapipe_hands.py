"""MediaPipe Hands adapter: the one module that imports mediapipe, lazily, when an estimator is built.

It drives the legacy `mp.solutions.hands` graph because mediapipe 0.10.14 ships that graph's
models inside the wheel, whereas the Tasks API needs a separately downloaded `.task` bundle and
nothing may download at run time. Video (tracking) mode: the palm detector runs only while fewer
than `max_num_hands` hands are tracked; a tracked hand is re-cropped from its previous landmarks.

Handedness. MediaPipe labels a hand as if the image were mirrored (a selfie view). Egocentric
and ordinary camera video is not mirrored, so MediaPipe's 'Left' is the person's RIGHT hand: on
the dex-retargeting webcam clip, which shows a right hand, MediaPipe says 'Left' on all 621
frames. `mirrored=True` is for selfie-view input, where the labels are taken as they are.
Even so, MediaPipe's label is unreliable on egocentric views: on EgoDex `basic_pick_and_place`
it flickers from frame to frame and, for whole stretches, swaps both hands with scores near 0.9
(per frame, 26% of left-hand and 62% of right-hand detections land on the wrong side; a vote per
track makes it 100%, being wrong consistently). So a clip's hands are followed as tracks and each
track gets one side (`compute_hand_sides`). With the default 'egocentric' rule a track seen beside
the other hand is the left hand when it was mostly the one further left in the image; only a
track never seen with the other hand goes by MediaPipe's labels, each voting with its score.
That puts every hand of that clip on its side and changes nothing on the other fixtures
(bench/bench_pose_accuracy.py --handedness RULE reports the wrong-side rate).

Per hand, MediaPipe gives 21 landmarks normalised to the image (scaled here to pixels of the
original video, whatever size was fed to the detector), 21 metric "world" landmarks centred on
the hand, and a handedness score; the legacy graph exposes no hand-presence score, so `score` is
the handedness classifier's confidence (every reported hand already passed the presence gate).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

SIDES = ("left", "right")  # the hand axis of every (T, 2, ...) array, as in db.schemas.HANDS
DUPLICATE_IOU = 0.5  # two hands in one frame whose 2D boxes overlap this much are one hand seen twice
LINK_IOU = 0.2  # a hand continues a track when its box overlaps the track's last box this much
HANDEDNESS_RULES = {
    "egocentric": "per track: its left/right place in frames showing both hands, else MediaPipe's votes",
    "tracks": "per track: MediaPipe's votes only (any viewpoint, e.g. a camera facing the person)",
    "model": "per frame: MediaPipe's label as it is (after the mirroring rule)",
}


@dataclass(frozen=True)
class HandObservation:
    """One hand MediaPipe reported in one frame."""

    side: str  # 'left' | 'right': the person's hand, after the mirroring rule
    score: float  # handedness confidence in [0, 1]
    kp2d_px: npt.NDArray[np.float32]  # (21, 2) pixels of the original video frame
    kp_world_m: npt.NDArray[np.float32]  # (21, 3) metres, MediaPipe's hand-centred world frame


def hand_side(mediapipe_label: str, mirrored: bool) -> str:
    """The person's hand ('left'/'right') for MediaPipe's label ('Left'/'Right'); see module doc."""
    label = mediapipe_label.lower()
    if label not in SIDES:
        raise ValueError(f"unknown MediaPipe handedness label {mediapipe_label!r}")
    if mirrored:
        return label
    return "right" if label == "left" else "left"


class HandPoseEstimator:
    """MediaPipe Hands in tracking mode. Build once per worker process; `reset()` between clips."""

    def __init__(self, model_complexity: int = 1, max_num_hands: int = 2, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, mirrored: bool = False) -> None:
        # MediaPipe's C++ side logs every graph start to stderr; keep job logs readable.
        os.environ.setdefault("GLOG_minloglevel", "2")
        import mediapipe as mp

        self.mirrored = mirrored
        self._hands = mp.solutions.hands.Hands(
            static_image_mode=False, max_num_hands=max_num_hands, model_complexity=model_complexity,
            min_detection_confidence=min_detection_confidence, min_tracking_confidence=min_tracking_confidence)

    def detect(self, rgb: npt.NDArray[np.uint8], original_size_px: tuple[int, int] | None = None,
               ) -> list[HandObservation]:
        """Hands in one frame `rgb` (H, W, 3) uint8, the next frame of the current clip.

        `original_size_px` is (width, height) of the video when `rgb` was scaled down for detection;
        keypoints are returned in those original pixels.
        """
        height, width = rgb.shape[:2]
        out_w, out_h = original_size_px or (width, height)
        with warnings.catch_warnings():
            # The legacy solution API calls a protobuf helper that protobuf 4 deprecates.
            warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
            result = self._hands.process(np.ascontiguousarray(rgb))
        if not result.multi_hand_landmarks:
            return []
        hands = []
        for landmarks, world, handedness in zip(result.multi_hand_landmarks, result.multi_hand_world_landmarks,
                                                result.multi_handedness, strict=True):
            label = handedness.classification[0]
            kp2d = np.array([(p.x * out_w, p.y * out_h) for p in landmarks.landmark], np.float32)
            kp3d = np.array([(p.x, p.y, p.z) for p in world.landmark], np.float32)
            hands.append(HandObservation(hand_side(label.label, self.mirrored), float(label.score), kp2d, kp3d))
        return hands

    def reset(self) -> None:
        """Forget tracked hands (the next frame belongs to another clip)."""
        self._hands.reset()

    def close(self) -> None:
        """Release the MediaPipe graph."""
        self._hands.close()


def _box(kp2d_px: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.concatenate([kp2d_px.min(axis=0), kp2d_px.max(axis=0)])


def box_iou(kp2d_a_px: npt.NDArray[np.float32], kp2d_b_px: npt.NDArray[np.float32]) -> float:
    """Intersection over union of the axis-aligned boxes around two (21, 2) keypoint sets."""
    a, b = _box(kp2d_a_px), _box(kp2d_b_px)
    inter = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    union = (a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class _Track:
    """One hand followed across frames: where it was last seen and the votes on which hand it is."""

    kp2d_px: npt.NDArray[np.float32]
    last_frame: int
    model_votes: float = 0.0  # sum of MediaPipe's scores, + for 'left', - for 'right'
    order_votes: int = 0  # frames with both hands where it was the left (+1) or right (-1) one

    def vote(self, rule: str) -> tuple[float, float]:
        """(decisive, fallback) votes: > 0 means left. The image order outranks the model."""
        if rule == "egocentric":
            return float(self.order_votes), self.model_votes
        return self.model_votes, 0.0


def compute_hand_sides(observations: Sequence[Sequence[HandObservation]], frame_indices: Sequence[int],
                       max_gap_frames: int, rule: str = "egocentric") -> list[dict[str, HandObservation | None]]:
    """At most one observation per side for each frame of a clip; see `HANDEDNESS_RULES`.

    Observations are linked into tracks across frames (box overlap with where a track was last
    seen, at most `max_gap_frames` earlier). In a frame, an observation overlapping a kept one is
    the same hand reported twice (a fresh palm detection beside the tracked crop: 6 of 621 frames
    of the dex-retargeting clip) and is dropped, as is any hand beyond two.

    Args:
        observations: per labelled frame, what MediaPipe reported.
        frame_indices: the video frame of each entry of `observations`, increasing.
        max_gap_frames: a hand unseen for longer starts a new track.
        rule: 'egocentric', 'tracks' or 'model'.
    """
    if rule not in HANDEDNESS_RULES:
        raise ValueError(f"rule must be one of {tuple(HANDEDNESS_RULES)}, got {rule!r}")
    tracks: list[_Track] = []
    kept_per_frame = []
    for frame_index, hands in zip(frame_indices, observations, strict=True):
        kept = _link_frame(hands, frame_index, tracks, max_gap_frames)
        for hand, track in kept:
            tracks[track].model_votes += hand.score if hand.side == "left" else -hand.score
        if len(kept) == 2:
            # Seen from the wearer's eyes, the left hand (its arm coming in from the left) is the
            # one further left in the image whenever both are in view.
            (_, on_left), (_, on_right) = sorted(kept, key=lambda pair: float(pair[0].kp2d_px[:, 0].mean()))
            tracks[on_left].order_votes += 1
            tracks[on_right].order_votes -= 1
        kept_per_frame.append(kept)
    return [_sides(kept, tracks, rule) for kept in kept_per_frame]


def _link_frame(hands: Sequence[HandObservation], frame_index: int, tracks: list[_Track],
                max_gap_frames: int) -> list[tuple[HandObservation, int]]:
    """Keep up to two distinct hands of one frame, each with its track index (new or continued)."""
    live = [k for k, track in enumerate(tracks) if frame_index - track.last_frame <= max_gap_frames]
    overlaps = sorted(((box_iou(hand.kp2d_px, tracks[k].kp2d_px), i, k) for i, hand in enumerate(hands)
                       for k in live), reverse=True)
    matched: dict[int, int] = {}
    for iou, i, k in overlaps:
        if iou >= LINK_IOU and i not in matched and k not in matched.values():
            matched[i] = k
    kept: list[tuple[HandObservation, int]] = []
    # Hands continuing a track first (continuity beats a duplicate's score), then by score.
    for i in sorted(range(len(hands)), key=lambda i: (i not in matched, -hands[i].score)):
        hand = hands[i]
        if len(kept) == 2 or any(box_iou(hand.kp2d_px, other.kp2d_px) >= DUPLICATE_IOU for other, _ in kept):
            continue
        if i not in matched:
            tracks.append(_Track(hand.kp2d_px, frame_index))
            matched[i] = len(tracks) - 1
        tracks[matched[i]].kp2d_px, tracks[matched[i]].last_frame = hand.kp2d_px, frame_index
        kept.append((hand, matched[i]))
    return kept


def _sides(kept: list[tuple[HandObservation, int]], tracks: list[_Track], rule: str,
           ) -> dict[str, HandObservation | None]:
    def vote(pair: tuple[HandObservation, int]) -> tuple[float, float]:
        hand, track = pair
        if rule == "model":
            return (hand.score if hand.side == "left" else -hand.score), 0.0
        return tracks[track].vote(rule)

    chosen: dict[str, HandObservation | None] = dict.fromkeys(SIDES)
    # The surer hand picks first; the other takes the remaining side.
    for pair in sorted(kept, key=lambda pair: tuple(-abs(v) for v in vote(pair))):
        decisive, fallback = vote(pair)
        side = "left" if (decisive or fallback) > 0 else "right"
        if chosen[side] is not None:
            side = SIDES[1 - SIDES.index(side)]
        chosen[side] = replace(pair[0], side=side)
    return chosen
