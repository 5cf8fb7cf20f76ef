"""The scaling fit L = a + b ln(hours), by construction, and the nested-fraction driver on the demo export."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.scaling import fit_log_law, read_scaling, run_scaling, scaling_figure
from trainer.train import TrainConfig, config_path


def test_the_fit_recovers_a_known_law():
    hours = np.array([1e3, 2e3, 5e3, 1e4, 2e4])
    fit = fit_log_law(hours, 0.9 - 0.05 * np.log(hours))
    assert fit.a == pytest.approx(0.9) and fit.b == pytest.approx(-0.05) and fit.r2 == pytest.approx(1.0)
    assert fit.predict([1.0])[0] == pytest.approx(0.9)
    noisy = fit_log_law(hours, 0.9 - 0.05 * np.log(hours) + np.random.default_rng(0).normal(0, 0.01, 5))
    assert 0.8 < noisy.r2 < 1.0 and noisy.b == pytest.approx(-0.05, abs=0.02)


@pytest.mark.parametrize(("hours", "losses"), [([1.0, 1.0], [1.0, 2.0]), ([0.0, 1.0], [1.0, 2.0]), ([1.0], [1.0])])
def test_the_fit_refuses_what_it_cannot_fit(hours, losses):
    with pytest.raises(ValueError):
        fit_log_law(hours, losses)


def test_a_scaling_run_fits_nested_fractions(demo_exports, tmp_path):
    cfg = TrainConfig.from_yaml(config_path("smoke"), {"data_dir": str(demo_exports["v30"]),
                                                       "out_dir": str(tmp_path / "scaling"), "quiet": True,
                                                       "max_steps": 6, "eval_every": 6, "ckpt_every": 6})
    result = run_scaling(cfg, fractions=(0.3, 1.0))
    assert result.hours[0] < result.hours[1] and len(result.losses) == 2
    assert np.isfinite([result.fit.a, result.fit.b, result.fit.r2]).all()
    assert read_scaling(tmp_path / "scaling") == result
    assert (tmp_path / "scaling" / "scaling.html").stat().st_size > 0
    assert len(scaling_figure(result).data) == 2
