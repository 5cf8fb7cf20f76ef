"""Trainer figures on the synthetic demo export: loader and training throughput, and what pretraining buys.

    .venv/bin/python bench/bench_train.py [--data EXPORT] [--out DIR] [--pretrain-steps N] [--midtrain-steps N]

1. Builds the full demo set and exports it (LeRobot v3.0, every proposed pair accepted) unless `--data`
   names an export.
2. Loader: samples/s of the cached-frame DataLoader with 0 and 2 worker processes (after the one-off
   decode into the frame cache, whose time is printed too).
3. Training: samples/s of the optimizer loop (from the run's log) on CPU, or on the GPU when there is one.
4. Transfer (EgoScale's claim at toy scale): pretrain on the export's human episodes, then midtrain on
   human + robot from that checkpoint and, with the same config and steps, from scratch; prints the
   robot validation MSE (sampled action chunks on held-out episodes) of both.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.trainer.conftest import build_exports  # noqa: E402
from trainer.data import HUMAN, ChunkDataset, cache_frames, fit_norm, make_loader, read_export  # noqa: E402
from trainer.run_log import final_val, read_log  # noqa: E402
from trainer.train import TrainConfig, config_path, train  # noqa: E402

BENCH_MODEL = {"image_size": 32, "patch": 8, "d_model": 64, "n_heads": 4, "backbone_layers": 2, "dit_layers": 2,
               "chunk": 16, "flow_steps": 8}


def loader_rate(export_dir: Path, cache: Path, workers: int, batches: int = 60) -> tuple[float, float]:
    """(seconds to fill the frame cache, loader samples/s) with `workers` processes."""
    export = read_export(export_dir)
    t0 = time.perf_counter()
    frames = cache_frames(export, cache, BENCH_MODEL["image_size"])
    cached_s = time.perf_counter() - t0
    episodes = export.select("train")
    ds = ChunkDataset(episodes, frames, BENCH_MODEL["chunk"], fit_norm(episodes), sorted(export.dims()),
                      export.tasks, (62, 62))
    it = iter(make_loader(ds, 64, seed=0, start_batch=0, workers=workers))
    next(it)  # worker start-up is not throughput
    t0, n = time.perf_counter(), 0
    for _ in range(batches):
        n += len(next(it)["action"])
    return cached_s, n / (time.perf_counter() - t0)


def run(data: Path, out: Path, stage: str, steps: int, init: Path | None = None) -> Path:
    cfg = TrainConfig.from_yaml(config_path("smoke"), {
        "data_dir": str(data), "out_dir": str(out), "cache_dir": str(out.parent / "cache"), "stage": stage,
        "init": str(init) if init else None, "max_steps": steps, "warmup_steps": max(1, steps // 20),
        "batch_size": 32, "lr": 1e-3, "min_lr": 1e-4, "eval_every": steps, "ckpt_every": steps,
        "eval_timesteps": 256, "eval_samples": 4, "log_every": 25, "workers": 2, "quiet": True,
        "model": BENCH_MODEL})
    t0 = time.perf_counter()
    last = train(cfg)
    rates = [r["samples_per_s"] for r in read_log(out) if "samples_per_s" in r][1:]  # the first window warms up
    print(f"  {stage:9s} {out.name:22s} {steps:5d} steps in {time.perf_counter() - t0:6.1f} s, "
          f"{sum(rates) / max(len(rates), 1):7.0f} training samples/s, val {final_val(out)}")
    return last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="an EgoCurate export (default: build the demo)")
    parser.add_argument("--out", type=Path, default=None, help="where runs go (default: a temporary folder)")
    parser.add_argument("--pretrain-steps", type=int, default=400)
    parser.add_argument("--midtrain-steps", type=int, default=150)
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="egocurate-bench-train-"))
    work.mkdir(parents=True, exist_ok=True)
    data = args.data
    if data is None:
        t0 = time.perf_counter()
        data = build_exports(work / "demo", demo_options={}, size=(160, 120), accept="best")["v30"]
        print(f"demo export built in {time.perf_counter() - t0:.0f} s: {data}")
    export = read_export(data)
    counts = {e: sum(1 for x in export.episodes if x.embodiment == e) for e in export.dims()}
    print(f"export {export.version}: {len(export.episodes)} episodes {counts}, "
          f"{sum(e.length for e in export.episodes)} frames; torch threads {torch.get_num_threads()}, "
          f"device {'cuda' if torch.cuda.is_available() else 'cpu'}")
    for workers in (0, 2):
        cached_s, rate = loader_rate(data, work / "cache", workers)
        print(f"loader, {workers} workers: {rate:8.0f} samples/s (frame cache filled in {cached_s:.1f} s)")
    print("training (robot validation MSE after midtraining is the figure of merit):")
    pre = run(data, work / "pretrain", "pretrain", args.pretrain_steps)
    warm = run(data, work / "midtrain-from-pretrain", "midtrain", args.midtrain_steps, init=pre)
    cold = run(data, work / "midtrain-from-scratch", "midtrain", args.midtrain_steps)
    robot = next(e for e in export.dims() if e != HUMAN)
    a, b = final_val(warm.parents[1])[robot], final_val(cold.parents[1])[robot]
    print(f"robot ({robot}) validation MSE: from human pretrain {a:.4f}, from scratch {b:.4f} "
          f"({100 * (b - a) / b:+.1f}% for pretraining)")


if __name__ == "__main__":
    main()
