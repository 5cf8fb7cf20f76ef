"""The scaling study: the fits by construction, and the fair-run driver on the tiny demo export (nested fractions,
steps in proportion to hours, a validation set no run trains on, transfer runs from each pretrain checkpoint)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trainer.data import HUMAN, read_export
from trainer.scaling import (
    ScalingConfig,
    describe_scaling,
    plan_scaling,
    read_scaling,
    run_scaling,
    steps_for,
)
from trainer.scaling_figures import scaling_figure, transfer_figure
from trainer.scaling_fit import fit_log_law, fit_transfer
from trainer.train import TrainConfig, config_path, load_checkpoint

TINY_STUDY = ScalingConfig(fractions=(0.3, 1.0), seeds=2, epochs=0.2, min_steps=3, midtrain_epochs=0.1)


def test_the_fit_recovers_a_known_law():
    hours = np.array([1e3, 2e3, 5e3, 1e4, 2e4])
    fit = fit_log_law(hours, 0.9 - 0.05 * np.log(hours))
    assert fit.a == pytest.approx(0.9) and fit.b == pytest.approx(-0.05) and fit.r2 == pytest.approx(1.0)
    assert fit.predict([1.0])[0] == pytest.approx(0.9)
    noisy = fit_log_law(hours, 0.9 - 0.05 * np.log(hours) + np.random.default_rng(0).normal(0, 0.01, 5))
    assert 0.8 < noisy.r2 < 1.0 and noisy.b == pytest.approx(-0.05, abs=0.02)


def test_a_noisy_law_with_seeds_lies_inside_its_intervals():
    """Three seeds at four amounts of hours, noise 0.02: a and b inside their 95 % intervals, and over many draws
    the intervals hold the truth about 95 % of the time (they are neither too narrow nor useless)."""
    hours = np.repeat([0.05, 0.1, 0.2, 0.4], 3)
    truth = 1.2 - 0.08 * np.log(hours)
    rng = np.random.default_rng(17)
    fit = fit_log_law(hours, truth + rng.normal(0, 0.02, len(hours)))
    assert fit.n == 12 and fit.a_low < 1.2 < fit.a_high and fit.b_low < -0.08 < fit.b_high
    assert fit.b_high < 0  # the data say more hours help
    assert 0.9 < fit.r2 <= 1.0  # R² of the seed means: the seed noise averages out
    covered = [(f.b_low < -0.08 < f.b_high) and (f.a_low < 1.2 < f.a_high)
               for f in (fit_log_law(hours, truth + rng.normal(0, 0.02, len(hours))) for _ in range(400))]
    assert 0.85 < np.mean(covered) < 0.99
    assert fit_log_law([1.0, 2.0], [1.0, 0.9]).b_low is None  # two runs: no interval


def test_r2_compares_each_groups_mean_with_the_line():
    """Seeds of one fraction that drew slightly different hours: grouped by fraction, R² is that of the four
    means (at their mean ln hours), which here lie on the law; ungrouped, every run would be its own level."""
    fractions = np.repeat([0.25, 0.5, 0.75, 1.0], 3)
    hours = fractions * np.tile([0.97, 1.0, 1.03], 4)
    seed_offsets = np.tile([0.05, -0.1, 0.05], 4)  # the seeds' spread: it cancels in each mean
    losses = 0.6 - 0.3 * np.log(hours) + seed_offsets
    grouped = fit_log_law(hours, losses, fractions)
    assert grouped.r2 == pytest.approx(1.0) and grouped.b == pytest.approx(-0.3, abs=0.05)
    assert fit_log_law(hours, losses).r2 < 0.99  # twelve levels: the seed offsets count as misfit
    with pytest.raises(ValueError, match="groups"):
        fit_log_law(hours, losses, fractions[:-1])


@pytest.mark.parametrize(("hours", "losses"), [([1.0, 1.0], [1.0, 2.0]), ([0.0, 1.0], [1.0, 2.0]), ([1.0], [1.0])])
def test_the_fit_refuses_what_it_cannot_fit(hours, losses):
    with pytest.raises(ValueError):
        fit_log_law(hours, losses)


def test_the_transfer_fit_is_pearson_r_and_a_line():
    human = np.array([1.0, 1.2, 1.4, 1.6])
    fit = fit_transfer(human, 0.5 + 2.0 * human)
    assert fit.r == pytest.approx(1.0) and fit.slope == pytest.approx(2.0) and fit.intercept == pytest.approx(0.5)
    assert fit_transfer(human, 3.0 - human).r == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        fit_transfer([1.0], [1.0])


def test_steps_grow_with_the_hours_above_a_floor():
    assert steps_for(3200, 32, 2.0, 10) == 200 and steps_for(1600, 32, 2.0, 10) == 100
    assert steps_for(50, 32, 2.0, 10) == 10  # the floor
    with pytest.raises(ValueError, match="seeds"):
        ScalingConfig(seeds=0)
    with pytest.raises(ValueError, match="fractions"):
        ScalingConfig(fractions=(1.0,))
    with pytest.raises(ValueError, match="epochs"):
        ScalingConfig(epochs=0)


def _cfg(data_dir, out_dir):
    return TrainConfig.from_yaml(config_path("smoke"), {"data_dir": str(data_dir), "out_dir": str(out_dir),
                                                        "quiet": True, "eval_timesteps": 8, "warmup_steps": 2})


def test_the_plan_nests_fractions_and_gives_larger_ones_more_steps(demo_exports, tmp_path):
    export = read_export(demo_exports["v30"])
    cfg = _cfg(demo_exports["v30"], tmp_path)
    parts = plan_scaling(cfg, ScalingConfig(fractions=(0.25, 0.5, 1.0), seeds=2, epochs=1.0, min_steps=1), export)
    pretrain = [p for p in parts if p.stage == "pretrain"]
    assert [p.fraction for p in pretrain] == [0.25, 0.25, 0.5, 0.5, 1.0, 1.0]
    assert [p.seed for p in pretrain[:2]] == [0, 1] and [p.data_seed for p in pretrain[:2]] == [0, 1]
    steps = [p.steps for p in pretrain[::2]]
    hours = [p.hours for p in pretrain[::2]]
    assert steps == sorted(steps) and steps[0] < steps[-1] and hours[0] < hours[-1]
    assert {p.steps for p in parts if p.stage == "midtrain"} == {parts[1].steps}  # the same robot data for all
    assert [p.name for p in parts] == sorted(p.name for p in parts)  # folders sort in training order


def test_a_scaling_study_fits_nested_fractions_and_transfers(demo_exports, tmp_path):
    out = tmp_path / "scaling"
    result = run_scaling(_cfg(demo_exports["v30"], out), TINY_STUDY)
    assert len(result.points) == 4 and [p.seed for p in result.points] == [0, 1, 0, 1]
    small, large = result.points[0], result.points[2]
    assert small.hours < large.hours and small.steps < large.steps
    assert np.isfinite([result.fit.a, result.fit.b, result.fit.r2, result.fit.b_low, result.fit.b_high]).all()
    assert all(p.robot_val is not None and p.midtrain_steps for p in result.points)
    assert result.transfer is not None and result.transfer.n == 4
    assert read_scaling(out) == result
    assert (out / "scaling.html").stat().st_size > 0
    assert len(scaling_figure(result).data) == 3  # each seed, the seed means with their spread, the fit
    assert len(transfer_figure(result).data) == 3  # one trace per fraction, the line
    assert any(line.startswith("scaling: L = ") and "R^2" in line for line in describe_scaling(result))

    export = read_export(demo_exports["v30"])
    validation = {e.index for e in export.episodes if e.split == "validation"}
    robots = {e.index for e in export.episodes if e.embodiment != HUMAN}
    trained = {}
    for point in result.points:
        pretrain = set(load_checkpoint(point.run)["train_episodes"])
        midtrain = set(load_checkpoint(point.midtrain_run)["train_episodes"])
        assert not (pretrain | midtrain) & validation  # validation episodes never appear in training
        assert not pretrain & robots and midtrain == robots - validation  # midtrain: the same robot data for all
        trained[point.fraction, point.seed] = pretrain
    for seed in (0, 1):  # nested within each seed's own order of the episodes
        assert trained[0.3, seed] <= trained[1.0, seed]
    assert trained[0.3, 0] != trained[0.3, 1]  # each seed drew its own episodes (fixed seeds: always so here)
    assert [p.data_seed for p in result.points] == [0, 1, 0, 1]
    assert result.validation.human_episodes == len({e.index for e in export.episodes
                                                    if e.split == "validation" and e.embodiment == HUMAN})


def test_a_scaling_json_from_before_seeds_still_reads(tmp_path):
    old = {"fractions": [0.5, 1.0], "hours": [0.1, 0.2], "losses": [1.2, 1.1], "runs": ["a", "b"],
           "fit": {"a": 0.9, "b": -0.1, "r2": 1.0, "n": 2}}
    (tmp_path / "scaling.json").write_text(json.dumps(old))
    result = read_scaling(tmp_path)
    assert result.losses == [1.2, 1.1] and result.transfer is None and result.fit.b_low is None


def test_the_cli_records_a_scaling_run_in_the_store_and_prints_its_figures(demo_exports, tmp_path):
    import yaml
    from click.testing import CliRunner

    from app.cli import main
    from tests.trainer.trained_root import TINY
    from trainer.runs import list_runs

    config = tmp_path / "tiny.yml"
    config.write_text(yaml.safe_dump(TINY))
    root = tmp_path / "root"
    args = ["--root", str(root), "train", "--data", str(demo_exports["v30"]), "--config", str(config), "--scaling",
            "--fractions", "0.3,1", "--seeds", "2", "--epochs", "0.01"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    [run] = list_runs(root, "scaling")
    assert run.state == "done" and run.fractions == (0.3, 1.0)
    printed = result.output.splitlines()
    assert printed[-4:-1] == describe_scaling(read_scaling(run.out_dir))[-3:]  # validation, scaling, transfer
    assert "b 95% CI [" in printed[-3] and "r = " in printed[-2]
    refused = CliRunner().invoke(main, [*args, "--max-steps", "5"])
    assert refused.exit_code == 2 and "does not apply to --scaling" in refused.output
