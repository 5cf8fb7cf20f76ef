"""The loop: smoke pretrain then midtrain on the demo export, loss falls, exact resume, checkpoints, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from trainer.data import HUMAN
from trainer.run_log import final_val, read_log, train_losses
from trainer.train import TrainConfig, config_path, get_lr, load_checkpoint, train, with_overrides


def smoke(export: Path, out: Path, cache: Path, **override: object) -> TrainConfig:
    values = {"data_dir": str(export), "out_dir": str(out), "cache_dir": str(cache), "quiet": True} | override
    return TrainConfig.from_yaml(config_path("smoke"), values)


@pytest.fixture(scope="module")
def pretrained(demo_exports, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("pretrain")
    return train(smoke(demo_exports["v30"], base / "run", base / "cache"))


def test_smoke_pretrain_learns_on_human_episodes(pretrained):
    run = pretrained.parents[1]
    losses = train_losses(run)
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5  # loss falls
    evals = [r for r in read_log(run) if "val" in r]
    assert [r["step"] for r in evals] == [0, 15, 30] and set(evals[-1]["val"]) == {HUMAN}
    assert all(r["samples_per_s"] > 0 for r in read_log(run) if "samples_per_s" in r)
    assert (run / "checkpoints" / "last").resolve() == pretrained.resolve()
    meta = json.loads((pretrained / "meta.json").read_text())
    assert meta["step"] == 30 and meta["stage"] == "pretrain" and list(meta["dims"]) == [HUMAN]
    state = load_checkpoint(run)
    assert {"model", "optimizer", "step", "best_val", "config", "data_fingerprint"} <= set(state)


def test_smoke_midtrain_from_the_pretrain_checkpoint_covers_both_embodiments(pretrained, demo_exports, tmp_path):
    cfg = smoke(demo_exports["v21"], tmp_path / "mid", tmp_path / "cache", stage="midtrain", init=str(pretrained))
    last = train(cfg)
    state, start = load_checkpoint(last), load_checkpoint(pretrained)
    assert len(state["dims"]) == 2 and HUMAN in state["dims"]
    robot = next(e for e in state["dims"] if e != HUMAN)
    assert set(final_val(tmp_path / "mid")) == {HUMAN, robot}
    assert state["norm"][HUMAN] == start["norm"][HUMAN]  # the pretrained adapters keep their scale
    key = f"action_out.{HUMAN}.weight"
    assert not torch.equal(start["model"][key], state["model"][key])  # midtraining trains the human adapters on
    first_eval = next(r for r in read_log(tmp_path / "mid") if "val" in r)
    pre_eval = final_val(pretrained.parents[1])
    # Before any midtraining step the human head is the pretrained one (same weights, same held-out frames
    # up to the video codec of the other export format).
    assert abs(first_eval["val"][HUMAN] - pre_eval[HUMAN]) < 0.05


def test_a_new_embodiment_of_the_same_width_starts_from_the_human_adapters():
    from trainer.policy import ModelConfig, Policy
    from trainer.train import _copy_adapters

    model = Policy(ModelConfig(image_size=16, d_model=16, n_heads=2), {HUMAN: (5, 5), "robot_a": (5, 5),
                                                                       "robot_b": (3, 3)})
    _copy_adapters(model, HUMAN, ["robot_a", "robot_b"])
    assert torch.equal(model.action_out["robot_a"].weight, model.action_out[HUMAN].weight)
    assert torch.equal(model.state_in["robot_a"][0].weight, model.state_in[HUMAN][0].weight)
    assert model.action_out["robot_b"].weight.shape == (3, 16)  # other widths keep their own fresh adapters


def test_resume_continues_the_same_loss_curve(demo_exports, tmp_path):
    whole = train(smoke(demo_exports["v30"], tmp_path / "whole", tmp_path / "cache", max_steps=16, ckpt_every=8,
                        eval_every=8))
    cut = smoke(demo_exports["v30"], tmp_path / "cut", tmp_path / "cache", max_steps=16, ckpt_every=4, eval_every=8,
                stop_at=10, workers=1)
    train(cut)
    assert load_checkpoint(tmp_path / "cut")["step"] == 10
    with open(tmp_path / "cut" / "log.jsonl", "a") as log:  # a step logged after the checkpoint, then killed
        log.write(json.dumps({"step": 10, "train_loss": 123.0}) + "\n")
    train(with_overrides(cut, stop_at=None))
    assert train_losses(tmp_path / "cut") == train_losses(whole.parents[1])  # bit for bit
    assert final_val(tmp_path / "cut") == final_val(whole.parents[1])
    a, b = load_checkpoint(tmp_path / "cut")["model"], load_checkpoint(whole.parents[1])["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_learning_rate_warms_up_then_follows_a_cosine():
    cfg = TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=110)
    assert get_lr(0, cfg) == pytest.approx(0.1) and get_lr(9, cfg) == pytest.approx(1.0)
    assert get_lr(60, cfg) == pytest.approx(0.55) and get_lr(110, cfg) == pytest.approx(0.1)


@pytest.mark.parametrize(("field", "value"), [("stage", "finetune"), ("human_fraction", 0.0), ("batch_size", 0),
                                              ("min_lr", 1.0), ("stop_at", 10_000)])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_yaml_configs_load_and_overrides_do_not_mutate(tmp_path):
    override = {"model": {"d_model": 48}, "max_steps": 7}
    cfg = TrainConfig.from_yaml(config_path("smoke"), override)
    assert cfg.model.d_model == 48 and cfg.model.chunk == 8 and cfg.max_steps == 7
    assert override == {"model": {"d_model": 48}, "max_steps": 7}
    for name in ("small", "paper"):
        assert TrainConfig.from_yaml(config_path(name)).model.chunk == 16
    with pytest.raises(ValueError, match="unknown fields"):
        TrainConfig.from_dict({"learning_rate": 1})
    with pytest.raises(ValueError, match="nope"):
        config_path("nope")


def test_a_checkpoint_of_another_model_shape_is_refused(pretrained, demo_exports, tmp_path):
    cfg = smoke(demo_exports["v30"], tmp_path / "mid", tmp_path / "cache", stage="midtrain", init=str(pretrained),
                model={"d_model": 48})
    with pytest.raises(ValueError, match="model"):
        train(cfg)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_smoke_runs_on_cuda_with_bf16_and_compile(demo_exports, tmp_path):
    last = train(smoke(demo_exports["v30"], tmp_path / "gpu", tmp_path / "cache", device="cuda", max_steps=10))
    assert load_checkpoint(last)["step"] == 10
    assert all(torch.isfinite(torch.tensor(train_losses(tmp_path / "gpu"))))


def test_a_log_line_torn_by_a_kill_is_dropped_and_damage_elsewhere_is_not_hidden(tmp_path):
    from trainer.run_log import parse_records

    whole = ['{"step": 0, "train_loss": 2.0}', '{"step": 1, "train_loss": 1.5}']
    assert parse_records([*whole, '{"step": 2, "val": {"human": 0.1}']) == [
        {"step": 0, "train_loss": 2.0}, {"step": 1, "train_loss": 1.5}]
    with pytest.raises(json.JSONDecodeError):
        parse_records([whole[0], '{"step": 1, "tr', whole[1]])
