"""The per-clip worker of hand pose labelling: decode a clip, track its hands with MediaPipe, place them in 3D.

`label_clip(ClipTask) -> ClipResult` runs in a worker process (labeling/executor.py), so it is
top-level and takes everything it needs in the task: a decode thread (PyAV) feeds a bounded queue
while MediaPipe tracks the hands frame by frame (labeling/pose/mediapipe_hands.py), then each
hand is placed in the camera frame by a PnP fit (labeling/pose/camera.py). `compute_frames` is
the pure step from tracked hands to `frames` rows. The stage that plans, runs and commits the
clips is labeling/pose/label.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from db.config_files import check_field_types
from labeling.executor import prefetch
from labeling.media.video import VideoError, displayed_size, upright_rgb, vfr_frame_times_s
from labeling.native_logs import quiet_worker_process
from labeling.sources.base import frames_table

from .camera import DEFAULT_HFOV_DEG, CameraIntrinsics, compute_camera_keypoints, match_chirality
from .mediapipe_hands import HANDEDNESS_RULES, SIDES, HandObservation, HandPoseEstimator, compute_hand_sides

POSE_SOURCE = "mediapipe"
TRACK_MAX_GAP_S = 0.5  # a hand unseen for longer starts a new track (pose.compute_hand_sides)


@dataclass(frozen=True)
class LabelConfig:
    """How clips are labelled. Every field is stored with the job and in the commit meta."""

    stride: int = 1  # label every `stride`-th frame (1: every frame)
    model_complexity: int = 1  # MediaPipe hand landmark model: 0 lite, 1 full (the reference)
    max_side_px: int = 1920  # longer frames are scaled down to this longest side before detection
    max_num_hands: int = 2  # hands tracked per frame
    min_detection_confidence: float = 0.5  # palm detector score to start tracking a hand, [0, 1]
    min_tracking_confidence: float = 0.5  # landmark presence to keep tracking, [0, 1]
    mirrored: bool = False  # the video is a selfie (mirrored) view; see pose.py on handedness
    handedness: str = "egocentric"  # how hands get their side: a key of pose.HANDEDNESS_RULES
    assumed_hfov_deg: float = DEFAULT_HFOV_DEG  # horizontal FOV, degrees, for clips without intrinsics
    prefetch_frames: int = 8  # decoded frames buffered ahead of inference, per worker
    commit_every_clips: int = 8  # clips per lake commit (also at least every label.COMMIT_MAX_S seconds)

    def __post_init__(self) -> None:
        check_field_types(LabelConfig, vars(self))  # options come from the CLI, the page and job rows
        checks = {  # field -> (valid?, what it must be)
            "stride": (self.stride >= 1, "an integer >= 1"),
            "model_complexity": (self.model_complexity in (0, 1), "0 or 1"),
            "max_side_px": (self.max_side_px >= 64, "an integer >= 64"),
            "max_num_hands": (1 <= self.max_num_hands <= 4, "an integer in [1, 4]"),
            "min_detection_confidence": (0.0 <= self.min_detection_confidence <= 1.0, "a number in [0, 1]"),
            "min_tracking_confidence": (0.0 <= self.min_tracking_confidence <= 1.0, "a number in [0, 1]"),
            "handedness": (self.handedness in HANDEDNESS_RULES, f"one of {sorted(HANDEDNESS_RULES)}"),
            "assumed_hfov_deg": (1.0 <= self.assumed_hfov_deg <= 179.0, "a number of degrees in [1, 179]"),
            "prefetch_frames": (self.prefetch_frames >= 1, "an integer >= 1"),
            "commit_every_clips": (self.commit_every_clips >= 1, "an integer >= 1"),
        }
        for name, (valid, expected) in checks.items():
            if not valid:
                raise ValueError(f"LabelConfig.{name} must be {expected}, got {getattr(self, name)!r}")

    def build(self) -> HandPoseEstimator:
        """The MediaPipe estimator these settings describe (heavy: once per worker)."""
        return HandPoseEstimator(self.model_complexity, self.max_num_hands, self.min_detection_confidence,
                                 self.min_tracking_confidence, self.mirrored)


@dataclass(frozen=True)
class ClipTask:
    """One clip to label: everything a worker needs, nothing it must look up."""

    clip_id: str
    source: str  # the clip's source (the lake partition)
    path: str
    fps: float
    n_frames: int  # frames in the video (for progress; the decoder decides what is there)
    intrinsics: CameraIntrinsics
    config: LabelConfig


@dataclass(frozen=True)
class ClipResult:
    """What a worker sends back for one clip."""

    clip_id: str
    source: str
    table: pa.Table  # `frames` rows, pose_source='mediapipe'
    n_frames: int  # frames labelled
    camera: dict[str, object]  # CameraIntrinsics.note()


_estimator_cache: dict[tuple, HandPoseEstimator] = {}


def _estimator(config: LabelConfig) -> HandPoseEstimator:
    """The worker's MediaPipe graph: built once per process (and per model setting)."""
    key = (config.model_complexity, config.max_num_hands, config.min_detection_confidence,
           config.min_tracking_confidence, config.mirrored)
    if key not in _estimator_cache:
        quiet_worker_process()  # MediaPipe's graph threads log to fd 2 (labeling/native_logs.py)
        for stale in _estimator_cache.values():
            stale.close()
        _estimator_cache.clear()
        _estimator_cache[key] = config.build()
    return _estimator_cache[key]


def decode_frames(path: str, stride: int, max_side_px: int,
                  ) -> Iterator[tuple[int, npt.NDArray[np.uint8], tuple[int, int]]]:
    """Yield `(frame_index, rgb, (width, height) of the original)` for every `stride`-th frame.

    Frames with a longer side above `max_side_px` are scaled in the same swscale pass that
    converts them to RGB (cheaper than converting at full size and resizing).

    Raises:
        VideoError: the file cannot be opened or decoding fails part-way.
    """
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index % stride:
                    continue
                # Phone videos carry a display rotation: poses are found on (and in pixels of) the upright frame.
                size = displayed_size(frame)
                scale = max_side_px / max(size)
                if scale >= 1.0:
                    yield index, upright_rgb(frame), size
                else:
                    width, height = (max(2, round(side * scale)) for side in size)
                    yield index, upright_rgb(frame, width, height, interpolation="AREA"), size
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise VideoError(f"{path}: decoding failed ({type(exc).__name__}: {exc})") from exc


def label_clip(task: ClipTask) -> ClipResult:
    """Label one clip (runs in a worker; top-level so spawned processes and Ray can import it).

    Raises:
        VideoError: the video cannot be decoded, or holds no frames.
    """
    estimator = _estimator(task.config)
    estimator.reset()
    indices, observations = [], []
    frames = decode_frames(task.path, task.config.stride, task.config.max_side_px)
    for index, rgb, size in prefetch(frames, task.config.prefetch_frames):
        indices.append(index)
        observations.append(estimator.detect(rgb, size))
    if not indices:
        raise VideoError(f"{task.path}: no frames could be decoded")
    max_gap_frames = max(task.config.stride, round(TRACK_MAX_GAP_S * task.fps))
    hands = compute_hand_sides(observations, indices, max_gap_frames, task.config.handedness)
    table = compute_frames(task.clip_id, task.fps, np.asarray(indices, np.int64), hands, task.intrinsics,
                           vfr_frame_times_s(task.path, task.fps))
    return ClipResult(task.clip_id, task.source, table, len(indices), task.intrinsics.note())


def compute_frames(clip_id: str, fps: float, frame_indices: npt.NDArray[np.int64],
                   hands_per_frame: Sequence[dict[str, HandObservation | None]],
                   intrinsics: CameraIntrinsics, times_s: npt.NDArray[np.float64] | None = None) -> pa.Table:
    """`frames` rows (two per frame) from each frame's assigned hands, with camera-frame 3D by PnP.

    `times_s` (n_video_frames,) are the video's frame times when it has a variable frame rate.
    """
    n = len(frame_indices)
    kp2d = np.full((n, 2, 21, 2), np.nan, np.float32)
    world = np.full((n, 2, 21, 3), np.nan, np.float32)
    present = np.zeros((n, 2), bool)
    score = np.zeros((n, 2), np.float32)
    for t, hands in enumerate(hands_per_frame):
        for h, side in enumerate(SIDES):
            if (hand := hands[side]) is not None:
                kp2d[t, h], world[t, h], present[t, h], score[t, h] = hand.kp2d_px, hand.kp_world_m, True, hand.score
    sides = np.broadcast_to(np.asarray(SIDES), present.shape)[present]
    world[present] = match_chirality(world[present], sides)[0]  # undo MediaPipe's depth mirror (camera.py)
    kp3d = np.full((n, 2, 21, 3), np.nan, np.float32)
    kp3d[present] = compute_camera_keypoints(kp2d[present], world[present], intrinsics).kp3d_m
    timestamps_s = None if times_s is None else times_s[np.minimum(frame_indices, len(times_s) - 1)]
    return frames_table(clip_id, fps, kp2d, kp3d, present, score, POSE_SOURCE, frame_indices, world, timestamps_s)

