"""Export an aligned mid-training set as LeRobot v2.1 (+ GR00T modality) or v3.0 (`egocurate export`).

    result = run_export(root, ExportConfig(out_dir=Path("exports/midtrain"), format="lerobot-v3",
                                           view_name="clean", gr00t=False))
    result.out_dir, result.manifest

Atomic: everything is written into `<out>.tmp-<id>/` beside the destination, read back and checked
(the format's own check, then our LeRobot reader `labeling.sources.lerobot.read_lerobot`), then
renamed to `<out>`; any failure removes the temporary folder, so no partial dataset is ever
visible. An existing non-empty `<out>` is refused unless `overwrite`. Every run is recorded in the
`exports` table (running → done | failed) with its manifest, and in the audit log; a run killed
mid-way (kill -9) is closed as `interrupted` (db/jobs.py), its temp folder removed, by the next export.

When some robot's state is not the 62-D human layout (a real robot with its embodiment spec), the
folder holds one dataset per embodiment instead (`curation.export_mixture`), written the same way.
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import update

from db import paths
from db.engine import query_engine
from db.jobs import DONE, FAILED, RUNNING, close_interrupted, record_process
from db.models import Export
from db.queries.annotations import export_rows
from db.queries.frames import robot_state_rows
from db.queries.retargets import retarget_rows
from db.store import audit, session_scope
from labeling.sources.lerobot import read_lerobot
from labeling.sources.lerobot_layout import MANIFEST_PATH, PAIRS_PATH

from .action_layout import STATE_WIDTH, next_state_actions, state_names
from .export_cuts import EpisodesOfClip, pair_parts
from .export_episodes import EpisodeData, ImageStats, clip_frames, human_episode_arrays, sync_dir
from .export_language import episode_subtasks, segments_by_clip, with_segment_tasks
from .export_manifest import build_manifest
from .export_plan import ExportConfig, ExportPlan, plan_export, split_ranges
from .export_v21 import V21Writer, check_v21
from .export_v30 import V30Writer, check_v30
from .pairing import human_state_62, robot_state

Progress = Callable[[int, int, str], None]  # (episodes done, episodes in all, what is happening)
WRITERS = {"lerobot-v2.1": (V21Writer, check_v21), "lerobot-v3": (V30Writer, check_v30)}
ROBOT_TYPE = "egocurate_aligned_human_robot"  # info.json robot_type of a mixed human + robot export


class ExportError(RuntimeError):
    """An export refused or failed; nothing was left at the destination."""


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    export_id: int
    manifest: dict


def destination(out_dir: Path | str, overwrite: bool) -> Path:
    """The resolved destination, refusing traversal and existing non-empty folders.

    The folder's own name must be plain (checked by `ExportConfig`); its parent must exist and is
    resolved, so `..` or a symlinked destination cannot point the export elsewhere.
    """
    out = Path(out_dir).expanduser()
    parent = out.parent.resolve()
    if not parent.is_dir():
        raise ExportError(f"{parent}: the export's parent folder does not exist")
    target = parent / out.name
    if target.is_symlink():
        raise ExportError(f"{target}: is a symbolic link; choose a real folder")
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise ExportError(f"{target}: exists and is not empty (use --overwrite to replace it)")
    return target


def checked_destination(root: Path, cfg: ExportConfig) -> Path:
    """`destination` of an export of `root` (the CLI asks before its progress bar starts): the root's
    exports folder is made for it, since the suggested `default_out_dir` must work on a fresh root."""
    exports = Path(root).resolve() / paths.EXPORTS_DIR
    if Path(cfg.out_dir).expanduser().resolve().parent == exports:
        exports.mkdir(parents=True, exist_ok=True)
    out = destination(cfg.out_dir, cfg.overwrite)
    _refuse_inside_data_root(root, out)
    return out


def _export_fps(plan: ExportPlan, cfg: ExportConfig) -> float:
    rates = sorted(set(plan.episodes["fps"].round(6)))
    if cfg.fps is not None and any(not math.isclose(r, cfg.fps, rel_tol=1e-6) for r in rates):
        raise ExportError(f"clips run at {rates} fps; resampling to {cfg.fps} fps is not supported")
    if len(rates) > 1:
        raise ExportError(f"the clips run at different frame rates {rates}: narrow the view to one")
    return float(rates[0])


def _start_record(root: Path, cfg: ExportConfig, out: Path, tmp: Path) -> int:
    with session_scope(root) as session:
        # Where it writes, until the real manifest replaces it: a later export closes this row and
        # removes the temp folder if this process dies without finishing (`_close_interrupted`).
        row = Export(out_dir=str(out), format=cfg.format, view_name=cfg.view_name, state=RUNNING,
                     author=cfg.author, manifest={"tmp_dir": str(tmp)})
        record_process(row)
        session.add(row)
        session.flush()
        audit(session, actor=cfg.author, action="export.start", entity="export", entity_id=row.id,
              after={"out_dir": str(out), "format": cfg.format, "view": cfg.view_name})
        return row.id


def _finish_record(root: Path, export_id: int, state: str, manifest: dict, actor: str) -> None:
    with session_scope(root) as session:
        session.execute(update(Export).where(Export.id == export_id).values(state=state, manifest=manifest))
        audit(session, actor=actor, action=f"export.{state}", entity="export", entity_id=export_id,
              after={"state": state, **({"error": manifest["error"]} if "error" in manifest else {})})
        session.info["wrote"] = True


def _close_interrupted(root: Path, actor: str) -> None:
    """Close exports whose process died mid-way (kill -9, power cut): they cannot close themselves.

    Their rows would stay `running` and their `<out>.tmp-*` folders stay beside the destination
    forever; only folders named like the temp folder of the row's own destination are removed.
    """
    with session_scope(root) as session:
        for row in close_interrupted(session, Export):
            out, tmp = Path(row.out_dir), Path(str(row.manifest.get("tmp_dir") or ""))
            if tmp.parent == out.parent and tmp.name.startswith(f"{out.name}.tmp-"):
                shutil.rmtree(tmp, ignore_errors=True)
            _restore_moved_aside(out)
            audit(session, actor=actor, action=f"export.{row.state}", entity="export", entity_id=row.id,
                  after={"state": row.state, "error": row.manifest["error"]})


def _restore_moved_aside(out: Path) -> None:
    """Undo `_publish` cut between its two renames: the previous export goes back under its name.

    A kill after the old folder was moved aside but before the new one was renamed in would leave
    nothing under `out`; a kill after both renames leaves the old folder beside it, now garbage.
    """
    moved = sorted(out.parent.glob(f"{glob.escape(out.name)}.old-*"), key=lambda p: p.stat().st_mtime)
    if moved and not out.exists():
        os.replace(moved.pop(), out)
    for old in moved:
        shutil.rmtree(old, ignore_errors=True)


def _refuse_inside_data_root(root: Path, out: Path) -> None:
    """An export replaces its folder (with --overwrite): never the data root, a folder holding it, or
    its store (lake, caches, demo media, training runs); inside `exports/`, only `exports/<name>`."""
    data_root = Path(root).resolve()
    exports = data_root / paths.EXPORTS_DIR
    store = [data_root / name for name in (paths.LAKE_DIR, paths.CACHE_DIR, paths.DEMO_DIR, paths.RUNS_DIR)]
    if (data_root.is_relative_to(out) or any(out.is_relative_to(folder) for folder in store)
            or (out.is_relative_to(exports) and out.parent != exports)):
        raise ExportError(f"{out}: the data root, a folder holding it, or a folder of its store; "
                          f"export to {exports}/<name> or a folder outside it")


def run_export(root: Path, cfg: ExportConfig, progress: Progress | None = None) -> ExportResult:
    """Write the export atomically and record it (see the module docstring).

    Raises:
        ExportError: refused (destination, nothing to export, mixed frame rates) or failed while
            writing or checking; the message says why, and the destination is left as it was.
    """
    _close_interrupted(root, cfg.author)  # first: it may put a previous export back under its name
    out = checked_destination(root, cfg)
    try:
        plan = plan_export(root, cfg)
    except KeyError as exc:  # an unknown view name
        raise ExportError(str(exc.args[0] if exc.args else exc)) from exc
    if plan.episodes.empty:
        why = "; ".join(sorted(set(plan.dropped_pairs["reason"]))) if len(plan.dropped_pairs) else ""
        raise ExportError(f"nothing to export: no accepted pair has both clips in view {cfg.view_name!r} "
                          f"({len(plan.dropped_pairs)} accepted pairs left out{': ' + why if why else ''})")
    from .export_mixture import MixtureError, needs_mixture, write_mixture  # builds on this module's writers

    mixture = needs_mixture(plan)  # robots in their own layout: one dataset per embodiment
    fps = None if mixture else _export_fps(plan, cfg)
    tmp = out.parent / f"{out.name}.tmp-{uuid.uuid4().hex[:12]}"
    export_id = _start_record(root, cfg, out, tmp)
    try:
        manifest = (write_mixture(root, cfg, plan, tmp, export_id, progress) if mixture
                    else _write(root, cfg, plan, fps, tmp, export_id, progress))
        _publish(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _finish_record(root, export_id, FAILED, {"error": f"{type(exc).__name__}: {exc}"}, cfg.author)
        if isinstance(exc, (ExportError, KeyboardInterrupt)):
            raise
        if isinstance(exc, MixtureError):
            raise ExportError(str(exc)) from exc
        raise ExportError(f"export to {out} failed, nothing was written there: {exc}") from exc
    _finish_record(root, export_id, DONE, manifest, cfg.author)
    return ExportResult(out_dir=out, export_id=export_id, manifest=manifest)


def _write(root: Path, cfg: ExportConfig, plan: ExportPlan, fps: float, tmp: Path, export_id: int,
           progress: Progress | None) -> dict:
    writer_cls, check = WRITERS[cfg.format]
    tmp.mkdir()
    subtasks = cfg.subtasks and not plan.segments.empty
    writer = writer_cls(tmp, fps, cfg.video, list(state_names()), ROBOT_TYPE, cfg.gr00t, subtasks=subtasks)
    segments = segments_by_clip(plan.segments) if subtasks else {}
    tasks = list(dict.fromkeys(plan.episodes["task"]))
    if subtasks and cfg.format == "lerobot-v2.1" and cfg.gr00t:  # GR00T's annotation column points into tasks
        tasks = with_segment_tasks(tasks, plan.segments.to_dict("records"))
    episodes_of_clip: EpisodesOfClip = {}
    total = len(plan.episodes)
    try:
        for index, row in enumerate(plan.episodes.itertuples()):
            if progress:
                progress(index, total, f"episode {index + 1}/{total}: {row.kind} {row.clip_id[:12]}")
            try:
                episode = _episode(root, row, cfg)
                episode.episode_index, episode.task_index = index, tasks.index(row.task)
                episode.subtasks = episode_subtasks(segments.get(row.clip_id, []), row.frame_from, row.frame_to, tasks)
                stats = ImageStats()
                frames = clip_frames(row.path, row.video_from_s, row.n_frames, cfg.video, stats, skip=row.frame_from)
                writer.add_episode(episode, frames, stats)
            except ExportError:
                raise
            except Exception as exc:  # name the clip: "nothing was written" alone does not say what to fix
                raise RuntimeError(f"{row.kind} clip {row.clip_id} ({row.path}): {type(exc).__name__}: {exc}") from exc
            episodes_of_clip.setdefault(row.clip_id, []).append((index, row.frame_from, row.frame_to))
    finally:
        if hasattr(writer, "close_files"):
            writer.close_files()
    writer.finalize(tasks, split_ranges(plan.episodes))
    _write_pairs(tmp, plan, episodes_of_clip)
    if progress:
        progress(total, total, "checking the written dataset")
    _read_back(tmp, check, total)
    manifest = build_manifest(tmp, cfg, plan, fps, export_id, episodes_of_clip)
    (tmp / MANIFEST_PATH).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def _episode(root: Path, row: object, cfg: ExportConfig) -> EpisodeData:
    """The vectors of one planned episode: source frames `[frame_from, frame_to)` of its clip (human: from
    retargets, wrists relative to the episode's first frame; robot: its own state and action)."""
    engine = query_engine(root)
    filled, kept = 0, slice(row.frame_from, row.frame_to)
    if row.kind == "human":
        state_62, filled = human_state_62(retarget_rows(engine, [row.clip_id], cfg.embodiment), row.clip_n_frames)
        state, action = human_episode_arrays(state_62[kept])
    else:
        state, action = _robot_arrays(robot_state_rows(engine, [row.clip_id]), row.clip_n_frames, row.clip_id, kept)
    return EpisodeData(clip_id=row.clip_id, kind=row.kind, embodiment=row.embodiment, task=row.task,
                       pair_id=int(row.pair_id), pair_ids=list(row.pair_ids), split=row.split,
                       video_path=row.path, video_from_s=row.video_from_s, n_frames=row.n_frames,
                       state=state, action=action, filled_frames=filled,
                       kept_frames=[[int(row.frame_from), int(row.frame_to)]])


def _robot_arrays(rows: pa.Table, n_frames: int, clip_id: str, kept: slice = slice(None)
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The `kept` frames' state (frames stored without one interpolated) and action (without recorded
    actions: the next kept frame's state)."""
    filled = robot_state(rows)
    state = np.zeros((0, 0), np.float32) if filled is None else filled.astype(np.float32)
    if state.shape != (n_frames, STATE_WIDTH):
        raise ExportError(f"robot episode {clip_id}: state is {state.shape}, expected ({n_frames}, {STATE_WIDTH})")
    actions = rows.column("action").to_pylist()
    if any(a is None or len(a) != STATE_WIDTH for a in actions):
        return state[kept], next_state_actions(state[kept]).astype(np.float32)
    return state[kept], np.asarray(actions, dtype=np.float32).reshape(n_frames, STATE_WIDTH)[kept]


def _write_pairs(root: Path, plan: ExportPlan, episodes_of_clip: EpisodesOfClip) -> None:
    """`meta/pairs.jsonl`: a line per pair and per (human episode, robot episode) its warping path crosses,
    the path in those episodes' own frames (a cut clip's path loses the steps on frames cut)."""
    lines = [json.dumps({"pair_id": int(row.id), "pair_group": int(row.pair_id), "human_episode": human,
                         "robot_episode": robot, "cost": None if pd.isna(row.cost) else float(row.cost),
                         "path": steps}) for row, human, robot, steps in pair_parts(plan.pairs, episodes_of_clip)]
    (root / PAIRS_PATH).write_text("".join(line + "\n" for line in lines))


def _read_back(root: Path, check: Callable[[Path], int], n_episodes: int) -> None:
    """The format's own check, then our LeRobot reader must see every episode with its length."""
    total = check(root)
    read = read_lerobot(root)
    problems = [f"{f.item}: {f.reason}" for f in read.failures] + read.warnings
    if problems or len(read.items) != n_episodes:
        raise ExportError(f"read-back found {len(read.items)}/{n_episodes} episodes: {problems[:3]}")
    if sum(item.clip["n_frames"] for item in read.items) != total:
        raise ExportError("read-back frame counts differ from the written episodes")


def _publish(tmp: Path, out: Path) -> None:
    """Rename the checked folder into place; an old folder is moved aside first and removed after."""
    old = None
    if out.exists():
        old = out.parent / f"{out.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        if old is not None:
            os.replace(old, out)
        raise
    sync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def list_exports(root: Path) -> pd.DataFrame:
    """Past exports, newest first, with their manifests parsed (the Export page's table)."""
    frame = export_rows(query_engine(root))
    frame["manifest"] = [json.loads(m) if isinstance(m, str) else None for m in frame["manifest"]]
    return frame
