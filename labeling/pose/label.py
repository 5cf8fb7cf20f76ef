"""Hand pose labelling: MediaPipe Hands over human clips that have no MediaPipe poses yet.

    egocurate --root R label [--clips ID...] [--workers N] [--executor local|ray]
    python -m labeling.pose.label --root R --job-id N      (what `start_label_job` runs, detached)

Per clip, in a worker process (`label_clip`): a decode thread (PyAV) feeds a bounded queue while
MediaPipe tracks the hands frame by frame (labeling/pose/mediapipe_hands.py), then each hand is placed in the
camera frame by a PnP fit (labeling/pose/camera.py). This process commits the results to the lake's
`frames` stage with `pose_source='mediapipe'`, a few clips per commit, each commit's meta naming
its clips, their intrinsics and the config. Before committing it checks, under the lake's writer
lock, which clips already have MediaPipe frames: a killed job loses at most the group in hand, a
re-run labels only what is not done, and two concurrent runs never duplicate rows. Progress goes
to the store's `jobs` table, which `job_status` reads (e.g. for a job from `start_label_job`).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlalchemy import select
from tqdm import tqdm

from db.engine import query_engine
from db.jobs import close_interrupted_jobs, job_host, process_alive
from db.lake import Lake
from db.models import Job, JobError, utc_now
from db.queries.clips import label_candidates
from db.queries.frames import clips_with_pose
from db.store import session_scope
from labeling.executor import EXECUTORS, Outcome, make_executor, prefetch
from labeling.media.video import VideoError, displayed_size, upright_rgb, vfr_frame_times_s
from labeling.sources.base import frames_table

from .camera import DEFAULT_HFOV_DEG, CameraIntrinsics, compute_camera_keypoints, match_chirality
from .mediapipe_hands import HANDEDNESS_RULES, SIDES, HandObservation, HandPoseEstimator, compute_hand_sides

POSE_SOURCE = "mediapipe"
STAGE_NAME = "label"  # `stage` in commit meta and `kind` of the job row
TRACK_MAX_GAP_S = 0.5  # a hand unseen for longer starts a new track (pose.compute_hand_sides)
# A lake commit holds `LabelConfig.commit_every_clips` clips (few files, yet a killed job loses
# little), or fewer when a clip finishes this long after the last commit (progress stays live)
# or when the rows in hand reach the cap (bounded memory with long clips).
COMMIT_MAX_S = 5.0
COMMIT_MAX_ROWS = 500_000
JOB_LOG_DIR = "cache/jobs"  # under the data root: stdout/stderr of detached jobs, `label-<id>.log`
PROJECT_DIR = Path(__file__).resolve().parents[2]


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
    commit_every_clips: int = 8  # clips per lake commit (also at least every COMMIT_MAX_S seconds)

    def __post_init__(self) -> None:
        checks = {  # field -> (valid?, what it must be)
            "stride": (_is_int(self.stride, 1), "an integer >= 1"),
            "model_complexity": (self.model_complexity in (0, 1) and _is_int(self.model_complexity, 0), "0 or 1"),
            "max_side_px": (_is_int(self.max_side_px, 64), "an integer >= 64"),
            "max_num_hands": (_is_int(self.max_num_hands, 1) and self.max_num_hands <= 4, "an integer in [1, 4]"),
            "min_detection_confidence": (_is_fraction(self.min_detection_confidence), "a number in [0, 1]"),
            "min_tracking_confidence": (_is_fraction(self.min_tracking_confidence), "a number in [0, 1]"),
            "mirrored": (isinstance(self.mirrored, bool), "true or false"),
            "handedness": (self.handedness in HANDEDNESS_RULES, f"one of {sorted(HANDEDNESS_RULES)}"),
            "assumed_hfov_deg": (_is_number(self.assumed_hfov_deg) and 1.0 <= self.assumed_hfov_deg <= 179.0,
                                 "a number of degrees in [1, 179]"),
            "prefetch_frames": (_is_int(self.prefetch_frames, 1), "an integer >= 1"),
            "commit_every_clips": (_is_int(self.commit_every_clips, 1), "an integer >= 1"),
        }
        for name, (valid, expected) in checks.items():
            if not valid:
                raise ValueError(f"LabelConfig.{name} must be {expected}, got {getattr(self, name)!r}")

    def build(self) -> HandPoseEstimator:
        """The MediaPipe estimator these settings describe (heavy: once per worker)."""
        return HandPoseEstimator(self.model_complexity, self.max_num_hands, self.min_detection_confidence,
                                 self.min_tracking_confidence, self.mirrored)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_fraction(value: object) -> bool:
    return _is_number(value) and 0.0 <= value <= 1.0


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


@dataclass(frozen=True)
class LabelFailure:
    """A clip that could not be labelled, and why."""

    clip_id: str
    item: str  # the clip's video path (or the clip id when it is not catalogued)
    reason: str


@dataclass
class LabelReport:
    """What one `run_label` call did."""

    done: list[str] = field(default_factory=list)  # clips labelled and committed by this run
    skipped: list[str] = field(default_factory=list)  # clips that already had MediaPipe frames
    failures: list[LabelFailure] = field(default_factory=list)
    frames: int = 0  # frames labelled and committed
    elapsed_s: float = 0.0  # wall time of the labelling (workers started to last commit)
    cameras: dict[str, dict[str, object]] = field(default_factory=dict)  # clip_id -> intrinsics note
    job_id: int | None = None

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        """False only when clips failed and none could be done (the CLI's non-zero exit)."""
        return bool(self.done or self.skipped or not self.failures)


# --- In the worker --------------------------------------------------------------------------------

_estimator_cache: dict[tuple, HandPoseEstimator] = {}


def _estimator(config: LabelConfig) -> HandPoseEstimator:
    """The worker's MediaPipe graph: built once per process (and per model setting)."""
    key = (config.model_complexity, config.max_num_hands, config.min_detection_confidence,
           config.min_tracking_confidence, config.mirrored)
    if key not in _estimator_cache:
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


# --- In the job's process -------------------------------------------------------------------------

def plan_label(root: Path, config: LabelConfig, clip_ids: Sequence[str] | None,
               report: LabelReport) -> list[ClipTask]:
    """The clips to label; those already labelled go to `report.skipped`, refused ones to failures."""
    candidates = label_candidates(query_engine(root), POSE_SOURCE, None if clip_ids is None else list(clip_ids))
    for missing in sorted(set(clip_ids or ()) - set(candidates["clip_id"])):
        report.failures.append(LabelFailure(missing, missing, "no such clip in the catalog"))
    tasks = []
    for row in candidates.itertuples(index=False):
        if row.kind != "human":
            report.failures.append(LabelFailure(row.clip_id, row.path, f"a {row.kind} clip; only human clips "
                                                "get hand poses"))
        elif row.has_pose:
            report.skipped.append(row.clip_id)
        else:
            intrinsics = CameraIntrinsics.for_clip(_number(row.fx), _number(row.fy), _number(row.cx),
                                                   _number(row.cy), int(row.width), int(row.height),
                                                   config.assumed_hfov_deg)
            n_frames = int(_number(row.n_frames) or 0)
            tasks.append(ClipTask(row.clip_id, row.source, row.path, float(row.fps), n_frames, intrinsics, config))
    # Longest first: the last clips to finish are short ones, so no worker idles through a long tail.
    return sorted(tasks, key=lambda task: -task.n_frames)


def _number(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


class _Committer:
    """Groups finished clips into lake commits, skipping clips another run committed meanwhile."""

    def __init__(self, root: Path, config: LabelConfig, report: LabelReport) -> None:
        self.root, self.config, self.report = root, config, report
        self.lake = Lake(root)
        self.pending: list[ClipResult] = []
        self.last_commit = time.monotonic()

    def add(self, result: ClipResult) -> bool:
        """Queue a result; commit when the group is full or old. True when a commit happened."""
        self.pending.append(result)
        rows = sum(r.table.num_rows for r in self.pending)
        if (len(self.pending) >= self.config.commit_every_clips or rows >= COMMIT_MAX_ROWS
                or time.monotonic() - self.last_commit >= COMMIT_MAX_S):
            self.flush()
            return True
        return False

    def flush(self) -> None:
        if not self.pending:
            return
        with self.lake.writer_lock():
            ids = [r.clip_id for r in self.pending]
            already = clips_with_pose(query_engine(self.root), ids, POSE_SOURCE)
            fresh = [r for r in self.pending if r.clip_id not in already]
            if fresh:
                meta = {"stage": STAGE_NAME, "pose_source": POSE_SOURCE, "clip_ids": [r.clip_id for r in fresh],
                        "camera": {r.clip_id: r.camera for r in fresh}, "config": asdict(self.config),
                        "job_id": self.report.job_id}
                with self.lake.batch(**meta) as batch:
                    for source in sorted({r.source for r in fresh}):
                        tables = [r.table for r in fresh if r.source == source]
                        batch.write("frames", pa.concat_tables(tables), {"source": source, "pose_source": POSE_SOURCE})
        for result in self.pending:
            if result.clip_id in already:
                self.report.skipped.append(result.clip_id)
            else:
                self.report.done.append(result.clip_id)
                self.report.frames += result.n_frames
                self.report.cameras[result.clip_id] = result.camera
        self.pending = []
        self.last_commit = time.monotonic()


# --- Running, and running in the background -------------------------------------------------------

@dataclass(frozen=True)
class LabelProgress:
    """Where a labelling job stands (from the `jobs` table, or live from `run_label`)."""

    job_id: int
    state: str  # queued | running | done | failed | interrupted (its process is gone)
    n_total: int  # clips this job set out to label
    n_done: int  # clips committed, or found done by another run
    n_failed: int
    frames_done: int  # frames labelled and committed
    frames_total: int  # frames to label (stride applied)
    elapsed_s: float
    message: str = ""
    failures: tuple[LabelFailure, ...] = ()

    @property
    def frames_per_s(self) -> float:
        return self.frames_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the speed so far; None before any frame is done."""
        if self.state not in ("queued", "running"):
            return 0.0
        speed = self.frames_per_s
        return max(0, self.frames_total - self.frames_done) / speed if speed > 0 else None


class _JobRecorder:
    """Mirrors a run's report into its `jobs` row (and the `on_progress` callback)."""

    def __init__(self, root: Path, job_id: int | None, params: dict[str, object], n_total: int,
                 frames_total: int, on_progress: Callable[[LabelProgress], None] | None) -> None:
        self.root, self.n_total, self.frames_total, self.on_progress = root, n_total, frames_total, on_progress
        self.failures_recorded = 0
        with session_scope(root) as session:
            close_interrupted_jobs(session, STAGE_NAME)  # a killed job cannot close its own row
            job = session.get(Job, job_id) if job_id is not None else None
            if job is None:
                job = Job(kind=STAGE_NAME, params=params)
                session.add(job)
            job.state, job.n_total, job.pid, job.updated_at = "running", n_total, os.getpid(), utc_now()
            job.params = {**(job.params or {}), **params}
            session.flush()
            self.job_id = int(job.id)

    def record(self, report: LabelReport, state: str = "running", message: str | None = None) -> None:
        n_done = len(report.done) + len(report.skipped)
        message = message or (f"{len(report.done)} labelled, {len(report.skipped)} already done, "
                              f"{len(report.failures)} failed, {report.frames_per_s:.1f} frames/s")
        with session_scope(self.root) as session:
            job = session.get(Job, self.job_id)
            job.state, job.n_done, job.n_failed, job.message = state, n_done, len(report.failures), message
            job.params = {**job.params, "progress": {"frames_done": report.frames, "frames_total": self.frames_total,
                                                     "elapsed_s": report.elapsed_s}}
            job.updated_at = utc_now()
            for failure in report.failures[self.failures_recorded:]:
                session.add(JobError(job_id=self.job_id, item=failure.item, reason=failure.reason))
            self.failures_recorded = len(report.failures)
        if self.on_progress is not None:
            self.on_progress(LabelProgress(self.job_id, state, self.n_total, n_done, len(report.failures),
                                           report.frames, self.frames_total, report.elapsed_s, message,
                                           tuple(report.failures)))

    def finish(self, report: LabelReport, error: BaseException | None = None) -> None:
        if error is not None:
            self.record(report, "failed", f"stopped: {type(error).__name__}: {error}")
        else:
            self.record(report, "done" if report.ok else "failed")


def run_label(root: Path | str, clip_ids: Sequence[str] | None = None, *, stride: int = 1,
              model_complexity: int = 1, max_side_px: int = 1920, workers: int = 2, executor: str = "local",
              progress: bool = True, on_progress: Callable[[LabelProgress], None] | None = None,
              job_id: int | None = None, **config_options: object) -> LabelReport:
    """Label human clips without MediaPipe poses (all, or `clip_ids`); see the module docstring.

    `config_options` are further `LabelConfig` fields. `on_progress(LabelProgress)` is called after
    every commit and failure; `job_id` continues a job row made by `start_label_job`.

    Raises:
        ValueError: an invalid option (the message names it).
    """
    config = LabelConfig(stride=stride, model_complexity=model_complexity, max_side_px=max_side_px,
                         **config_options)
    _check_run_options(workers, executor)
    root = Path(root)
    report = LabelReport()
    tasks = plan_label(root, config, clip_ids, report)
    frames_total = sum(math.ceil(t.n_frames / stride) for t in tasks)
    params = {"options": {**asdict(config), "workers": workers, "executor": executor},
              "clip_ids": None if clip_ids is None else list(clip_ids), **job_host()}
    recorder = _JobRecorder(root, job_id, params, len(tasks), frames_total, on_progress)
    report.job_id = recorder.job_id
    recorder.record(report)
    started = time.perf_counter()
    committer = _Committer(root, config, report)
    try:
        with make_executor(executor, workers) as pool, \
                tqdm(total=frames_total, unit="frame", desc="label", disable=not progress) as bar:
            for outcome in pool.map_unordered(label_clip, tasks):
                committed = _take(outcome, committer, report, bar)
                report.elapsed_s = time.perf_counter() - started
                if committed or outcome.error is not None:
                    recorder.record(report)
            committer.flush()
    except BaseException as exc:
        recorder.finish(report, error=exc)
        raise
    report.elapsed_s = time.perf_counter() - started
    recorder.finish(report)
    return report


def _check_run_options(workers: object, executor: object) -> None:
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")


def _take(outcome: Outcome[ClipTask, ClipResult], committer: _Committer, report: LabelReport, bar: tqdm) -> bool:
    """Book one clip's outcome; True when it caused a commit."""
    task = outcome.item
    if outcome.error is not None:
        error = outcome.error
        reason = (str(error).removeprefix(f"{task.path}: ") if isinstance(error, VideoError)
                  else f"{type(error).__name__}: {error}")
        report.failures.append(LabelFailure(task.clip_id, task.path, reason))
        return False
    bar.update(outcome.value.n_frames)
    return committer.add(outcome.value)


def clip_camera(root: Path | str, clip_id: str) -> dict[str, object] | None:
    """The camera (`CameraIntrinsics.note()`) the newest MediaPipe labelling of a clip used, or None."""
    for entry in reversed(Lake(Path(root)).entries()):  # the commit log is the record of each batch
        meta = entry.get("meta") or {}
        if meta.get("stage") == STAGE_NAME and clip_id in (meta.get("camera") or {}):
            return meta["camera"][clip_id]
    return None


def start_label_job(root: Path | str, **options: object) -> int:
    """Start `run_label(root, **options)` in a detached process (it outlives the caller); its job id.

    Options are checked here first, so a bad one raises ValueError instead of failing in the job.
    """
    root = Path(root).resolve()
    clip_ids = options.pop("clip_ids", None)
    run = {k: options.pop(k) for k in ("workers", "executor") if k in options}
    LabelConfig(**options)
    _check_run_options(run.get("workers", 2), run.get("executor", "local"))
    params = {"options": {**options, **run}, "clip_ids": None if clip_ids is None else list(clip_ids),
              **job_host()}
    with session_scope(root) as session:
        job = Job(kind=STAGE_NAME, state="queued", params=params)
        session.add(job)
        session.flush()
        job_id = int(job.id)
    log_path = root / JOB_LOG_DIR / f"{STAGE_NAME}-{job_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")]))}
    with open(log_path, "ab") as log:
        # A new session: closing the page, or stopping the app with Ctrl-C, does not stop the job.
        process = subprocess.Popen([sys.executable, "-m", "labeling.pose.label", "--root", str(root), "--job-id",
                                    str(job_id)], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env, cwd=PROJECT_DIR)
    # Reap it when it exits, so a dead job is never mistaken for a live (zombie) pid.
    threading.Thread(target=process.wait, name=f"reap-label-{job_id}", daemon=True).start()
    with session_scope(root) as session:
        session.get(Job, job_id).pid = process.pid
    return job_id


def job_status(root: Path | str, job_id: int) -> LabelProgress:
    """A labelling job's progress, failures, speed and ETA. Raises KeyError for an unknown job."""
    with session_scope(Path(root)) as session:
        job = session.get(Job, job_id)
        if job is None or job.kind != STAGE_NAME:
            raise KeyError(f"no label job {job_id}")
        errors = session.scalars(select(JobError).where(JobError.job_id == job_id).order_by(JobError.id)).all()
        return _progress(job, tuple(LabelFailure(e.item, e.item, e.reason) for e in errors))


def label_jobs(root: Path | str, limit: int = 20) -> list[LabelProgress]:
    """The newest labelling jobs (without their failure lists), e.g. to find a running one again."""
    with session_scope(Path(root)) as session:
        jobs = session.scalars(select(Job).where(Job.kind == STAGE_NAME).order_by(Job.id.desc()).limit(limit)).all()
        return [_progress(job, ()) for job in jobs]


def _progress(job: Job, failures: tuple[LabelFailure, ...]) -> LabelProgress:
    params = job.params or {}
    state = job.state
    if state in ("queued", "running") and params.get("host") == job_host()["host"] and not process_alive(job.pid):
        state = "interrupted"
    done = params.get("progress", {})
    return LabelProgress(job.id, state, job.n_total, job.n_done, job.n_failed, int(done.get("frames_done", 0)),
                         int(done.get("frames_total", 0)), float(done.get("elapsed_s", 0.0)), job.message or "",
                         failures)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a job made by `start_label_job` (in its detached process)."""
    parser = argparse.ArgumentParser(prog="python -m labeling.pose.label")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--job-id", type=int, required=True)
    args = parser.parse_args(argv)
    with session_scope(args.root) as session:
        params = dict(session.get(Job, args.job_id).params or {})
    try:
        report = run_label(args.root, params.get("clip_ids"), progress=False, job_id=args.job_id,
                           **params.get("options", {}))
    except Exception as exc:  # the row must not stay 'queued' when the run could not even start
        with session_scope(args.root) as session:
            job = session.get(Job, args.job_id)
            if job.state == "queued":
                job.state, job.message, job.updated_at = "failed", f"{type(exc).__name__}: {exc}", utc_now()
        raise
    return 0 if report.ok else 1


if __name__ == "__main__":
    # Run the imported module, not this `__main__` copy of it, so that worker processes unpickle
    # `labeling.pose.label.label_clip` by name.
    from .label import main as _main

    raise SystemExit(_main())
