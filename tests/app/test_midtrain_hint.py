"""`egocurate train` hints a new user needs: midtrain without --init says it starts from scratch."""

from __future__ import annotations

from click.testing import CliRunner

from app.cli import main


def test_midtrain_without_init_says_it_trains_from_scratch(tmp_path):
    empty = tmp_path / "not-an-export"
    empty.mkdir()
    result = CliRunner().invoke(main, ["--root", str(tmp_path / "root"), "train", "--data", str(empty),
                                       "--stage", "midtrain"])
    assert "--stage midtrain without --init starts from random weights" in result.output
    assert f"--init {tmp_path / 'root' / 'runs' / 'pretrain-not-an-export'}" in result.output
    result = CliRunner().invoke(main, ["--root", str(tmp_path / "root"), "train", "--data", str(empty),
                                       "--stage", "pretrain"])
    assert "without --init" not in result.output
