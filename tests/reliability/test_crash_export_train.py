"""kill -9 during an export and during training, then run again.

An export never leaves a half dataset under its final name, and the next export closes the killed
one's record and removes its temp folder. Training resumes from the last checkpoint, reaches the
final step, and its losses are those of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from app.cli import main
from curation.export_episodes import VideoSpec
from curation.export_lerobot import ExportError, list_exports, run_export
from curation.export_plan import ExportConfig
from curation.pair_store import decide_pair, get_pair
from curation.pairing import PairConfig, run_pairing
from db.engine import query_engine
from db.jobs import this_host
from db.models import Export
from db.queries.annotations import pair_rows
from db.store import get_engine, session_scope
from labeling.sources.lerobot import read_lerobot
from tests.curation.demo_retargets import paired_demo_root
from trainer.run_log import read_log, train_losses
from trainer.train import config_path, load_checkpoint

from .crash import assert_store_intact, kill_when, start_cli

FORMAT, SIZE = "lerobot-v2.1", (96, 72)
TRAIN_STEPS, CKPT_EVERY = 20, 4


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A demo root with every proposed pair accepted, and its export written without interruption."""
    root = paired_demo_root(tmp_path_factory.getbasetemp())
    run_pairing(root, PairConfig(), actor="test")
    pairs = pair_rows(query_engine(root))
    for pair_id in pairs[pairs.state == "proposed"].id:
        pair = get_pair(root, int(pair_id))
        decide_pair(root, pair.id, "accepted", "test", pair.version)
    reference = root.parent / f"{root.name}-reference-export"
    run_export(root, _export_config(reference))
    return root, reference


def _export_config(out: Path) -> ExportConfig:
    return ExportConfig(out_dir=out, format=FORMAT, video=VideoSpec(width=SIZE[0], height=SIZE[1]), author="test")


def _episode_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("data/*/episode_*.parquet"))


def test_a_killed_export_leaves_no_half_dataset_and_the_next_one_cleans_up(accepted, tmp_path):
    root, reference = accepted
    out = tmp_path / "midtrain"
    process = start_cli(root, ["export", "--out", str(out), "--format", FORMAT, "--size", "x".join(map(str, SIZE)),
                               "--quiet"])
    kill_when(process, lambda: any(_episode_files(tmp) for tmp in tmp_path.glob("midtrain.tmp-*")),
              "the first episode written")

    assert not out.exists(), "no dataset under the final name until it is complete"
    (tmp,) = tmp_path.glob("midtrain.tmp-*")
    assert 1 <= len(_episode_files(tmp)) < len(_episode_files(reference)), "killed mid-export"
    assert_store_intact(get_engine(root))
    exports = list_exports(root)
    killed = exports[exports.out_dir == str(out)]
    assert killed.state.tolist() == ["running"]  # what it shows until another export looks

    result = run_export(root, _export_config(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["midtrain"], "the temp folder is gone"
    exports = list_exports(root)
    states = exports[exports.out_dir == str(out)].set_index("id").state
    assert states.to_dict() == {int(killed.id.iloc[0]): "interrupted", result.export_id: "done"}
    expected = json.loads((reference / "meta" / "egocurate_manifest.json").read_text())
    assert result.manifest["counts"] == expected["counts"]
    assert len(read_lerobot(out).items) == expected["counts"]["episodes"]
    for ours, theirs in zip(_episode_files(out), _episode_files(reference), strict=True):
        assert pq.read_table(ours).equals(pq.read_table(theirs)), ours.name


def _train_config(tmp_path: Path) -> Path:
    """The smoke config, with more checkpoints than steps between them left after the first."""
    values = yaml.safe_load(config_path("smoke").read_text())
    values |= {"max_steps": TRAIN_STEPS, "ckpt_every": CKPT_EVERY, "eval_every": 10, "quiet": True}
    path = tmp_path / "crash.yml"
    path.write_text(yaml.safe_dump(values))
    return path


def _checkpoint_step(run: Path) -> int | None:
    last = run / "checkpoints" / "last"
    return json.loads((last / "meta.json").read_text())["step"] if (last / "meta.json").is_file() else None


def test_killed_training_resumes_from_its_last_checkpoint_to_the_same_losses(accepted, tmp_path):
    root, export = accepted
    config, run, reference = _train_config(tmp_path), tmp_path / "run", tmp_path / "reference"
    args = ["train", "--data", str(export), "--config", str(config)]
    process = start_cli(root, [*args, "--out", str(run)])
    kill_when(process, lambda: _checkpoint_step(run), "the first checkpoint")

    saved = load_checkpoint(run)["step"]  # `last` names a whole checkpoint
    assert CKPT_EVERY <= saved < TRAIN_STEPS, "killed between the first and the last checkpoint"
    assert all(r["step"] < TRAIN_STEPS for r in read_log(run))  # every log line whole

    for out in (run, reference):
        result = CliRunner().invoke(main, ["--root", str(root), *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert load_checkpoint(run)["step"] == TRAIN_STEPS
    steps = [r["step"] for r in read_log(run) if "train_loss" in r]
    assert steps == list(range(TRAIN_STEPS)), "each step logged once: steps after the checkpoint were redone"
    assert train_losses(run) == train_losses(reference), "the resumed run repeats the uninterrupted losses"


def test_an_export_killed_between_its_two_renames_gets_the_previous_one_back(accepted, tmp_path):
    """What kill -9 inside `_publish` leaves: the old export moved aside, the new one still in its temp folder."""
    root, reference = accepted
    out = tmp_path / "midtrain"
    run_export(root, _export_config(out))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    os.replace(out, tmp_path / "midtrain.old-killed")
    (tmp_path / "midtrain.tmp-killed").mkdir()
    with session_scope(root) as session:
        session.add(Export(out_dir=str(out), format=FORMAT, state="running", author="test", pid=dead.pid,
                           host=this_host(), manifest={"tmp_dir": str(tmp_path / "midtrain.tmp-killed")}))

    with pytest.raises(ExportError, match="exists and is not empty"):  # the previous export is back under its name
        run_export(root, _export_config(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["midtrain"]
    expected = json.loads((reference / "meta" / "egocurate_manifest.json").read_text())
    assert len(read_lerobot(out).items) == expected["counts"]["episodes"]
