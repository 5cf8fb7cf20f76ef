"""The training loop (`egocurate train`): one readable loop, nanoGPT style.

    cfg = TrainConfig.from_yaml(config_path("smoke"), {"data_dir": "exports/demo", "out_dir": "runs/pre"})
    last = train(cfg)                                    # runs/pre/checkpoints/<step>/ ; runs/pre/log.jsonl
    train(TrainConfig.from_yaml(config_path("smoke"), {"data_dir": ..., "stage": "midtrain", "init": str(last)}))

Stage `pretrain` trains on the export's human episodes; `midtrain` on every episode (human + robot),
usually starting from a pretrain checkpoint (`init`). Deterministic with a seed: batch `k` is fixed by
the seeded batch stream and the flow noise of step `k` by a generator seeded with `(seed, k)`, so a
resumed run (`checkpoints/last` in `out_dir`) repeats the uninterrupted run's losses exactly on CPU.
Under `torchrun` the loop runs DDP; rank 0 evaluates, logs and saves.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from db import paths
from db.config_files import config_from_dict, load_config

from .data import HUMAN, ChunkDataset, cache_frames, fit_norm, make_loader, nested_subset
from .ema import WeightAverage
from .mixture import read_training_data
from .policy import ModelConfig, Policy, adapter_key
from .run_log import append_record, read_log, rewrite_log

CONFIG_DIR = Path(__file__).parent / "configs"
STAGES = ("pretrain", "midtrain")
# Set from a signal handler (trainer/runs.py: SIGTERM); the loop checkpoints after its current step and stops.
_stop_requested = threading.Event()


class TrainingStopped(Exception):
    """`train` stopped on `request_stop()`, after saving a checkpoint (`.checkpoint`) a resume continues from."""

    def __init__(self, checkpoint: Path) -> None:
        super().__init__(f"stopped on request; checkpoint {checkpoint}")
        self.checkpoint = checkpoint


def request_stop() -> None:
    """Ask a running `train` to save a checkpoint after its current step and raise `TrainingStopped`."""
    _stop_requested.set()


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Paths are strings so the config round-trips through YAML and checkpoints."""

    data_dir: str | None = None  # the EgoCurate export (LeRobot v2.1 or v3.0, or a mixture of them) to train on
    out_dir: str = f"{paths.RUNS_DIR}/egocurate"  # run folder: checkpoints/<step>/, checkpoints/last, log.jsonl
    stage: str = "pretrain"  # pretrain: human episodes only; midtrain: human + robot episodes
    init: str | None = None  # checkpoint whose weights start the run (midtrain: the pretrain checkpoint)
    cache_dir: str | None = None  # decoded-frame cache; None: <out_dir>/frame_cache
    human_fraction: float = 1.0  # share of the human training hours used (scaling runs nest these)
    seed: int = 0  # fixes initialisation, batch order and flow noise
    data_seed: int | None = None  # orders the human episodes human_fraction takes from; None: seed
    robot_only: bool = False  # midtrain on (and score) the robot episodes only (a scaling run's transfer step)
    batch_size: int = 32  # samples per optimizer step, over all DDP ranks
    max_steps: int = 200  # optimizer steps; the LR schedule ends here
    stop_at: int | None = None  # stop (with a checkpoint) before this step, as a preempted job would
    lr: float = 3e-4  # peak learning rate (AdamW)
    min_lr: float = 3e-5  # learning rate at the end of the cosine decay
    warmup_steps: int = 20  # linear warmup steps from 0 to lr
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    grad_clip: float = 1.0  # max global gradient norm; 0 turns clipping off
    ema_decay: float = 0.0  # 0: off; else validation scores, and the next stage starts from, the weights' EMA
    eval_every: int = 50  # steps between validation estimates (and at the last step); 0: at the last step only
    eval_timesteps: int = 64  # held-out timesteps per embodiment, evenly spaced over its episodes
    eval_samples: int = 2  # sampled action chunks per held-out timestep
    ckpt_every: int = 100  # steps between checkpoints (and at the end)
    log_every: int = 10  # steps between printed log lines (every step goes to log.jsonl)
    workers: int = 2  # DataLoader worker processes (0: load in the training process)
    device: str = "auto"  # auto (cuda when available), cpu, cuda, cuda:1, ...
    compile: bool = True  # torch.compile the loss on CUDA (never on CPU: compile time dwarfs a smoke run)
    bf16: bool = True  # bf16 autocast on CUDA
    adapters_from: str | None = "human"  # a new embodiment as wide as this one starts from its adapters
    resume: bool = True  # continue from <out_dir>/checkpoints/last when it exists
    quiet: bool = False  # no printed log lines
    model: ModelConfig = field(default_factory=ModelConfig)  # the policy's shape

    def __post_init__(self) -> None:
        """Check values; errors name the field."""
        if self.stage not in STAGES:
            raise ValueError(f"TrainConfig.stage must be one of {STAGES}, got {self.stage!r}")
        if self.human_fraction is None or not 0 < self.human_fraction <= 1:
            raise ValueError(f"TrainConfig.human_fraction must be in (0, 1], got {self.human_fraction}")
        for name in ("batch_size", "max_steps", "eval_timesteps", "eval_samples", "ckpt_every", "log_every"):
            if getattr(self, name) is None or getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "min_lr", "warmup_steps", "weight_decay", "grad_clip", "workers", "eval_every"):
            if getattr(self, name) is None or getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.ema_decay is None or not 0 <= self.ema_decay < 1:
            raise ValueError(f"TrainConfig.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.min_lr > self.lr:
            raise ValueError(f"TrainConfig.min_lr ({self.min_lr}) must not exceed lr ({self.lr})")
        if self.stop_at is not None and not 0 < self.stop_at <= self.max_steps:
            raise ValueError(f"TrainConfig.stop_at must be in [1, max_steps], got {self.stop_at}")
        if self.robot_only and self.stage != "midtrain":
            raise ValueError("TrainConfig.robot_only is for midtrain runs (pretrain trains on human episodes)")
        if not isinstance(self.model, ModelConfig):
            raise ValueError("TrainConfig.model must be a ModelConfig")

    @classmethod
    def from_dict(cls, values: dict, where: str = "") -> TrainConfig:
        """Build from plain values; unknown keys and wrong types raise `ValueError` naming `where` and the key."""
        return config_from_dict(cls, values, where)

    @classmethod
    def from_yaml(cls, path: Path | str, override: dict | None = None) -> TrainConfig:
        """Read a YAML config; `override` (not mutated) replaces top-level keys and merges `model`."""
        return load_config(cls, path, override, what="the training config")

    def to_dict(self) -> dict:
        return asdict(self)


def config_path(name: str) -> Path:
    """A built-in config by name (smoke, small, paper) or a YAML path."""
    path = Path(name) if name.endswith((".yml", ".yaml")) else CONFIG_DIR / f"{name}.yml"
    if not path.is_file():
        raise ValueError(f"config {name!r}: no such file {path}")
    return path


def get_lr(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay from `lr` to `min_lr` at `max_steps`."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))) * (cfg.lr - cfg.min_lr)


def get_batch(batches: object, device: torch.device) -> dict[str, torch.Tensor]:
    """The next batch of the endless stream, on the device."""
    return {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}


@torch.no_grad()
def estimate_loss(model: Policy, val: ChunkDataset, cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    """EgoScale validation: MSE of sampled action chunks, per embodiment, over held-out timesteps x samples.

    Timesteps are evenly spaced over each embodiment's validation samples and the sampling noise is
    seeded, so the number is the same every time for the same weights.
    """
    model.eval()
    out: dict[str, float] = {}
    embodiment_of = np.array([val.embodiment_ids[i] for i, _ in val.index])
    for e, name in enumerate(model.embodiments):
        rows = np.flatnonzero(embodiment_of == e)
        if len(rows) == 0:
            continue
        rows = rows[np.linspace(0, len(rows) - 1, min(cfg.eval_timesteps, len(rows))).round().astype(int)]
        errors = []
        for start in range(0, len(rows), cfg.batch_size):
            items = [val[int(i)] for i in rows[start:start + cfg.batch_size]]
            batch = {k: torch.stack([item[k] for item in items]).to(device) for k in items[0]}
            mask = model.action_mask(batch["embodiment"])[:, None]
            for s in range(cfg.eval_samples):
                generator = torch.Generator(device).manual_seed(cfg.seed * 7919 + s)
                with _autocast(cfg, device):
                    sampled = model.sample(batch, generator)
                error = ((sampled - batch["action"].float()) ** 2 * mask).sum((1, 2)) / (mask.sum((1, 2)) *
                                                                                          sampled.shape[1])
                errors.append(error.cpu())
        out[name] = float(torch.cat(errors).mean())
    model.train()
    return out


def _autocast(cfg: TrainConfig, device: torch.device) -> object:
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and cfg.bf16 else nullcontext()


def _distributed(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    """(rank, world size, device); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        rank, local = torch.distributed.get_rank(), int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local)
            return rank, world, torch.device("cuda", local)
        return rank, world, torch.device("cpu")
    name = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    return 0, 1, torch.device(name)


def find_checkpoint(path: Path | str) -> Path:
    """The checkpoint file of a run folder (its `checkpoints/last`), a checkpoint folder, or the file itself."""
    path = Path(path)
    for candidate in (paths.last_checkpoint(path) / paths.CHECKPOINT_FILE, path / paths.CHECKPOINT_FILE, path):
        if candidate.is_file():
            return candidate
    raise ValueError(f"{path}: no checkpoint there (expected checkpoint.pt or checkpoints/last/)")


def load_checkpoint(path: Path | str) -> dict:
    return torch.load(find_checkpoint(path), map_location="cpu", weights_only=True)


def policy_weights(state: dict) -> dict[str, torch.Tensor]:
    """The weights a checkpoint's run evaluated, and the next stage starts from: the EMA when the run kept one."""
    return state.get("ema") or state["model"]


def save_checkpoint(out_dir: Path, state: dict) -> Path:
    """`checkpoints/<step>/checkpoint.pt` + `meta.json`, then repoint `checkpoints/last` atomically."""
    folder = paths.checkpoint_dir(out_dir, state["step"])
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / paths.CHECKPOINT_FILE
    torch.save(state, file.with_suffix(".tmp"))
    os.replace(file.with_suffix(".tmp"), file)
    meta = {k: v for k, v in state.items() if k not in ("model", "ema", "optimizer")}
    (folder / paths.CHECKPOINT_META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    link = paths.last_checkpoint(out_dir)
    tmp = link.with_name(f"{link.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(folder.name)
    os.replace(tmp, link)
    return folder


def _log(out_dir: Path, record: dict, cfg: TrainConfig, echo: bool) -> None:
    append_record(out_dir, record)
    if echo and not cfg.quiet:
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()), flush=True)


def _setup(cfg: TrainConfig, device: torch.device) -> tuple:
    """Data, model and optimizer for a run, restored from `checkpoints/last` when resuming."""
    out_dir = Path(cfg.out_dir)
    export = read_training_data(Path(cfg.data_dir))
    frames = cache_frames(export, Path(cfg.cache_dir or out_dir / paths.RUN_FRAME_CACHE_DIR), cfg.model.image_size)
    wanted = {HUMAN} if cfg.stage == "pretrain" else None
    if cfg.robot_only:
        wanted = {e for e in export.dims() if e != HUMAN}
    all_train_eps = export.select("train", wanted)
    data_seed = cfg.seed if cfg.data_seed is None else cfg.data_seed
    train_eps = nested_subset(all_train_eps, cfg.human_fraction, data_seed)
    val_eps = export.select("validation", wanted)
    if not train_eps:
        raise ValueError(f"{cfg.data_dir}: no training episodes for stage {cfg.stage}")
    resume = paths.last_checkpoint(out_dir)
    start = load_checkpoint(resume) if cfg.resume and resume.exists() else None
    init = start or (load_checkpoint(cfg.init) if cfg.init else None)
    if init is not None and ModelConfig(**init["model_config"]) != cfg.model:
        raise ValueError(f"TrainConfig.model differs from the checkpoint's model {init['model_config']}")
    dims = {e: tuple(d) for e, d in (init["dims"] if init else {}).items()}
    dims.update({e: d for e, d in export.dims().items() if wanted is None or e in wanted})
    # Normalised on the whole training split, whatever the fraction: nested scaling runs then measure
    # validation loss in the same units (a small fraction's own statistics would inflate it).
    norm = fit_norm(all_train_eps) | (init["norm"] if init else {})  # pretrained adapters keep their scale
    torch.manual_seed(cfg.seed)
    model = Policy(cfg.model, dims).to(device)
    if init is not None:
        # Resuming continues the raw weights (the EMA is restored beside them); a new stage starts from the
        # weights its init run evaluated.
        weights = init["model"] if start is not None else policy_weights(init)
        missing, unexpected = model.load_state_dict(weights, strict=False)
        new = tuple(f".{k}" for k in dims if k not in init["dims"])
        if unexpected or any(not any(n in m for n in new) for m in missing):
            raise ValueError(f"checkpoint does not fit the policy: missing {missing[:3]}, unexpected {unexpected[:3]}")
        if start is None:
            _copy_adapters(model, cfg.adapters_from, [k for k in dims if k not in init["dims"]])
    model.set_tasks(export.tasks)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and p.requires_grad]
    other = [p for n, p in model.named_parameters() if p.ndim < 2 and p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": other, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    if start is not None:
        optimizer.load_state_dict(start["optimizer"])
    widths = (model.max_state, model.max_action)
    train_set = ChunkDataset(train_eps, frames, cfg.model.chunk, norm, model.embodiments, export.tasks, widths)
    val_set = ChunkDataset(val_eps, frames, cfg.model.chunk, norm, model.embodiments, export.tasks, widths)
    return export, model, optimizer, train_set, val_set, norm, start


def _copy_adapters(model: Policy, source: str | None, new: list[str]) -> None:
    """Start new embodiments' adapters from `source`'s where the widths agree.

    EgoScale's human action space *is* the 22-DoF hand's joint space, so a robot with that hand reads
    and writes the same numbers; a fresh adapter would throw the pretrained mapping away.
    """
    if source is None or source not in model.dims:
        return
    with torch.no_grad():
        for name in (n for n in new if model.dims[n] == model.dims[source]):
            for adapters in (model.state_in, model.action_in, model.action_out):
                adapters[adapter_key(name)].load_state_dict(adapters[adapter_key(source)].state_dict())


def train(cfg: TrainConfig) -> Path:
    """Run (or resume) one training run; returns its last checkpoint folder (what `init` of the next stage takes)."""
    if not cfg.data_dir:
        raise ValueError("TrainConfig.data_dir is required: the export to train on")
    rank, world, device = _distributed(cfg)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    export, model, optimizer, train_set, val_set, norm, start = _setup(cfg, device)
    step = start["step"] if start else 0
    best_val = start["best_val"] if start else None
    if start is not None and step >= (cfg.stop_at or cfg.max_steps):  # finished: keep its log (final eval too)
        return paths.last_checkpoint(out_dir)
    ema = WeightAverage(model, cfg.ema_decay) if cfg.ema_decay else None
    if ema is not None and start is not None and start.get("ema"):
        ema.load_state_dict(start["ema"])
    scored = ema.model if ema is not None else model  # the weights validation measures
    if rank == 0 and start is None:
        paths.run_log_path(out_dir).unlink(missing_ok=True)
    elif rank == 0:  # steps logged after the checkpoint by the interrupted run are done again
        rewrite_log(out_dir, [r for r in read_log(out_dir) if r["step"] < step])
    # `Policy.forward` is its loss: DDP all-reduces gradients only through the wrapper's forward.
    loss_fn = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    if device.type == "cuda" and cfg.compile:
        loss_fn = torch.compile(loss_fn)
    batches = iter(make_loader(train_set, cfg.batch_size, cfg.seed, step, cfg.workers, rank, world,
                               train_set.sample_probs(export.weights)))
    generator = torch.Generator(device)
    stop = cfg.stop_at or cfg.max_steps
    t_window, n_window = time.perf_counter(), 0

    def checkpoint() -> Path:
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                 **({"ema": ema.state_dict()} if ema is not None else {}),
                 "best_val": best_val, "config": cfg.to_dict() | {"model": cfg.model.to_dict()},
                 "model_config": cfg.model.to_dict(), "dims": {e: list(d) for e, d in model.dims.items()},
                 "norm": norm, "stage": cfg.stage, "data_fingerprint": export.fingerprint,
                 "train_episodes": [e.index for e in train_set.episodes],
                 "human_train_hours": sum(e.seconds for e in train_set.episodes if e.embodiment == HUMAN) / 3600}
        return save_checkpoint(out_dir, state)

    last = None
    while step < stop:
        lr = get_lr(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if rank == 0 and cfg.eval_every and (step % cfg.eval_every == 0) and len(val_set):
            val = estimate_loss(scored, val_set, cfg, device)
            best_val = min(best_val, *val.values()) if best_val is not None else min(val.values())
            _log(out_dir, {"step": step, "val": val}, cfg, echo=True)
        batch = get_batch(batches, device)
        generator.manual_seed(cfg.seed * 1_000_003 + step * 97 + rank)
        with _autocast(cfg, device):
            loss = loss_fn(batch, generator)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip or float("inf"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.update(model, step)
        step += 1
        n_window += len(batch["action"]) * world
        if rank == 0:
            record = {"step": step - 1, "train_loss": loss.item(), "lr": lr, "grad_norm": float(grad_norm)}
            echo = step % cfg.log_every == 0 or step == stop
            if echo:
                elapsed = time.perf_counter() - t_window
                record["samples_per_s"] = n_window / max(elapsed, 1e-9)
                t_window, n_window = time.perf_counter(), 0
            _log(out_dir, record, cfg, echo)
            if step % cfg.ckpt_every == 0 or step == stop or _stop_requested.is_set():
                if step == cfg.max_steps and len(val_set):
                    val = estimate_loss(scored, val_set, cfg, device)
                    best_val = min(best_val, *val.values()) if best_val is not None else min(val.values())
                    _log(out_dir, {"step": step, "val": val}, cfg, echo=True)
                last = checkpoint()
            if _stop_requested.is_set() and step < stop:
                _stop_requested.clear()  # handled: a later train() in this process runs to its end
                raise TrainingStopped(last)
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return last or paths.last_checkpoint(out_dir)


def with_overrides(cfg: TrainConfig, **values: object) -> TrainConfig:
    """`cfg` with some fields replaced (validated again)."""
    return replace(cfg, **values)
