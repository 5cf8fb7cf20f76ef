"""The policy: shapes, per-embodiment adapters with padding, the human state placeholder, the text encoder."""

from __future__ import annotations

import pytest
import torch

from trainer.policy import ModelConfig, Policy
from trainer.text import HashedTextEncoder

CFG = ModelConfig(image_size=16, patch=8, d_model=16, n_heads=2, backbone_layers=1, dit_layers=1, chunk=4,
                  flow_steps=2)


def batch(ids: list[int], state_width: int = 7, action_width: int = 5) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    n = len(ids)
    return {"image": torch.randint(0, 255, (n, 3, 16, 16), generator=g, dtype=torch.uint8),
            "state": torch.randn(n, state_width, generator=g), "action": torch.randn(n, 4, action_width, generator=g),
            "embodiment": torch.tensor(ids), "task": torch.zeros(n, dtype=torch.long)}


def policy() -> Policy:
    torch.manual_seed(0)
    model = Policy(CFG, {"human": (7, 5), "g1_dex3": (3, 2)})
    model.set_tasks(["open the drawer"])
    return model


def test_a_mixed_batch_gives_a_loss_and_sampled_chunks_in_each_action_space():
    model = policy()
    b = batch([0, 1, 1, 0])  # embodiments sorted: g1_dex3 = 0, human = 1
    loss = model.loss(b, torch.Generator().manual_seed(1))
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert model.action_in["g1_dex3"].weight.grad is not None and model.action_in["human"].weight.grad is not None
    sampled = model.sample(b, torch.Generator().manual_seed(2))
    assert sampled.shape == (4, 4, 5)
    assert (sampled[[0, 3], :, 2:] == 0).all()  # g1_dex3 has 2 action dims; the padding stays empty
    assert model.action_mask(b["embodiment"])[0].tolist() == [1, 1, 0, 0, 0]


def test_human_episodes_use_a_learned_placeholder_not_their_state():
    model = policy().eval()
    b = batch([1, 0])
    changed = dict(b, state=b["state"] + 10.0)
    before, after = model.encode(b), model.encode(changed)
    assert torch.allclose(before[0], after[0])  # the human sample ignores its state
    assert not torch.allclose(before[1], after[1])  # the robot sample does not


def test_the_builtin_text_encoder_is_deterministic_and_tells_tasks_apart():
    encoder = HashedTextEncoder(16)
    table = encoder.prepare(["Open the drawer.", "open the drawer", "Pour the water."])
    assert torch.equal(table[0], table[1]) and not torch.equal(table[0], table[2])
    assert encoder(table).shape == (3, 4, 16)


@pytest.mark.parametrize(("field", "value"), [("patch", 6), ("n_heads", 3), ("chunk", 0)])
def test_model_config_errors_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{field: value})


def test_every_config_field_is_commented():
    import dataclasses
    import inspect

    from trainer.scaling import ScalingFit
    from trainer.train import TrainConfig

    for cls in (ModelConfig, TrainConfig, ScalingFit):
        lines = inspect.getsource(cls).splitlines()
        for field in dataclasses.fields(cls):
            [line] = [s for s in lines if s.strip().startswith(f"{field.name}:")]
            assert "#" in line, f"{cls.__name__}.{field.name} has no comment saying what it means"
