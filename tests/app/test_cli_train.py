"""`egocurate train` records its run in the store's `runs` like the Train page (#16): `SELECT * FROM runs` shows
it, the Train page lists it with its curves and checkpoints and offers its checkpoint as a midtrain init."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from app import state
from app.cli import main
from tests.app.test_train_page import figure, open_page
from tests.trainer.conftest import session_exports
from tests.trainer.trained_root import TINY


@pytest.fixture(scope="module")
def cli_trained(tmp_path_factory) -> tuple[Path, Path]:
    """A fresh data root where `egocurate train` pretrained once on the session's tiny export."""
    export = session_exports(tmp_path_factory.getbasetemp())["v30"]
    root = tmp_path_factory.mktemp("cli-train") / "root"
    config = root.parent / "tiny.yml"
    config.write_text(yaml.safe_dump(TINY))
    result = CliRunner().invoke(main, ["--root", str(root), "train", "--data", str(export), "--stage", "pretrain",
                                       "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "train pretrain: run 1, checkpoint" in result.stdout
    return root, export


def test_a_cli_run_is_in_the_runs_table(cli_trained):
    root, export = cli_trained
    result = CliRunner().invoke(main, ["--root", str(root), "sql", "--json", "SELECT * FROM runs"])
    [run] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (run["id"], run["stage"], run["state"], run["data_dir"]) == (1, "pretrain", "done", str(export))
    assert run["out_dir"] == str(root / "runs" / f"pretrain-{export.name}") and run["finished_at"]


def test_the_train_page_lists_it_with_curves_and_offers_its_checkpoint(cli_trained, monkeypatch):
    root, _ = cli_trained
    at = open_page(root, monkeypatch, "train")
    table = at.dataframe[0].value
    assert list(table["run"]) == [1] and list(table["state"]) == ["done"] and list(table["step"]) == ["6/6"]
    names = [trace.get("name") for trace in figure(at)["data"]]
    assert "train loss" in names and "human" in names
    assert list(at.dataframe[1].value["step"]) == [3, 6]  # its checkpoints
    assert any("run 1" in option for option in at.selectbox(key=state.TRAIN_INIT).options)  # a midtrain init
