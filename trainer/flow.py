"""Flow-matching action head: a small DiT that predicts the velocity of a noisy action chunk.

Rectified flow (Lipman et al. 2023; the GR00T N1 / pi0 action head): with noise `x0 ~ N(0, I)` and a
normalized action chunk `x1`, `x_t = (1 - t) x0 + t x1` and the target velocity is `x1 - x0`.
Sampling integrates `dx/dt = v(x_t, t | context)` from `t = 0` to `1` with Euler steps.

    dit = ActionDiT(d_model=128, n_heads=4, n_layers=4, chunk=16)
    velocity = dit(tokens, t, context)          # (B, H, d) action tokens, (B,) times, (B, N, d) context
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of flow times `t` in [0, 1], `(B,)` → `(B, dim)`."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = 1000.0 * t.float()[:, None] * freqs[None]  # scaled so that small steps in t are distinguishable
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class DiTBlock(nn.Module):
    """Self-attention over the chunk, cross-attention to the observation context, MLP; adaLN-Zero on time."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model, elementwise_affine=False)
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.cross_attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.norm3 = nn.LayerNorm(d_model, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model), nn.GELU(),
                                 nn.Linear(mlp_ratio * d_model, d_model))
        # Zero-initialised modulation makes every block start as the identity (DiT's adaLN-Zero),
        # which keeps a deep head stable from the first step.
        self.modulation = nn.Linear(d_model, 6 * d_model)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(cond)[:, None].chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale1) + shift1
        x = x + gate1 * self.self_attn(h, h, h, need_weights=False)[0]
        h = self.norm2(x)
        x = x + self.cross_attn(h, context, context, need_weights=False)[0]
        h = self.norm3(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


class ActionDiT(nn.Module):
    """The shared DiT trunk; per-embodiment action encoders/decoders live in the policy around it."""

    def __init__(self, d_model: int, n_heads: int, n_layers: int, chunk: int) -> None:
        super().__init__()
        self.d_model = d_model
        self.position = nn.Parameter(torch.randn(chunk, d_model) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(d_model, d_model), nn.SiLU(), nn.Linear(d_model, d_model))
        self.blocks = nn.ModuleList(DiTBlock(d_model, n_heads) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tokens: torch.Tensor, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """`(B, H, d)` noisy action tokens, `(B,)` times, `(B, N, d)` context → `(B, H, d)`."""
        cond = self.time_mlp(time_embedding(t, self.d_model).to(tokens.dtype)) + context.mean(dim=1)
        x = tokens + self.position[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x, cond, context)
        return self.norm(x)


def flow_targets(actions: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor,
                                                                                 torch.Tensor]:
    """`(B, H, A)` clean actions → noisy `x_t`, times `t` `(B,)`, target velocities `(B, H, A)`.

    Times are drawn from a Beta(1.5, 1)-like skew toward clean actions (GR00T N1), by `u ** (1/1.5)`,
    which puts more training on the end of the flow where the fine detail of the chunk is decided.
    """
    noise = torch.randn(actions.shape, generator=generator, device=actions.device, dtype=actions.dtype)
    u = torch.rand(actions.shape[0], generator=generator, device=actions.device)
    t = (0.999 * u ** (1 / 1.5)).to(actions.dtype)
    x_t = (1 - t)[:, None, None] * noise + t[:, None, None] * actions
    return x_t, t, actions - noise


def sample_flow(velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], shape: tuple[int, ...],
                steps: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Integrate the flow from Gaussian noise with `steps` Euler steps; returns `shape` actions."""
    x = torch.randn(shape, generator=generator, device=device)
    for k in range(steps):
        t = torch.full((shape[0],), k / steps, device=device)
        x = x + velocity(x, t) / steps
    return x
