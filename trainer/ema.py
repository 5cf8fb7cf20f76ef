"""An exponential moving average of a policy's weights: what a run evaluates, and what the next stage starts from.

    ema = WeightAverage(model, decay=0.99)      # a copy of the model, no gradients
    ema.update(model, step)                     # after each optimizer step
    estimate_loss(ema.model, ...)               # evaluate the averaged weights

The last iterate of a short run with a still-high learning rate moves by a batch's worth of noise every
step: on the demo's scaling runs two seeds trained on the same episodes ended 0.3 apart in validation
loss with the same training loss. Averaging the last ~1 / (1 - decay) steps' weights (as Diffusion
Policy and most flow/diffusion policies do) removes most of that. The decay warms up as
min(decay, (1 + step) / (10 + step)), so a run shorter than the window still averages its own steps
rather than its random initialisation.
"""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    """EMA of `model`'s floating-point parameters and buffers, held in a frozen copy of the module."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"WeightAverage.decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).requires_grad_(False)

    def rate(self, step: int) -> float:
        """The decay applied after optimizer step `step` (0-based), warmed up over the first steps."""
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Move the average towards `model`'s current weights by 1 - rate(step)."""
        averaged, current = _floating(self.model), _floating(model)
        torch._foreach_lerp_(averaged, current, 1.0 - self.rate(step))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)


def _floating(model: torch.nn.Module) -> list[torch.Tensor]:
    """The module's floating-point tensors in a fixed order (integer buffers, e.g. counters, are not averaged)."""
    tensors = [p.data for p in model.parameters()] + list(model.buffers())
    return [t for t in tensors if t.is_floating_point()]
