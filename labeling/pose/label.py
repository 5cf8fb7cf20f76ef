"""Hand pose labelling: MediaPipe Hands over human clips that have no MediaPipe poses yet.

    egocurate --root R label [--clips ID...] [--workers N] [--executor local|ray]

Per clip, in a worker process (`label_clip`, labeling/pose/label_worker.py): MediaPipe tracks the
hands frame by frame, then each hand is placed in the camera frame by a PnP fit. This process
commits the results to the lake's `frames` stage with `pose_source='mediapipe'`, a few clips per
commit, each commit's meta naming its clips, their intrinsics and the config. Before committing it
checks, under the lake's writer lock, which clips already have MediaPipe frames: a killed job loses
at most the group in hand, a re-run labels only what is not done, and two concurrent runs never
duplicate rows. Progress goes to the store's `jobs` table (db/jobs.py), which `job_status` reads
(labeling/pose/label_jobs.py, which also starts a run as a detached job).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from db.engine import query_engine
from db.jobs import ACTIVE_STATES, DONE, FAILED, RUNNING, JobHandle, open_job
from db.lake import Lake
from db.queries.clips import label_candidates
from db.queries.frames import clips_with_pose
from labeling.executor import EXECUTORS, Outcome, make_executor
from labeling.media.video import VideoError
from labeling.native_logs import native_stderr_quiet

from .camera import CameraIntrinsics
from .label_worker import POSE_SOURCE, ClipResult, ClipTask, LabelConfig, label_clip

STAGE_NAME = "label"  # `stage` in commit meta and `kind` of the job row
# A lake commit holds `LabelConfig.commit_every_clips` clips (few files, yet a killed job loses
# little), or fewer when a clip finishes this long after the last commit (progress stays live)
# or when the rows in hand reach the cap (bounded memory with long clips).
COMMIT_MAX_S = 5.0
COMMIT_MAX_ROWS = 500_000


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


# --- Planning and committing ----------------------------------------------------------------------

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


# --- Running, and recording progress --------------------------------------------------------------

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
        if self.state not in ACTIVE_STATES:
            return 0.0
        speed = self.frames_per_s
        return max(0, self.frames_total - self.frames_done) / speed if speed > 0 else None


class _JobRecorder:
    """Mirrors a run's report into its `jobs` row (and the `on_progress` callback)."""

    def __init__(self, job: JobHandle, n_total: int, frames_total: int,
                 on_progress: Callable[[LabelProgress], None] | None) -> None:
        self.job, self.n_total, self.frames_total, self.on_progress = job, n_total, frames_total, on_progress
        self.failures_recorded = 0

    def record(self, report: LabelReport, state: str = RUNNING, message: str | None = None) -> None:
        n_done = len(report.done) + len(report.skipped)
        message = message or (f"{len(report.done)} labelled, {len(report.skipped)} already done, "
                              f"{len(report.failures)} failed, {report.frames_per_s:.1f} frames/s")
        progress = {"frames_done": report.frames, "frames_total": self.frames_total, "elapsed_s": report.elapsed_s}
        self.job.update(state=state, n_done=n_done, n_failed=len(report.failures), message=message,
                        params={"progress": progress},
                        errors=[(f.item, f.reason) for f in report.failures[self.failures_recorded:]])
        self.failures_recorded = len(report.failures)
        if self.on_progress is not None:
            self.on_progress(LabelProgress(self.job.id, state, self.n_total, n_done, len(report.failures),
                                           report.frames, self.frames_total, report.elapsed_s, message,
                                           tuple(report.failures)))

    def finish(self, report: LabelReport, error: BaseException | None = None) -> None:
        if error is not None:
            self.record(report, FAILED, f"stopped: {type(error).__name__}: {error}")
        else:
            self.record(report, DONE if report.ok else FAILED)


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
    check_run_options(workers, executor)
    root = Path(root)
    report = LabelReport()
    tasks = plan_label(root, config, clip_ids, report)
    frames_total = sum(math.ceil(t.n_frames / stride) for t in tasks)
    params = {"options": {**asdict(config), "workers": workers, "executor": executor},
              "clip_ids": None if clip_ids is None else list(clip_ids)}
    # Rows of label jobs killed earlier are closed first (a killed job cannot close its own).
    job = open_job(root, STAGE_NAME, params, n_total=len(tasks), job_id=job_id)
    recorder = _JobRecorder(job, len(tasks), frames_total, on_progress)
    report.job_id = job.id
    recorder.record(report)
    started = time.perf_counter()
    committer = _Committer(root, config, report)
    try:
        # MediaPipe's native log lines would bury the progress bar and the summary (labeling/native_logs.py).
        with native_stderr_quiet(), make_executor(executor, workers) as pool, \
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


def check_run_options(workers: object, executor: object) -> None:
    """Raise ValueError naming `workers` or `executor` when it is not one `run_label` takes."""
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


