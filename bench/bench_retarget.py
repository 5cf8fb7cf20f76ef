"""Our clip retargeter against dex-retargeting, in one process, on the same keypoints, URDFs and configs.

    .venv/bin/python bench/bench_retarget.py [--repeats 3] [--threads 1] [--device cpu] [--data ../shared/data]

Input: dex-retargeting's profiling trajectory (`hand_keypoints/dexretargeting_human_joint_right.npz`,
621 MediaPipe frames already in its MANO wrist frame). Cases: Allegro vector and DexPilot
(dex-retargeting's teleop configs), Sharpa HA4 and G1 Dex3 DexPilot (IsaacTeleop's configs, their
`/home/...` URDF paths resolved under `urdf/`; G1's input turned into its root frame for both
solvers, as `egocurate retarget --hand g1_dex3` does), Inspire vector (mimic joints).

- dex-retargeting: `RetargetingConfig.load_from_file(...).build()`, then `retarget(ref)` frame by
  frame exactly as its `example/profiling` does; its own per-frame `last_optimum_value()` is kept.
- ours: `RetargetConfig.from_yaml(...).build()`, then one `retarget(keypoints)` for the clip.
Timing is the best of `--repeats` interleaved runs (model building excluded for both), one CPU
thread for both (dex-retargeting's optimiser is single-threaded; this machine is shared).

Columns: frames/s; objective = dex-retargeting's loss (the Huber data term that nlopt reports,
mean over frames) at each solver's unfiltered optimum, computed by one function for both (`check`
is its largest difference from dex-retargeting's own reported value, so the definition is the
same); tip err = mean |robot wrist→fingertip - s * human wrist→fingertip| (mm, robot scale) of
the output joint angles (after `low_pass_alpha` filtering, as both return them); step = mean
|q_t - q_(t-1)| of the output (rad, smoothness).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labeling.retarget.config import RetargetConfig
from labeling.retarget.registry import G1_DEX3_INPUT_ROTATION
from labeling.retarget.solver import Retargeter

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("EGOCURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
CASES = (  # (label, config under retargeting_configs/, rotation of the MANO-frame input into the robot's root)
    ("Allegro vector", "dex-retargeting/teleop/allegro_hand_right.yml", None),
    ("Allegro DexPilot", "dex-retargeting/teleop/allegro_hand_right_dexpilot.yml", None),
    ("Sharpa HA4 DexPilot", "isaacteleop/sharpa_ha4_right_dexpilot.yml", None),
    ("G1 Dex3 DexPilot", "isaacteleop/g1_hand_right_dexpilot.yml", G1_DEX3_INPUT_ROTATION),
    ("Inspire vector", "dex-retargeting/teleop/inspire_hand_right.yml", None),
)


@dataclass
class Run:
    seconds: list[float]
    q_out: npt.NDArray[np.float64]  # (T, n_joints) what the solver returns, ours' joint order
    objective: npt.NDArray[np.float64]  # (T,) dex-retargeting's loss at the unfiltered optimum


def run_dex(config_path: Path, urdf_path: str, keypoints: npt.NDArray[np.float64], ours: Retargeter
            ) -> tuple[Run, float]:
    """One dex-retargeting pass; returns the run and the largest |our loss - dex's own| over frames."""
    from dex_retargeting.retargeting_config import RetargetingConfig

    retargeting = RetargetingConfig.load_from_file(config_path, override={"urdf_path": urdf_path}).build()
    origin, task = retargeting.optimizer.target_link_human_indices
    outputs, raw, reported = [], [], []
    started = time.perf_counter()
    for frame in keypoints:
        outputs.append(retargeting.retarget(frame[task] - frame[origin]))
        raw.append(retargeting.last_qpos.copy())
        reported.append(retargeting.optimizer.opt.last_optimum_value())
    elapsed = time.perf_counter() - started
    to_ours = [list(retargeting.joint_names).index(n) for n in ours.joint_names]
    columns = [list(retargeting.optimizer.target_joint_names).index(n) for n in ours.target_joint_names]
    q_raw = ours.full_q(torch.as_tensor(np.asarray(raw)[:, columns], dtype=ours.dtype)).numpy()
    objective = ours.evaluate(q_raw, keypoints)[0]
    return Run([elapsed], np.asarray(outputs)[:, to_ours], objective), float(np.abs(objective - reported).max())


def run_ours(retargeter: Retargeter, keypoints: npt.NDArray[np.float64]) -> Run:
    started = time.perf_counter()
    result = retargeter.retarget(keypoints)
    elapsed = time.perf_counter() - started
    return Run([elapsed], result.q_rad.astype(np.float64), result.objective)


def bench_case(label: str, config_path: Path, urdf_dir: Path, keypoints: npt.NDArray[np.float64], repeats: int,
               device: str) -> list[str]:
    config = RetargetConfig.from_yaml(config_path, urdf_dir=urdf_dir)
    ours = config.build(device)
    run_ours(ours, keypoints[:32])  # warm-up (first-call allocations)
    dex, check = run_dex(config_path, config.urdf_path, keypoints, ours)
    mine = run_ours(ours, keypoints)
    for _ in range(repeats - 1):  # interleaved, so both see the same machine load
        dex.seconds += run_dex(config_path, config.urdf_path, keypoints, ours)[0].seconds
        mine.seconds += run_ours(ours, keypoints).seconds
    rows = []
    for name, run in (("dex-retargeting", dex), ("egocurate", mine)):
        fps = len(keypoints) / min(run.seconds)
        tip_mm = ours.evaluate(run.q_out, keypoints)[1].mean() * 1000
        step = np.abs(np.diff(run.q_out, axis=0)).mean()
        rows.append(f"{label:20s} {name:16s} {fps:9.0f} {run.objective.mean():11.5f} {tip_mm:8.2f} {step:8.4f}")
    speedup = min(dex.seconds) / min(mine.seconds)
    rows[-1] += f"   {speedup:5.1f}x   (check {check:.1e})"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared test data folder")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per solver; the best counts")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for both solvers")
    parser.add_argument("--device", default="cpu", help="device of our solver (cpu or cuda)")
    args = parser.parse_args()
    try:
        import dex_retargeting  # noqa: F401
    except ImportError:
        sys.exit("dex-retargeting is not installed: pip install dex-retargeting==0.5.0 six (see README)")
    torch.set_num_threads(args.threads)
    keypoints = np.load(args.data / "hand_keypoints" / "dexretargeting_human_joint_right.npz")["keypoints"]
    keypoints = keypoints.astype(np.float64)
    print(f"{len(keypoints)} frames, best of {args.repeats}, {args.threads} CPU thread(s), ours on {args.device}, "
          f"torch {torch.__version__}")
    print(f"{'case':20s} {'solver':16s} {'frames/s':>9s} {'objective':>11s} {'tip err':>8s} {'step':>8s}   speedup")
    for label, relative, rotation in CASES:
        # The G1 Dex3 root frame is not MANO-like: both solvers get the keypoints turned into it.
        points = keypoints if rotation is None else keypoints @ np.asarray(rotation).T
        for row in bench_case(label, args.data / "retargeting_configs" / relative, args.data / "urdf", points,
                              args.repeats, args.device):
            print(row, flush=True)


if __name__ == "__main__":
    main()
