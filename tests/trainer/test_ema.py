"""The weight average: its arithmetic, what a run with it scores and saves, what the next stage starts from."""

from __future__ import annotations

import pytest
import torch

from trainer.ema import WeightAverage
from trainer.run_log import final_val, read_log, train_losses
from trainer.train import (
    TrainConfig,
    _setup,
    config_path,
    estimate_loss,
    load_checkpoint,
    policy_weights,
    train,
    with_overrides,
)


def test_the_average_moves_towards_the_weights_by_one_minus_its_warmed_up_rate():
    model = torch.nn.Linear(2, 1)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    ema = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, step=0)  # warm-up: rate min(0.5, 1/10) = 0.1, so 90 % of the way
    assert torch.allclose(ema.model.weight, torch.full((1, 2), 0.9))
    ema.update(model, step=100)  # rate 0.5: half the remaining gap
    assert torch.allclose(ema.model.weight, torch.full((1, 2), 0.95))
    assert ema.rate(100) == 0.5 and not ema.model.weight.requires_grad
    assert model.weight.data_ptr() != ema.model.weight.data_ptr()  # a copy, not the trained tensor


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_a_decay_outside_zero_one_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(torch.nn.Linear(1, 1), decay)
    if decay != 0.0:  # 0 is the config's "off"
        with pytest.raises(ValueError, match="ema_decay"):
            TrainConfig(ema_decay=decay)


def _cfg(export, out, cache, **override) -> TrainConfig:
    values = {"data_dir": str(export), "out_dir": str(out), "cache_dir": str(cache), "quiet": True,
              "ema_decay": 0.9, "max_steps": 16, "ckpt_every": 8, "eval_every": 8} | override
    return TrainConfig.from_yaml(config_path("smoke"), values)


def test_a_run_scores_and_saves_the_average_and_the_next_stage_starts_from_it(demo_exports, tmp_path):
    cfg = _cfg(demo_exports["v30"], tmp_path / "pre", tmp_path / "cache")
    last = train(cfg)
    state = load_checkpoint(last)
    assert set(state["ema"]) == set(state["model"])
    assert any(not torch.equal(state["ema"][k], state["model"][k]) for k in state["model"])
    assert policy_weights(state) is state["ema"]
    # The logged validation is the average's: scoring the saved EMA weights gives it again, the raw ones do not.
    _, model, _, _, val_set, _, _ = _setup(cfg, torch.device("cpu"))
    raw = estimate_loss(model, val_set, cfg, torch.device("cpu"))
    model.load_state_dict(state["ema"])
    averaged = estimate_loss(model, val_set, cfg, torch.device("cpu"))
    assert averaged == final_val(tmp_path / "pre") and raw != averaged
    train(_cfg(demo_exports["v30"], tmp_path / "mid", tmp_path / "cache", stage="midtrain", init=str(last),
               max_steps=1, ema_decay=0.0))
    # Before its first step the midtrain run's weights are the pretrain run's average: its step-0 evaluation
    # (same frames, same sampling seed) repeats the pretrain run's final one on the human episodes.
    first = next(r for r in read_log(tmp_path / "mid") if "val" in r)
    assert first["val"]["human"] == pytest.approx(averaged["human"], rel=1e-5)


def test_a_cut_run_resumes_its_average_exactly(demo_exports, tmp_path):
    whole = train(_cfg(demo_exports["v30"], tmp_path / "whole", tmp_path / "cache"))
    cut = _cfg(demo_exports["v30"], tmp_path / "cut", tmp_path / "cache", ckpt_every=4, stop_at=10)
    train(cut)
    train(with_overrides(cut, stop_at=None))
    assert train_losses(tmp_path / "cut") == train_losses(whole.parents[1])
    a, b = load_checkpoint(tmp_path / "cut")["ema"], load_checkpoint(whole)["ema"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert final_val(tmp_path / "cut") == final_val(whole.parents[1])
