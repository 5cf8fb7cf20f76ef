"""Labelling throughput: the stage (1 and 2 workers, and Ray) against a bare MediaPipe loop.

    .venv/bin/python bench/bench_label.py [--data ../shared/data] [--repeats 2]

The clip set: the three EgoDex fixtures (1920x1080 MPEG-4, 340 frames, used in place) and the
dex-retargeting hand video (1280x720 H.264, 621 frames) cut into four parts and re-encoded
`--dex-encodings` times (distinct bytes, so distinct clips) in a temporary folder: with the
default 2, 11 clips and 1582 frames that spread over two workers. Settings are the stage's
defaults (model complexity 1, two hands, every frame).

- bare loop: per clip, decode with PyAV (`iter_frames_rgb`) and call `Hands.process` on each frame,
  nothing else (no decode thread, no PnP, no table, no lake, no job row); one graph per process,
  reset between clips. With 2 processes the clips go through the same kind of spawn pool.
- stage: `run_label` end to end on a freshly ingested root (worker start, decode thread, MediaPipe,
  hand tracks, PnP, Parquet, lake commits, job progress).
- overhead = 1 - stage frames/s / bare frames/s, with the same number of processes.
- CPU ms/frame: user + system time of this process and its (reaped) worker processes per frame,
  which other load on the machine barely moves; Ray's workers are not our children, so n/a there.
Each figure is the best of `--repeats` runs (the machine is shared; load averages are printed).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labeling.media.video import iter_frames_rgb, probe_video, write_h264
from labeling.pose.label import run_label
from labeling.sources.ingest import ingest

REPO = Path(__file__).resolve().parents[1]
DEX_PARTS = 4

_hands = None


def bare_clip(path: str) -> int:
    """Decode and run MediaPipe over one clip, nothing more. Returns frames processed."""
    global _hands
    if _hands is None:
        import mediapipe as mp

        _hands = mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=2, model_complexity=1)
    _hands.reset()
    n = 0
    for _, rgb in iter_frames_rgb(path):
        _hands.process(rgb)
        n += 1
    return n


def cpu_s() -> float:
    """CPU seconds used so far by this process and its finished (reaped) children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bare_loop(paths: list[str], workers: int) -> tuple[int, float, float]:
    started, cpu = time.perf_counter(), cpu_s()
    if workers == 1:
        frames = sum(bare_clip(p) for p in paths)
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            frames = sum(pool.map(bare_clip, paths))
    return frames, time.perf_counter() - started, cpu_s() - cpu


def stage(inputs: list[Path], work: Path, workers: int, executor: str) -> tuple[int, float, float]:
    root = Path(tempfile.mkdtemp(dir=work, prefix="root"))
    ingest(root, inputs, progress=False)
    started, cpu = time.perf_counter(), cpu_s()
    report = run_label(root, workers=workers, executor=executor, progress=False)
    elapsed, cpu = time.perf_counter() - started, cpu_s() - cpu
    if report.failures:
        raise RuntimeError(f"labelling failed: {report.failures}")
    return report.frames, elapsed, cpu


def split_dex_video(video: Path, out_dir: Path, encodings: int) -> list[Path]:
    """The dex-retargeting clip as DEX_PARTS parts, each encoded `encodings` times (distinct content ids)."""
    frames = [rgb for _, rgb in iter_frames_rgb(video)]
    size = -(-len(frames) // DEX_PARTS)
    return [write_h264(out_dir / f"dex_part{i}_crf{18 + e}.mp4", frames[i * size:(i + 1) * size], fps=30.0,
                       crf=18 + e) for e in range(encodings) for i in range(DEX_PARTS)]


def best(runs: list[tuple[int, float, float]]) -> tuple[int, float, float, float]:
    """(frames, seconds, frames/s, CPU ms per frame) of the fastest run; the least CPU of any."""
    frames, elapsed, _ = min(runs, key=lambda run: run[1])
    return frames, elapsed, frames / elapsed, 1000 * min(run[2] for run in runs) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dex-encodings", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        egodex = sorted((args.data / "egodex_sample").glob("*/*.mp4"))
        dex = args.data / "videos" / "dexretargeting_human_hand_video.mp4"
        inputs = split_dex_video(dex, work / "dex", args.dex_encodings) + egodex
        # The stage takes clips longest first; the bare loop gets the same order.
        paths = sorted((str(p) for p in inputs), key=lambda p: -probe_video(p).n_frames)
        results: dict[str, list[tuple[int, float, float]]] = {}
        for _ in range(args.repeats):  # interleaved, so a burst of load hits every variant alike
            for workers in (1, 2):
                results.setdefault(f"bare loop, {workers} process(es)", []).append(bare_loop(paths, workers))
                results.setdefault(f"stage, {workers} worker(s), local", []).append(
                    stage(inputs, work, workers, "local"))
        ray_note = ""
        if not args.no_ray:
            import ray

            started = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            ray_note = f"(Ray started beforehand in {time.perf_counter() - started:.1f} s)"
            for _ in range(args.repeats):
                results.setdefault("stage, 2 CPUs, Ray", []).append(stage(inputs, work, 2, "ray"))
            ray.shutdown()
    table = {name: best(runs) for name, runs in results.items()}
    print(f"\n{len(inputs)} clips, {table['bare loop, 1 process(es)'][0]} frames, best of {args.repeats}")
    columns = ("seconds", "frames/s", "overhead", "CPU ms/frame", "CPU overhead")
    print(f"{'variant':34s} {columns[0]:>8s} {columns[1]:>9s} {columns[2]:>9s} {columns[3]:>13s} {columns[4]:>13s}")
    for name, (_, elapsed, fps, cpu_ms) in table.items():
        bare = table[f"bare loop, {1 if '1 ' in name else 2} process(es)"]
        overhead = "" if name.startswith("bare") else f"{1 - fps / bare[2]:+.1%}"
        ray = "Ray" in name
        cpu = "n/a" if ray else f"{cpu_ms:.2f}"
        cpu_overhead = "" if name.startswith("bare") or ray else f"{cpu_ms / bare[3] - 1:+.1%}"
        print(f"{name:34s} {elapsed:8.2f} {fps:9.1f} {overhead:>9s} {cpu:>13s} {cpu_overhead:>13s}")
    if ray_note:
        print(ray_note)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
