"""Train and Scaling pages (AppTest): empty roots, a launch from the page, a finished run's curves and checkpoints,
and a finished scaling run's fit."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import state
from tests.trainer.trained_root import SCALING_FRACTIONS, SCALING_SEEDS, trained_root
from trainer.runs import ACTIVE, CONFIG_NAMES, default_device, list_runs, run_status, stop_run
from trainer.runs import SCALING_FRACTIONS as RUN_FRACTIONS
from trainer.runs import SCALING_SEEDS as RUN_SEEDS
from trainer.scaling import part_steps, read_scaling

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
TIMEOUT_S = 90  # first runs import torch and plotly


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_root(tmp_path_factory.getbasetemp())


def open_page(root: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> AppTest:
    monkeypatch.setenv("EGOCURATE_HOME", str(root))
    st.cache_resource.clear()  # the engine is cached per root, but the first root's may be stale
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def figure(at: AppTest, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def test_state_literals_match_the_trainer():
    assert state.TRAIN_CONFIGS == CONFIG_NAMES and state.DEFAULTS[state.TRAIN_CONFIG] in CONFIG_NAMES
    assert tuple(state.DEFAULTS[state.SCALING_FRACTIONS]) == RUN_FRACTIONS
    assert state.DEFAULTS[state.SCALING_SEEDS] == RUN_SEEDS
    assert set(RUN_FRACTIONS) <= set(state.SCALING_FRACTION_CHOICES)


def test_empty_root_renders_both_pages_and_a_launch_records_a_run(trained, tmp_path, monkeypatch):
    root = tmp_path / "root"
    scaling = open_page(root, monkeypatch, "scaling")
    assert scaling.title[0].value == "Scaling" and "No scaling run yet" in scaling.info[0].value
    at = open_page(root, monkeypatch, "train")
    assert at.title[0].value == "Train" and "No training run yet" in at.info[0].value
    assert f"**{default_device()}**" in at.caption[0].value  # what runs train on: cuda with a GPU, else cpu
    at.button(key="train_launch").click().run()
    assert "Pick an export" in at.error[0].value and list_runs(root) == []
    at.text_input(key=state.TRAIN_EXPORT_PATH).input(str(trained / "export-v30"))
    at.text_input(key=state.TRAIN_AUTHOR).input("ana")
    at.button(key="train_launch").click().run()
    assert not at.exception and "Started run" in at.success[0].value
    [run] = list_runs(root)
    assert (run.stage, run.config_name, run.author, run.data_dir) == ("pretrain", "smoke", "ana",
                                                                       str(trained / "export-v30"))
    assert at.session_state[state.TRAIN_RUN_ID] == run.run_id and at.dataframe[0].value["state"][0] in ACTIVE
    stop_run(root, run.run_id)  # the run itself is test_runs.py's business: end it, and wait for its process
    deadline = time.monotonic() + 120
    while run_status(root, run.run_id).state in ACTIVE:
        assert time.monotonic() < deadline, "the launched run did not stop"
        time.sleep(0.2)
    assert run_status(root, run.run_id).state == "stopped"


def test_a_finished_run_shows_its_curves_and_checkpoints(trained, monkeypatch):
    at = open_page(trained, monkeypatch, "train")
    table = at.dataframe[0].value
    assert list(table["run"]) == [2, 1] and set(table["state"]) == {"done"}
    last = f"fraction-1.0000-seed-{SCALING_SEEDS - 1:02d}-midtrain"  # a scaling run's last part: steps of its own
    steps = part_steps(list_runs(trained, "scaling")[0].out_dir, last)
    assert list(table["step"]) == [f"{steps}/{steps} ({last})", "6/6"] and set(table["device"]) == {default_device()}
    assert len(at.selectbox(key=state.TRAIN_EXPORT).options) == 2  # the store's two finished exports
    init = at.selectbox(key=state.TRAIN_INIT)
    assert init.disabled and any("run 1" in option for option in init.options)
    at.selectbox(key=state.TRAIN_RUN_ID).set_value(1).run()
    assert not at.exception
    curves = figure(at)
    names = [trace.get("name") for trace in curves["data"]]
    assert "train loss" in names and "human" in names
    assert list(at.dataframe[1].value["step"]) == [3, 6]  # the checkpoints
    assert at.button(key="train_stop").disabled and at.button(key="train_resume").disabled


def test_a_finished_scaling_run_shows_the_fit(trained, monkeypatch):
    at = open_page(trained, monkeypatch, "scaling")
    [run] = list_runs(trained, "scaling")
    result = read_scaling(run.out_dir)
    assert at.session_state[state.SCALING_RUN_ID] == run.run_id
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["R²"] == f"{result.fit.r2:.4f}" and metrics["a (loss at 1 h)"] == f"{result.fit.a:.4f}"
    assert metrics["b (per e-fold of hours)"] == f"{result.fit.b:.4f}" and metrics["Runs fitted"] == "4"
    assert metrics["b, 95% interval"] == f"[{result.fit.b_low:.3f}, {result.fit.b_high:.3f}]"
    assert metrics["robot vs human loss, r"] == f"{result.transfer.r:.3f}"
    fit, transfer = figure(at, 0), figure(at, 1)  # both plots
    assert fit["layout"]["xaxis"]["type"] == "log" and [t["name"] for t in fit["data"]][:2] == [
        "each seed", "seed mean (bars: min–max)"] and "R² =" in fit["data"][2]["name"]
    assert len(fit["data"][0]["x"]) == 4 and fit["data"][1]["error_y"]["arrayminus"]  # the seed spread
    assert "r = " in transfer["data"][-1]["name"] and sum(len(t["x"]) for t in transfer["data"][:-1]) == 4
    assert "robot validation MSE" in transfer["layout"]["yaxis"]["title"]["text"]
    table = at.dataframe[1].value
    assert list(table["fraction"]) == [f for f in SCALING_FRACTIONS for _ in range(SCALING_SEEDS)]
    assert list(table["val MSE"]) == [round(loss, 5) for loss in result.losses]
    assert list(table["robot val MSE"]) == [round(p.robot_val, 5) for p in result.points]


def test_a_run_whose_process_vanished_shows_interrupted_and_can_be_resumed(tmp_path, monkeypatch):
    import subprocess
    import sys

    from db.jobs import record_process
    from db.models import Run
    from db.store import session_scope

    root = tmp_path / "root"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with session_scope(root) as session:  # what kill -9 leaves: a row saying running, its process gone
        run = Run(stage="pretrain", data_dir=str(tmp_path / "export"), out_dir=str(tmp_path / "run"),
                  config={"name": "smoke"}, state="running", author="ana")
        record_process(run, gone.pid)
        session.add(run)
    at = open_page(root, monkeypatch, "train")
    assert list(at.dataframe[0].value["state"]) == ["interrupted"]
    assert f"pid {gone.pid}" in at.dataframe[0].value["message"][0]
    assert at.button(key="train_stop").disabled and not at.button(key="train_resume").disabled
