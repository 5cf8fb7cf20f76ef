"""Training runs in the background: a `runs` row each, a detached process that trains, and what the app reads.

    run_id = start_run(root, export_dir, "pretrain", "smoke", author="ana")   # returns at once
    run_status(root, run_id).state      # queued | running | done | failed | stopped | interrupted
    stop_run(root, run_id)              # SIGTERM: a checkpoint after the current step, then 'stopped'
    resume_run(root, run_id)            # a new process goes on from the run folder's checkpoints/last
    run_log(run_status(root, run_id))   # log.jsonl as a DataFrame (the Train page's curves)
    run_here(root, export_dir, "pretrain", "smoke", author="ana")   # `egocurate train`: recorded, trained here
    python -m trainer.runs --root R --run-id N      (what start_run and resume_run start, detached)

A run trains into `<root>/runs/<id>-<stage>-<export name>/` (`train` writes `log.jsonl` and
`checkpoints/` there); stage `scaling` runs a scaling study (`trainer.scaling.run_scaling`) into
`fraction-*/` subfolders and writes `scaling.json` beside them, where `read_scaling(out_dir)` finds it.
The row's `config` JSON holds what the run was started with (config name, init checkpoint, fractions,
seeds) and what its process reports (device, message); its process (pid, host, start time), liveness
and stop requests are db/jobs.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import select, update

from db import paths
from db.jobs import (
    ACTIVE_STATES,
    DONE,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    STOP_FLAG,
    STOPPED,
    ask_to_stop,
    close_interrupted,
    effective_state,
    record_process,
    spawn_detached,
    this_host,
    vanished_message,
    watch_stop_flag,
)
from db.models import Export, Run, utc_now
from db.store import session_scope

from .mixture import is_training_data
from .scaling import ScalingConfig, part_steps, run_scaling

RUN_STAGES = ("pretrain", "midtrain", "scaling")
CONFIG_NAMES = ("smoke", "demo", "small", "paper")  # the built-in configs (trainer/configs/)
SCALING_FRACTIONS = (0.25, 0.5, 1.0)  # shares of the human training hours a scaling run pretrains on
SCALING_SEEDS = ScalingConfig.seeds  # pretrain runs per fraction of a scaling run
STOP_POLL_S = 5.0  # how often a run's process reads its row for a Stop it could not be signalled
LOG_TAIL_BYTES = 65_536  # the run table reads only this much of the end of each log.jsonl
ACTIVE = ACTIVE_STATES
RESUMABLE = (STOPPED, FAILED, INTERRUPTED)  # states a run resumes from (from its last checkpoint)
LOG_COLUMNS = ("step", "train_loss", "lr", "grad_norm", "samples_per_s", "part")  # run_log's columns, then val_*
_sigterm = threading.Event()  # SIGTERM came (maybe before trainer.train, which imports torch, was loaded)


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands: its row, with the dead-process check applied, and the newest numbers of its log."""

    run_id: int
    stage: str  # pretrain | midtrain | scaling
    state: str  # queued | running | done | failed | stopped | interrupted (db/jobs.py)
    data_dir: str  # the export trained on
    out_dir: str  # the run folder
    config_name: str  # smoke | demo | small | paper, or a YAML path
    init: str | None  # the checkpoint a midtrain run started from
    fractions: tuple[float, ...]  # scaling runs: the shares of the human hours
    device: str  # what the process trains on ('' until it has started)
    author: str
    created_at: datetime
    finished_at: datetime | None
    message: str  # why it failed or stopped, or what it is doing
    pid: int | None
    step: int  # optimizer steps done (of the current fraction, for scaling runs)
    max_steps: int
    train_loss: float | None  # the newest training loss
    val: dict[str, float]  # the newest validation MSE per embodiment
    part: str  # scaling runs: the fraction folder being trained ('' otherwise)


@dataclass(frozen=True)
class CheckpointInfo:
    """One saved checkpoint of a run."""

    step: int
    path: str  # the checkpoint.pt file
    size_mb: float
    saved_at: datetime
    part: str = ""  # scaling runs: the fraction folder


def default_device() -> str:
    """What a new run trains on here: 'cuda (<GPU name>)' when there is a GPU, else 'cpu'."""
    import torch

    return f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"


def start_run(root: Path | str, data_dir: Path | str, stage: str, config_name: str = "smoke",
              init: Path | str | None = None, author: str = "app", *, scaling: bool = False,
              fractions: Sequence[float] = SCALING_FRACTIONS, seeds: int = SCALING_SEEDS, study: dict | None = None
              ) -> int:
    """Record a run and start its detached process (it outlives the caller); returns the run id.

    `scaling=True` (or stage 'scaling') runs a scaling study (`fractions`, `seeds`, other ScalingConfig fields in
    `study`). Arguments are checked here, so a bad one raises ValueError instead of failing in the background.
    """
    if init is not None and (scaling or stage != "midtrain"):  # the Train page offers an init for midtrain only
        raise ValueError("an init checkpoint is for midtrain runs")
    run_id = create_run(root, data_dir, stage, config_name, init, author, scaling=scaling, fractions=fractions,
                        seeds=seeds, study=study)
    _spawn(Path(root).resolve(), run_id)
    return run_id


def create_run(root: Path | str, data_dir: Path | str, stage: str, config_name: str = "smoke",
               init: Path | str | None = None, author: str = "app", *, scaling: bool = False,
               fractions: Sequence[float] = SCALING_FRACTIONS, seeds: int = SCALING_SEEDS, study: dict | None = None,
               out_dir: Path | str | None = None, max_steps: int | None = None, device: str | None = None,
               resume: bool = True) -> int:
    """The `runs` row of `start_run`, queued, with no process yet (`execute_run` trains it here).

    `out_dir` (default `<root>/runs/<id>-<stage>-<export>`), `max_steps`, `device` and `resume` override
    the config the way `egocurate train` does.
    """
    from .train import config_path

    root = Path(root).resolve()
    stage = "scaling" if scaling else stage
    data_dir = Path(data_dir).resolve()
    if stage not in RUN_STAGES:
        raise ValueError(f"stage must be one of {RUN_STAGES}, got {stage!r}")
    if not is_training_data(data_dir):
        raise ValueError(f"{data_dir}: not an export (no meta/info.json, nor a mixture.json)")
    if init is not None and stage == "scaling":
        raise ValueError("an init checkpoint is for pretrain or midtrain runs, not scaling runs")
    if init is not None and not Path(init).exists():
        raise ValueError(f"{init}: no such checkpoint")
    if stage == "scaling" and (len(set(fractions)) < 2 or not all(0 < f <= 1 for f in fractions)):
        raise ValueError(f"a scaling run needs two or more fractions in (0, 1], got {list(fractions)}")
    plan = ScalingConfig.from_dict({**(study or {}), "fractions": tuple(fractions), "seeds": seeds}).to_dict() \
        if stage == "scaling" else None  # raises ValueError naming a bad value
    config_path(config_name)
    config = {"name": config_name, "init": str(Path(init).resolve()) if init else None,
              "fractions": sorted(float(f) for f in fractions) if stage == "scaling" else [],
              **({"scaling": plan} if plan else {})}
    config |= {k: v for k, v in (("max_steps_override", max_steps), ("device_override", device)) if v is not None}
    config |= {} if resume else {"resume": False}
    with session_scope(root) as session:
        close_interrupted(session, Run)  # runs killed earlier: their processes cannot close their rows
        run = Run(stage=stage, data_dir=str(data_dir), out_dir="", config=config, state=QUEUED, author=author,
                  host=this_host())
        session.add(run)
        session.flush()
        run.out_dir = str(Path(out_dir).resolve() if out_dir else paths.run_dir(root, run.id, stage, data_dir.name))
        return int(run.id)


def run_here(root: Path | str, data_dir: Path | str, stage: str, config_name: str = "smoke",
             init: Path | str | None = None, author: str = "cli", **options: object) -> RunStatus:
    """Record a run and train it in this process (`egocurate train`): the Train page lists it like its own.

    `options` are `create_run`'s keywords (scaling, fractions, seeds, study, out_dir, max_steps, device, resume).
    """
    run_id = create_run(root, data_dir, stage, config_name, init, author, **options)
    execute_run(Path(root).resolve(), run_id)
    return run_status(root, run_id)


def _spawn(root: Path, run_id: int) -> None:
    spawn_detached(root, Run, run_id, ["-m", "trainer.runs", "--root", str(root), "--run-id", str(run_id)],
                   f"run-{run_id}")


def stop_run(root: Path | str, run_id: int) -> None:
    """Ask a queued or running run to stop: it saves a checkpoint after its current step ('stopped').

    Raises:
        KeyError: no such run.
        ValueError: the run is not queued or running.
    """
    current = run_status(root, run_id)
    if current.state not in ACTIVE:
        raise ValueError(f"run {run_id} is {current.state}, not running")
    host = ask_to_stop(Path(root), Run, run_id)
    if host is not None:
        raise ValueError(f"run {run_id} runs on {host}: it is marked to stop, and stops within {STOP_POLL_S:.0f} s "
                         "when its process next reads the store")


def resume_run(root: Path | str, run_id: int, max_steps: int | None = None) -> int:
    """Start a stopped, failed or interrupted run's process again, from its last checkpoint. Returns the run id.

    `max_steps` gives the run a new step budget (longer or shorter; the LR schedule follows it).

    Raises:
        KeyError: no such run.
        ValueError: the run is queued, running or done.
    """
    root = Path(root).resolve()
    current = run_status(root, run_id)
    if current.state not in RESUMABLE:
        raise ValueError(f"run {run_id} is {current.state}; only stopped or failed (or interrupted) runs resume")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    with session_scope(root) as session:
        run = session.get(Run, run_id)
        steps = {"max_steps_override": max_steps} if max_steps is not None else {}
        config = {**(run.config or {}), STOP_FLAG: False, "message": "resuming", "resume": True} | steps
        # Only the row as it was read turns queued: of two clicks (or two admins), one resumes, the
        # other is refused, so two processes never train into the same folder.
        claimed = session.execute(
            update(Run).where(Run.id == run_id, Run.state == run.state, Run.pid.is_(None) if run.pid is None
                              else Run.pid == run.pid)
            .values(state=QUEUED, finished_at=None, pid=None, pid_start=None, config=config)).rowcount
    if claimed != 1:
        raise ValueError(f"run {run_id} changed meanwhile (resumed or stopped elsewhere); look again")
    _spawn(root, run_id)
    return run_id



def run_status(root: Path | str, run_id: int) -> RunStatus:
    """A run's state and newest numbers. Raises KeyError for an unknown run."""
    with session_scope(Path(root)) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise KeyError(f"no run {run_id}")
        return _status(run)


def list_runs(root: Path | str, stage: str | None = None, limit: int = 50) -> list[RunStatus]:
    """The newest runs (of one stage, or all), newest first."""
    query = select(Run).order_by(Run.id.desc()).limit(limit)
    if stage is not None:
        query = query.where(Run.stage == stage)
    with session_scope(Path(root)) as session:
        return [_status(run) for run in session.scalars(query).all()]


def _status(run: Run) -> RunStatus:
    config = run.config or {}
    state = effective_state(run)
    message = config.get("message", "") if state == run.state else vanished_message(run, state)
    part = _current_part(Path(run.out_dir)) if run.stage == "scaling" else ""
    records = _tail_records(paths.run_log_path(Path(run.out_dir) / part))
    steps = [r for r in records if "train_loss" in r]
    evals = [r["val"] for r in records if "val" in r]
    return RunStatus(run.id, run.stage, state, run.data_dir, run.out_dir, config.get("name", ""), config.get("init"),
                     tuple(config.get("fractions") or ()), config.get("device", ""), run.author, run.created_at,
                     run.finished_at, message, run.pid, steps[-1]["step"] + 1 if steps else 0,
                     (part and part_steps(run.out_dir, part)) or int(config.get("max_steps", 0)),
                     steps[-1]["train_loss"] if steps else None,
                     evals[-1] if evals else {}, part)


def _parts(out_dir: Path) -> list[str]:
    """A scaling run's fraction folders, smallest fraction first (the order they train in)."""
    return sorted(p.name for p in out_dir.glob(paths.SCALING_PART_GLOB) if p.is_dir()) if out_dir.is_dir() else []


def _current_part(out_dir: Path) -> str:
    parts = [p for p in _parts(out_dir) if paths.run_log_path(out_dir / p).is_file()]
    return parts[-1] if parts else ""


def _tail_records(path: Path) -> list[dict]:
    """The records in the last LOG_TAIL_BYTES of a log.jsonl (the first, maybe cut, line dropped)."""
    if not path.is_file():
        return []
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - LOG_TAIL_BYTES))
        lines = handle.read().decode(errors="replace").splitlines()
    if size > LOG_TAIL_BYTES:
        lines = lines[1:]
    return [json.loads(line) for line in lines if line.strip().endswith("}")]


def run_log(run: RunStatus) -> pd.DataFrame:
    """Every log record of a run, one row per record: step, train_loss, lr, grad_norm, samples_per_s,
    `val_<embodiment>` (on evaluation rows), and `part` (the fraction folder of a scaling run, else '')."""
    from .run_log import read_log

    out_dir = Path(run.out_dir)
    frames = []
    for part in (_parts(out_dir) if run.stage == "scaling" else [""]):
        records = [{k: v for k, v in r.items() if k != "val"} | {f"val_{e}": x for e, x in r.get("val", {}).items()}
                   for r in read_log(out_dir / part)]
        if records:
            frames.append(pd.DataFrame.from_records(records).assign(part=part))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["step", "part"])
    # Every step column is there even before the first step is logged (only the step-0 evaluation is).
    return frame.reindex(columns=[*LOG_COLUMNS, *sorted(c for c in frame.columns if c not in LOG_COLUMNS)])


def checkpoints(run: RunStatus) -> list[CheckpointInfo]:
    """The run's saved checkpoints, by part then step."""
    out_dir = Path(run.out_dir)
    found = []
    for part in (_parts(out_dir) if run.stage == "scaling" else [""]):
        for path in sorted((out_dir / part / paths.CHECKPOINTS_DIR).glob(f"[0-9]*/{paths.CHECKPOINT_FILE}")):
            stat = path.stat()
            found.append(CheckpointInfo(int(path.parent.name), str(path), round(stat.st_size / 1e6, 3),
                                        datetime.fromtimestamp(stat.st_mtime).astimezone(), part))
    return found


def export_choices(root: Path | str) -> dict[str, str]:
    """Finished exports that are still on disk, newest first: folder -> a label for a picker."""
    with session_scope(Path(root)) as session:
        rows = session.scalars(select(Export).where(Export.state == DONE).order_by(Export.id.desc())).all()
        out = {}
        for row in rows:
            if is_training_data(row.out_dir) and row.out_dir not in out:
                counts = (row.manifest or {}).get("counts", {})
                out[row.out_dir] = (f"{Path(row.out_dir).name} · {row.format} · {counts.get('episodes', '?')} "
                                    f"episodes · {row.created_at:%Y-%m-%d %H:%M}")
        return out


def init_choices(root: Path | str) -> dict[str, str]:
    """Checkpoints of finished pretrain runs, newest first: path -> a label for a picker."""
    return {str(paths.last_checkpoint(Path(r.out_dir))): f"run {r.run_id} · {Path(r.data_dir).name} · "
            f"{r.config_name} · step {r.step}" for r in list_runs(root, "pretrain")
            if r.state == DONE and paths.last_checkpoint(Path(r.out_dir)).exists()}


# --- In the run's process -------------------------------------------------------------------------

def execute_run(root: Path, run_id: int) -> str:
    """Train run `run_id` here and record how it ended; returns the final state."""
    from .train import TrainConfig, TrainingStopped, config_path, request_stop, train

    with session_scope(root) as session:
        run = session.get(Run, run_id)
        spec, stage, data_dir, out_dir = dict(run.config or {}), run.stage, run.data_dir, run.out_dir
    if spec.get(STOP_FLAG) or _sigterm.is_set():  # a stop that came before train's flag existed
        request_stop()
    override = {"data_dir": data_dir, "out_dir": out_dir, "stage": "pretrain" if stage == "scaling" else stage,
                "init": spec.get("init"), "cache_dir": str(root / paths.TRAINER_CACHE_DIR),
        "resume": spec.get("resume", True)}  # `egocurate train --no-resume` starts over, a Resume goes on
    override |= {"max_steps": spec["max_steps_override"]} if spec.get("max_steps_override") else {}
    override |= {"device": spec["device_override"]} if spec.get("device_override") else {}
    state, message = DONE, ""
    # A Stop clicked on another machine (a team store) cannot signal this process: it reads the row.
    finished = watch_stop_flag(root, Run, run_id, request_stop, STOP_POLL_S)
    try:
        cfg = TrainConfig.from_yaml(config_path(spec["name"]), override)
        device = _device_label(cfg.device)
        _record(root, run_id, RUNNING, {"device": device, "max_steps": cfg.max_steps, "message": "training"},
                claim=True)
        if stage == "scaling":
            result = run_scaling(cfg, ScalingConfig.from_dict(spec.get("scaling") or {"fractions": spec["fractions"]}))
            fit, transfer = result.fit, result.transfer
            message = f"L = {fit.a:.4f} + ({fit.b:.4f}) ln(hours), R² = {fit.r2:.3f}" + (
                f"; robot vs human loss r = {transfer.r:.3f}" if transfer else "")
        else:
            message = f"last checkpoint {train(cfg)}"
    except TrainingStopped as stopped:
        state, message = STOPPED, f"stopped on request; {stopped.checkpoint}"
    except Exception as exc:  # recorded for the page; the traceback goes to the process log
        traceback.print_exc()
        state, message = FAILED, f"{type(exc).__name__}: {exc}"
    finished.set()
    _record(root, run_id, state, {"message": message}, finished=True)
    return state


def _device_label(name: str) -> str:
    import torch

    if name == "auto":
        return default_device()
    return f"{name} ({torch.cuda.get_device_name(torch.device(name))})" if name.startswith("cuda") else name


def _record(root: Path, run_id: int, state: str, values: dict[str, object], finished: bool = False,
            claim: bool = False) -> None:
    """Write the run's state and reports; `claim` names this process as the run's."""
    with session_scope(root) as session:
        run = session.get(Run, run_id)
        run.state, run.config = state, {**(run.config or {}), **values}
        if claim:
            record_process(run)
        if finished:
            run.finished_at = utc_now()


def _on_sigterm(_signum: int, _frame: object) -> None:
    _sigterm.set()
    train = sys.modules.get("trainer.train")
    if train is not None and hasattr(train, "request_stop"):  # loaded: the loop checks its flag every step
        train.request_stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run a run made by `start_run` (in its detached process)."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    parser = argparse.ArgumentParser(prog="python -m trainer.runs")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--run-id", type=int, required=True)
    args = parser.parse_args(argv)
    return 0 if execute_run(args.root, args.run_id) in (DONE, STOPPED) else 1


if __name__ == "__main__":
    # The imported module's main, not this `__main__` copy, so `trainer.train`'s stop flag is the one set.
    from trainer.runs import main as _main

    raise SystemExit(_main())
