"""The VLA policy: ego-view vision encoder + instruction encoder + shared backbone + flow-matching DiT head,
with per-embodiment state and action adapters around the shared parts (EgoScale / GR00T N1 layout).

    policy = Policy(ModelConfig(), dims={"human": (62, 62), "g1_dex3": (14, 14)})
    policy.set_tasks(["Open the drawer.", ...])
    loss = policy.loss(batch, generator)                   # flow-matching MSE on normalized action chunks
    actions = policy.sample(batch, generator, steps=8)     # (B, chunk, max action dim), normalized

Human episodes have no robot proprioception, so the human embodiment's state adapter is a learned
placeholder token (`human_state_placeholder`); the action adapters of every embodiment are real.
Batches may mix embodiments: vectors are padded to the widest one and each adapter reads its own width.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .data import HUMAN
from .flow import ActionDiT, flow_targets, sample_flow
from .text import build_text_encoder


@dataclass(frozen=True)
class ModelConfig:
    """Policy size and shape."""

    image_size: int = 64  # pixels, square ego-view frames (the frame cache's size)
    patch: int = 8  # pixels per vision token side (multiple of 4): (image_size / patch)^2 tokens
    d_model: int = 64  # width of every token
    n_heads: int = 4  # attention heads (divides d_model)
    backbone_layers: int = 2  # transformer layers over [vision, text, state] tokens
    dit_layers: int = 2  # DiT blocks in the action head
    chunk: int = 16  # actions predicted per step (at the export's fps)
    flow_steps: int = 8  # Euler steps when sampling actions
    text_model: str | None = None  # local sentence-transformers folder; None: the built-in hashed encoder
    human_state_placeholder: bool = True  # human episodes: a learned token instead of the state vector

    def __post_init__(self) -> None:
        """Check values; errors name the field."""
        for name in ("image_size", "patch", "d_model", "n_heads", "backbone_layers", "dit_layers", "chunk",
                     "flow_steps"):
            if getattr(self, name) is None or getattr(self, name) < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {getattr(self, name)}")
        if self.patch % 4 or self.image_size % self.patch:
            raise ValueError(f"ModelConfig.patch must be a multiple of 4 dividing image_size, got {self.patch}")
        if self.d_model % self.n_heads:
            raise ValueError(f"ModelConfig.n_heads must divide d_model, got {self.n_heads}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class VisionEncoder(nn.Module):
    """A small conv stem (two stride-2 convs, then a patchifying conv) into a grid of tokens; uint8 in."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        width = max(cfg.d_model // 2, 16)
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.GroupNorm(8 if width % 8 == 0 else 1, width), nn.GELU(),
            nn.Conv2d(width, cfg.d_model, 3, stride=2, padding=1), nn.GroupNorm(1, cfg.d_model), nn.GELU(),
            nn.Conv2d(cfg.d_model, cfg.d_model, cfg.patch // 4, stride=cfg.patch // 4))
        self.position = nn.Parameter(torch.randn((cfg.image_size // cfg.patch) ** 2, cfg.d_model) * 0.02)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """`(B, 3, S, S)` uint8 → `(B, (S / patch)^2, d_model)`."""
        x = self.stem(image.float() / 127.5 - 1.0)
        return x.flatten(2).transpose(1, 2) + self.position


def adapter_key(embodiment: str) -> str:
    return embodiment.replace(".", "_")  # ModuleDict keys cannot hold dots


class Policy(nn.Module):
    """See the module docstring. `dims`: embodiment → (state_dim, action_dim)."""

    def __init__(self, cfg: ModelConfig, dims: dict[str, tuple[int, int]]) -> None:
        super().__init__()
        self.cfg, self.dims = cfg, dict(sorted(dims.items()))
        self.embodiments = list(self.dims)
        self.max_state = max(s for s, _ in self.dims.values())
        self.max_action = max(a for _, a in self.dims.values())
        d = cfg.d_model
        self.vision = VisionEncoder(cfg)
        self.text = build_text_encoder(d, cfg.text_model)
        layer = nn.TransformerEncoderLayer(d, cfg.n_heads, 4 * d, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.backbone = nn.TransformerEncoder(layer, cfg.backbone_layers, enable_nested_tensor=False)
        self.state_in = nn.ModuleDict({adapter_key(e): nn.Sequential(nn.Linear(s, d), nn.GELU(), nn.Linear(d, d))
                                       for e, (s, _) in self.dims.items()})
        self.state_placeholder = nn.Parameter(torch.zeros(d))
        self.embodiment_token = nn.ParameterDict({adapter_key(e): nn.Parameter(torch.randn(d) * 0.02)
                                                  for e in self.dims})
        self.action_in = nn.ModuleDict({adapter_key(e): nn.Linear(a, d) for e, (_, a) in self.dims.items()})
        self.action_out = nn.ModuleDict({adapter_key(e): nn.Linear(d, a) for e, (_, a) in self.dims.items()})
        self.head = ActionDiT(d, cfg.n_heads, cfg.dit_layers, cfg.chunk)
        self.register_buffer("task_table", torch.zeros(1, 1, dtype=torch.long), persistent=False)

    def set_tasks(self, tasks: list[str]) -> None:
        """Encode the current dataset's instructions into the table batches index by task id."""
        device = next(self.parameters()).device
        self.task_table = self.text.prepare(tasks).to(device)

    def _per_embodiment(self, modules: nn.ModuleDict, x: torch.Tensor, ids: torch.Tensor, width_of: int,
                        out_width: int) -> torch.Tensor:
        """Apply each sample's own embodiment adapter (`x` padded to the widest embodiment)."""
        out = x.new_zeros(*x.shape[:-1], out_width)
        for i in torch.unique(ids).tolist():
            name = self.embodiments[i]
            mask = ids == i
            width = self.dims[name][width_of] if width_of >= 0 else x.shape[-1]
            y = modules[adapter_key(name)](x[mask][..., :width])
            out[mask] = nn.functional.pad(y, (0, out_width - y.shape[-1])).to(out.dtype)  # narrower: zero-pad
        return out

    def encode(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The backbone's context tokens `(B, N, d)` for one batch of observations."""
        ids = batch["embodiment"]
        state = self._per_embodiment(self.state_in, batch["state"], ids, 0, self.cfg.d_model)
        if self.cfg.human_state_placeholder and HUMAN in self.dims:
            human = (ids == self.embodiments.index(HUMAN))[:, None]
            state = torch.where(human, self.state_placeholder.to(state.dtype), state)
        embodiment = torch.stack(list(self.embodiment_token.values()))[ids]  # insertion order = self.embodiments
        tokens = [self.vision(batch["image"]), self.text(self.task_table[batch["task"]]),
                  state[:, None], embodiment[:, None]]
        return self.backbone(torch.cat([t.to(tokens[0].dtype) for t in tokens], dim=1))

    def velocity(self, x_t: torch.Tensor, t: torch.Tensor, context: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Predicted flow velocity `(B, H, max_action)` of noisy normalized actions `x_t`."""
        tokens = self._per_embodiment(self.action_in, x_t, ids, 1, self.cfg.d_model)
        hidden = self.head(tokens, t, context)
        return self._per_embodiment(self.action_out, hidden, ids, -1, self.max_action)

    def action_mask(self, ids: torch.Tensor) -> torch.Tensor:
        """`(B, max_action)` 1 where a dimension belongs to the sample's embodiment (padding is not scored)."""
        widths = torch.tensor([self.dims[e][1] for e in self.embodiments], device=ids.device)[ids]
        return (torch.arange(self.max_action, device=ids.device)[None] < widths[:, None]).float()

    def loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        """Flow-matching MSE over the chunk and each embodiment's own action dimensions."""
        x_t, t, target = flow_targets(batch["action"], generator)
        mask = self.action_mask(batch["embodiment"])[:, None]
        error = (self.velocity(x_t, t, self.encode(batch), batch["embodiment"]).float() - target.float()) ** 2
        return (error * mask).sum() / (mask.sum() * error.shape[1])

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        """The training loss (so DDP and torch.compile wrap the whole step)."""
        return self.loss(batch, generator)

    @torch.no_grad()
    def sample(self, batch: dict[str, torch.Tensor], generator: torch.Generator, steps: int | None = None
               ) -> torch.Tensor:
        """Sampled normalized action chunks `(B, chunk, max_action)` for a batch of observations."""
        context, ids = self.encode(batch), batch["embodiment"]
        shape = (len(ids), self.cfg.chunk, self.max_action)
        actions = sample_flow(lambda x, t: self.velocity(x.to(context.dtype), t, context, ids).float(), shape,
                              steps or self.cfg.flow_steps, generator, context.device)
        return actions * self.action_mask(ids)[:, None]  # padding dims would keep their starting noise
