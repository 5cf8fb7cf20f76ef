"""Background training runs (trainer/runs.py): detached processes on the tiny demo export, followed through the store.

Runs go to a fresh data root per test; the export is the session's (tests/trainer/conftest.py). Waits
poll the store with a generous deadline and assert on states and files, never on durations.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from trainer.runs import (
    ACTIVE,
    RunStatus,
    checkpoints,
    default_device,
    list_runs,
    resume_run,
    run_log,
    run_status,
    start_run,
    stop_run,
)

WAIT_S = 240  # a deadline for a state that must come, not a speed requirement
# The smoke model with a step budget only a stop (or a resume's new budget) ends.
ENDLESS = {"batch_size": 8, "max_steps": 100_000, "warmup_steps": 2, "eval_every": 100_000, "eval_timesteps": 8,
           "eval_samples": 1, "ckpt_every": 100_000, "log_every": 2, "workers": 0,
           "model": {"image_size": 32, "patch": 8, "d_model": 32, "n_heads": 2, "backbone_layers": 1, "dit_layers": 1,
                     "chunk": 8, "flow_steps": 4}}


def write_config(path: Path, values: dict) -> str:
    path.write_text(yaml.safe_dump(values))
    return str(path)


def wait_until(check: Callable[[], RunStatus | bool], what: str) -> RunStatus | bool:
    deadline = time.monotonic() + WAIT_S
    while not (result := check()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)
    return result


def finished(root: Path, run_id: int) -> RunStatus:
    return wait_until(lambda: (s := run_status(root, run_id)).state not in ACTIVE and s, f"run {run_id} to end")


def test_a_detached_run_stops_with_a_checkpoint_then_resumes_from_it_to_done(demo_exports, tmp_path):
    root = tmp_path / "root"
    run_id = start_run(root, demo_exports["v30"], "pretrain", write_config(tmp_path / "endless.yml", ENDLESS),
                       author="ana")
    assert run_status(root, run_id).state in ACTIVE  # start_run returns at once
    wait_until(lambda: run_status(root, run_id).step >= 2, "two steps")
    stop_run(root, run_id)
    stopped = finished(root, run_id)
    assert stopped.state == "stopped" and "stopped on request" in stopped.message, stopped.message
    steps = [c.step for c in checkpoints(stopped)]
    assert len(steps) == 1 and 2 <= steps[0] < ENDLESS["max_steps"]
    k = steps[0]
    before = run_log(stopped)
    assert before["step"].max() == k - 1  # every step up to the checkpoint, nothing after it

    resume_run(root, run_id, max_steps=k + 3)
    done = finished(root, run_id)
    assert done.state == "done", (done.message, (root / "cache/jobs" / f"run-{run_id}.log").read_text())
    assert done.step == k + 3 and done.max_steps == k + 3 and done.author == "ana"
    assert done.device == default_device()  # cuda (its name) with a GPU, else cpu
    assert done.finished_at is not None and done.train_loss is not None and "human" in done.val
    after = run_log(done)
    train_steps = after.dropna(subset=["train_loss"])
    assert list(train_steps["step"]) == list(range(k + 3))  # continued at k: no step repeated or missing
    kept = before.dropna(subset=["train_loss"]).set_index("step")["train_loss"]
    assert train_steps.set_index("step")["train_loss"].loc[kept.index].tolist() == kept.tolist()
    assert list(after.dropna(subset=["val_human"])["step"]) == [0, k + 3]  # the first and the final estimate
    assert [c.step for c in checkpoints(done)] == [k, k + 3]
    assert all(Path(c.path).is_file() and c.size_mb > 0 for c in checkpoints(done))
    assert [r.run_id for r in list_runs(root)] == [run_id] and list_runs(root, "scaling") == []
    with pytest.raises(ValueError, match="only stopped or failed"):
        resume_run(root, run_id)
    with pytest.raises(ValueError, match="done"):
        stop_run(root, run_id)


def test_a_killed_run_reads_as_interrupted_with_the_reason_and_resumes(demo_exports, tmp_path):
    root = tmp_path / "root"
    run_id = start_run(root, demo_exports["v30"], "pretrain", write_config(tmp_path / "endless.yml", ENDLESS))
    running = wait_until(lambda: (s := run_status(root, run_id)).step >= 1 and s, "a step")
    assert running.state == "running" and running.pid
    os.kill(running.pid, signal.SIGKILL)
    interrupted = finished(root, run_id)
    assert interrupted.state == "interrupted" and f"pid {running.pid}" in interrupted.message
    with pytest.raises(ValueError, match="interrupted"):
        stop_run(root, run_id)
    resume_run(root, run_id, max_steps=2)  # like a failed run: no checkpoint yet, so from the start
    done = finished(root, run_id)
    assert done.state == "done" and done.step == 2, done.message


def test_start_refuses_what_cannot_run(demo_exports, tmp_path):
    root = tmp_path / "root"
    with pytest.raises(ValueError, match="not an export"):
        start_run(root, tmp_path, "pretrain")
    with pytest.raises(ValueError, match="stage"):
        start_run(root, demo_exports["v30"], "posttrain")
    with pytest.raises(ValueError, match="init checkpoint is for midtrain"):
        start_run(root, demo_exports["v30"], "pretrain", init=tmp_path)
    with pytest.raises(ValueError, match="config"):
        start_run(root, demo_exports["v30"], "pretrain", "huge")
    with pytest.raises(ValueError, match="two or more fractions"):
        start_run(root, demo_exports["v30"], "pretrain", scaling=True, fractions=(1.0,))
    with pytest.raises(ValueError, match="seeds"):
        start_run(root, demo_exports["v30"], "scaling", fractions=(0.5, 1.0), seeds=0)
    with pytest.raises(ValueError, match="unknown fields"):
        start_run(root, demo_exports["v30"], "scaling", study={"epoch": 2})
    assert list_runs(root) == []


def test_training_a_finished_run_again_keeps_its_log_and_final_estimate(demo_exports, tmp_path):
    """What a resumed scaling run does with its fractions already done: nothing, so their final losses stay."""
    from trainer.run_log import final_val, read_log
    from trainer.train import TrainConfig, train

    values = ENDLESS | {"max_steps": 3, "eval_every": 3, "ckpt_every": 3, "quiet": True,
                        "data_dir": str(demo_exports["v30"]), "out_dir": str(tmp_path / "run")}
    cfg = TrainConfig.from_dict(values)
    last = train(cfg)
    log, val = read_log(tmp_path / "run"), final_val(tmp_path / "run")
    assert log[-1] == {"step": 3, "val": val}  # the final estimate, after the last step
    assert train(cfg).resolve() == last.resolve()
    assert read_log(tmp_path / "run") == log


def test_stop_never_signals_a_pid_of_another_host(demo_exports, tmp_path):
    """With a team store (PostgreSQL) a run's pid means something only on the machine that started it."""
    import subprocess
    import sys

    from db.models import Run
    from db.store import session_scope
    from trainer.runs import create_run

    root = tmp_path / "root"
    run_id = create_run(root, demo_exports["v30"], "pretrain")
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # the same pid, here
    try:
        with session_scope(root) as session:
            run = session.get(Run, run_id)
            run.state, run.pid, run.host = "running", bystander.pid, "gpu-node-7"
        with pytest.raises(ValueError, match="gpu-node-7: it is marked to stop"):
            stop_run(root, run_id)
        assert bystander.poll() is None, "a process of this machine was signalled"
        with session_scope(root) as session:
            assert session.get(Run, run_id).config["stop_requested"]  # the run itself stops when it next looks
    finally:
        bystander.kill()
        bystander.wait()


def test_a_run_stops_when_its_row_asks_even_without_a_signal(demo_exports, tmp_path):
    """What a Stop from another machine does: only the row changes; the run's process reads it and stops."""
    from db.models import Run
    from db.store import session_scope

    root = tmp_path / "root"
    run_id = start_run(root, demo_exports["v30"], "pretrain", write_config(tmp_path / "endless.yml", ENDLESS))
    wait_until(lambda: run_status(root, run_id).step >= 1, "a step")
    with session_scope(root) as session:
        run = session.get(Run, run_id)
        run.config = {**run.config, "stop_requested": True}
    stopped = finished(root, run_id)
    assert stopped.state == "stopped" and checkpoints(stopped), stopped.message
