"""Retargeting stage: the hand poses of human clips as robot hand joint angles, in the lake's `retargets`.

    egocurate --root R retarget --hand NAME|CONFIG.yml [--clips ID...] [--config-dir DIR] [--urdf-dir DIR]
                                [--pose-source S] [--device cpu|cuda] [--workers N] [--executor local|ray]

`--hand` is a registered hand (`labeling.retarget.registry.RETARGET_HANDS`: the built-in
`egocurate_hand22`, or `sharpa_ha4`, `g1_dex3`, `allegro`, ... whose dex-retargeting / IsaacTeleop
configs and URDFs are found under `config_dir` / `urdf_dir`), or a dex-retargeting YAML file (the
other side's file, with `left`/`right` swapped in its name, is used too when present).

Per clip and hand: the 21 camera-frame keypoints of every frame where the hand is present
(`frames.kp3d_m`) are expressed in a MANO wrist frame built from the keypoints
(`wrist.compute_wrist_frames`), the whole clip is solved at once (`labeling.retarget.solver`), and one row per
frame is written: `q_rad` in the hand's `joint_names` order, `wrist_pose` (the pose of the robot's
root link in the camera frame, placed so that its wrist link sits on the human wrist: xyz in metres
+ the first two columns of the rotation matrix), `residual` (mean matched-vector error, metres),
`fingertip_error` (mean distance of the robot's fingertips from the scaled human ones, metres).
Frames where the hand is absent keep their row with nulls, so a clip always has one row per frame
and hand. Pose source: the one asked for, else the first of `POSE_SOURCE_PREFERENCE` the clip has.

Clips go through the executor seam (`labeling.executor`: `retarget_clip` per clip in a worker) and
this process commits. Resumable: before each commit, under the lake's writer lock, clip x hand
pairs that already have rows for this embodiment are dropped, so a re-run or a concurrent run never
duplicates them. Each commit's meta names the embodiment's URDFs, which `overlay.robot_overlay` uses
to draw the robot hand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from db.engine import query_engine
from db.jobs import DONE, FAILED, JobHandle, open_job
from db.lake import Lake
from db.queries.clips import scorable_clips
from db.queries.frames import hand_frames
from db.queries.retargets import retargeted_hands
from db.schemas import RETARGETS
from labeling.executor import make_executor
from labeling.kinematics.rotations import matrix_to_rot6d

from .config import RetargetConfig
from .registry import Embodiment, resolve_embodiment
from .solver import Retargeter, SolverOptions
from .wrist import compute_wrist_frames, palm_rotation

STAGE_NAME = "retarget"  # `stage` in commit meta and `kind` of the job row
POSE_SOURCE_PREFERENCE = ("egodex", "synthetic", "mediapipe")  # ground truth first
COMMIT_MAX_ROWS = 200_000  # rows per lake commit: bounds memory and what a killed run loses


@dataclass(frozen=True)
class RetargetFailure:
    clip_id: str
    item: str  # what failed: the clip, or clip/hand
    reason: str


@dataclass
class RetargetReport:
    """What a `run_retarget` did."""

    embodiment: str
    done: list[tuple[str, str]] = field(default_factory=list)  # (clip_id, hand) retargeted and committed
    skipped: list[tuple[str, str]] = field(default_factory=list)  # already had rows for this embodiment
    failures: list[RetargetFailure] = field(default_factory=list)
    frames: int = 0  # hand-frames solved (present hands)
    solve_s: float = 0.0  # time spent in the solver
    elapsed_s: float = 0.0  # wall time of the run
    job_id: int | None = None

    @property
    def frames_per_s(self) -> float:
        """Solver throughput over present hand-frames."""
        return self.frames / self.solve_s if self.solve_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        """False only when nothing could be done (the CLI's non-zero exit)."""
        return bool(self.done or self.skipped) or not self.failures


# --- Pure computation --------------------------------------------------------------------------

def compute_retargets(keypoints_cam: npt.NDArray[np.floating], present: npt.NDArray[np.bool_], side: str,
                      retargeter: Retargeter, options: SolverOptions | None = None) -> dict[str, Any]:
    """Retarget one clip's hand (no I/O).

    Args:
        keypoints_cam: `(T, 21, 3)` camera-frame keypoints, metres; rows of absent frames are ignored.
        present: `(T,)` whether the hand is there (and its keypoints finite).
        side: "left" or "right".
        retargeter: the side's solver.
        options: solver options.

    Returns:
        `q_rad (T, n_joints)`, `wrist_pose (T, 9)`, `residual (T,)`, `fingertip_error (T,)`, NaN
        where absent, and `solve_s` (the solver's time).
    """
    points = np.asarray(keypoints_cam, dtype=np.float64)
    present = np.asarray(present, dtype=bool) & np.isfinite(points).all(axis=(1, 2))
    n_frames, n_joints = len(points), len(retargeter.joint_names)
    out = {"q_rad": np.full((n_frames, n_joints), np.nan), "wrist_pose": np.full((n_frames, 9), np.nan),
           "residual": np.full(n_frames, np.nan), "fingertip_error": np.full(n_frames, np.nan), "solve_s": 0.0}
    rows = np.flatnonzero(present)
    if not len(rows):
        return out
    rot_cam_mano, keypoints_mano = compute_wrist_frames(points[rows], side)
    starts = np.r_[True, np.diff(rows) > 1]  # a gap in presence starts a new segment
    rot_root_mano = palm_rotation(retargeter, side)
    if rot_root_mano is None:  # root = input_rotation @ mano, the config's nominal rotation
        rot_root_mano = retargeter.input_rotation
    else:  # the retargeter turns its input by input_rotation: hand it keypoints that land in the root frame
        keypoints_mano = keypoints_mano @ rot_root_mano.T @ retargeter.input_rotation
    result = retargeter.retarget(keypoints_mano, starts=starts, options=options)
    rot_cam_root = rot_cam_mano @ rot_root_mano.T
    wrist_root = retargeter.link_positions(result.q_rad, [retargeter.wrist_link])[:, 0]
    origin = points[rows, 0] - (rot_cam_root @ wrist_root[..., None])[..., 0]
    out["q_rad"][rows] = result.q_rad
    out["wrist_pose"][rows] = np.concatenate([origin, matrix_to_rot6d(rot_cam_root)], axis=1)
    out["residual"][rows] = result.residual_m
    if result.fingertip_m is not None:
        out["fingertip_error"][rows] = result.fingertip_m
    out["solve_s"] = result.elapsed_s
    return out


def retarget_rows(clip_id: str, frame_index: npt.NDArray[np.integer], side: str, embodiment: str,
                  solved: dict[str, Any]) -> pa.Table:
    """`retargets` rows for one clip and hand: nulls (not NaN) where the hand is absent."""
    present = np.isfinite(solved["residual"])
    q = [row.tolist() if ok else None for row, ok in zip(solved["q_rad"].astype(np.float32), present, strict=True)]
    pose = [row.tolist() if ok else None
            for row, ok in zip(solved["wrist_pose"].astype(np.float32), present, strict=True)]
    residual = [float(r) if ok else None for r, ok in zip(solved["residual"], present, strict=True)]
    tips = solved.get("fingertip_error", np.full(len(present), np.nan))
    tip = [float(t) if ok and np.isfinite(t) else None for t, ok in zip(tips, present, strict=True)]
    n = len(frame_index)
    # Typed from the stage's schema: a hand never present gives all-null columns, which pyarrow would
    # otherwise type `null` and refuse to concatenate with the other hand's rows.
    return pa.table({"clip_id": [clip_id] * n, "frame_index": np.asarray(frame_index, dtype=np.int32),
                     "hand": [side] * n, "embodiment": [embodiment] * n,
                     "q_rad": pa.array(q, RETARGETS.field("q_rad").type),
                     "wrist_pose": pa.array(pose, RETARGETS.field("wrist_pose").type),
                     "residual": pa.array(residual, type=pa.float32()),
                     "fingertip_error": pa.array(tip, type=pa.float32())})


# --- The stage -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipTask:
    """One clip to retarget, with everything a worker process needs."""

    root: str
    clip_id: str
    pose_source: str
    embodiment: str
    configs: tuple[tuple[str, RetargetConfig], ...]  # the sides still to do
    device: str | None
    options: SolverOptions | None


@dataclass(frozen=True)
class ClipResult:
    clip_id: str
    tables: tuple[tuple[str, pa.Table], ...]  # side → its `retargets` rows
    frames: int  # present hand-frames solved
    solve_s: float


def retarget_clip(task: ClipTask) -> ClipResult:
    """Retarget one clip's hands (runs in a worker: reads its frames, builds its solvers once per process)."""
    frames = hand_frames(query_engine(Path(task.root)), [task.clip_id], task.pose_source)
    tables, n_frames, solve_s = [], 0, 0.0
    for side, config in task.configs:
        rows = frames.filter(pc.equal(frames.column("hand"), side)).sort_by("frame_index")
        present = np.asarray(rows.column("present").to_pylist(), dtype=bool)
        solved = compute_retargets(_keypoints(rows.column("kp3d_m")), present, side,
                                   _retargeter(config, task.device), task.options)
        tables.append((side, retarget_rows(task.clip_id, rows.column("frame_index").to_numpy(), side,
                                           task.embodiment, solved)))
        n_frames += int(np.isfinite(solved["residual"]).sum())
        solve_s += solved["solve_s"]
    return ClipResult(task.clip_id, tuple(tables), n_frames, solve_s)


@lru_cache(maxsize=8)
def _retargeter(config: RetargetConfig, device: str | None) -> Retargeter:
    return config.build(device)


def run_retarget(root: Path | str, hand: str | Path | Embodiment, clip_ids: list[str] | None = None,
                 pose_source: str | None = None, device: str | None = None, progress: bool = True, *,
                 config_dir: Path | str | None = None, urdf_dir: Path | str | None = None,
                 options: SolverOptions | None = None, workers: int = 1, executor: str = "local"
                 ) -> RetargetReport:
    """Retarget every human clip with hand poses (or `clip_ids`) to `hand`; see the module docstring.

    `workers` > 1 (or `executor="ray"`) spreads clips over processes through `labeling.executor`;
    one process is best on a GPU, which batches each clip's frames anyway.

    Raises:
        ConfigError: the hand cannot be resolved or its config / URDF is unusable (nothing is written).
    """
    started = time.perf_counter()
    root = Path(root)
    # An Embodiment as it is: a robot's embodiment spec names its hands' configs (labeling.embodiment).
    embodiment = hand if isinstance(hand, Embodiment) else resolve_embodiment(hand, config_dir, urdf_dir)
    for config in embodiment.configs.values():
        _retargeter(config, device)  # fail early on a bad URDF or link name
    report = RetargetReport(embodiment.name)
    engine = query_engine(root)
    plan = _plan(engine, clip_ids, pose_source, report)
    report.job_id = _start_job(root, embodiment, clip_ids, pose_source, len(plan))
    done_before = retargeted_hands(engine, embodiment.name, [c for c, _ in plan])
    tasks = []
    for clip_id, source in plan:
        report.skipped += [(clip_id, side) for side in embodiment.configs if (clip_id, side) in done_before]
        todo = tuple((s, c) for s, c in embodiment.configs.items() if (clip_id, s) not in done_before)
        if todo:
            tasks.append(ClipTask(str(root), clip_id, source, embodiment.name, todo, device, options))
    lake, pending = Lake(root), []
    with make_executor(executor, workers) as pool, \
            tqdm(total=len(tasks), desc=f"retarget {embodiment.name}", unit="clip", disable=not progress) as bar:
        for outcome in pool.map_unordered(retarget_clip, tasks):
            bar.update(1)
            if outcome.error is not None:
                error = outcome.error
                report.failures.append(RetargetFailure(outcome.item.clip_id, outcome.item.clip_id,
                                                       f"{type(error).__name__}: {error}"))
                continue
            result = outcome.value
            report.frames, report.solve_s = report.frames + result.frames, report.solve_s + result.solve_s
            pending += [(result.clip_id, side, table) for side, table in result.tables]
            if sum(t.num_rows for *_, t in pending) >= COMMIT_MAX_ROWS:
                _commit(lake, engine, embodiment, pending, report)
                pending = []
    _commit(lake, engine, embodiment, pending, report)
    report.elapsed_s = time.perf_counter() - started
    _finish_job(root, report)
    return report


def _plan(engine, clip_ids: list[str] | None, pose_source: str | None,  # noqa: ANN001 (QueryEngine)
          report: RetargetReport) -> list[tuple[str, str]]:
    """(clip_id, pose_source) of every clip to do; clips without usable poses become failures."""
    candidates = scorable_clips(engine, None if clip_ids is None else list(clip_ids))
    found = {row.clip_id: list(row.pose_sources) for row in candidates.itertuples()}
    plan = []
    for clip_id in (sorted(found) if clip_ids is None else list(dict.fromkeys(clip_ids))):
        sources = found.get(clip_id, [])
        wanted = [pose_source] if pose_source else [*POSE_SOURCE_PREFERENCE, *sorted(sources)]
        chosen = next((s for s in wanted if s in sources), None)
        if chosen is None:
            reason = f"no {pose_source!r} hand poses" if pose_source else "no hand poses (not a labelled human clip)"
            report.failures.append(RetargetFailure(clip_id, clip_id, reason))
        else:
            plan.append((clip_id, chosen))
    return plan


def _keypoints(column: pa.ChunkedArray) -> npt.NDArray[np.float64]:
    """`(T, 21, 3)` from a nested keypoint column; null rows become NaN."""
    out = np.full((len(column), 21, 3), np.nan)
    for i, value in enumerate(column.to_pylist()):
        if value is not None:
            out[i] = np.asarray(value, dtype=np.float64).reshape(21, 3)
    return out


def _commit(lake: Lake, engine, embodiment: Embodiment,  # noqa: ANN001 (QueryEngine)
            pending: list[tuple[str, str, pa.Table]], report: RetargetReport) -> None:
    if not pending:
        return
    with lake.writer_lock():
        already = retargeted_hands(engine, embodiment.name, sorted({c for c, _, _ in pending}))
        fresh = [(c, s, t) for c, s, t in pending if (c, s) not in already]
        if fresh:
            meta = {"stage": STAGE_NAME, "embodiment": embodiment.name, "job_id": report.job_id,
                    "pairs": [[c, s] for c, s, _ in fresh], "sides": _side_meta(embodiment)}
            with lake.batch(**meta) as batch:
                batch.write("retargets", pa.concat_tables([t for *_, t in fresh]), {"embodiment": embodiment.name})
    report.skipped += [(c, s) for c, s, _ in pending if (c, s) in already]
    report.done += [(c, s) for c, s, _ in fresh]


def _side_meta(embodiment: Embodiment) -> dict[str, dict[str, Any]]:
    """What `robot_overlay` needs to redo the kinematics of each side, without the config files."""
    return {side: {"config": cfg.source, "urdf_path": cfg.urdf_path, "add_dummy_free_joint": cfg.add_dummy_free_joint,
                   "ignore_mimic_joint": cfg.ignore_mimic_joint, "dof": _finger_dof(cfg)}
            for side, cfg in embodiment.configs.items()}


def _finger_dof(config: RetargetConfig) -> int:
    """The hand's independent joints the solver drives (mimic joints follow, a free wrist joint is not a finger)."""
    names = _retargeter(config, None).target_joint_names
    return len(names) - (6 if config.add_dummy_free_joint else 0)


def _start_job(root: Path, embodiment: Embodiment, clip_ids: list[str] | None, pose_source: str | None,
               n_total: int) -> int:
    params = {"embodiment": embodiment.name, "clip_ids": clip_ids, "pose_source": pose_source,
              "configs": {s: c.source for s, c in embodiment.configs.items()}}
    return open_job(root, STAGE_NAME, params, n_total=n_total).id  # closes the kind's rows whose process died


def _finish_job(root: Path, report: RetargetReport) -> None:
    JobHandle(root, report.job_id).update(
        state=DONE if report.ok else FAILED, n_done=len(report.done) + len(report.skipped),
        n_failed=len(report.failures),
        message=(f"{len(report.done)} clip-hands retargeted to {report.embodiment}, {len(report.skipped)} "
                 f"already there, {len(report.failures)} failed, {report.frames_per_s:.0f} frames/s"),
        errors=[(failure.item, failure.reason) for failure in report.failures])


