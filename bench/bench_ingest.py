"""Ingest throughput and `clips` filter latency.

    .venv/bin/python bench/bench_ingest.py [--videos 1000] [--catalog 100000]

1. Ingest throughput (clips/s) on N small generated H.264 videos (first run, then a re-run that
   must add nothing and skips by file stamp without re-hashing).
2. Filter-query latency (p50/p95 over repeated queries) on a generated catalog of M clips written
   straight into the lake, through the same `db.queries` functions the app and CLI use.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.engine import QueryEngine  # noqa: E402
from db.lake import Lake  # noqa: E402
from db.queries.views import count_view, list_clips  # noqa: E402
from db.schemas import CLIPS  # noqa: E402
from db.view_spec import ViewSpec  # noqa: E402
from labeling.media.video import write_h264
from labeling.sources.ingest import ingest


def make_videos(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        base = rng.integers(0, 255, size=(48, 64, 3), dtype=np.uint8)
        paths.append(write_h264(folder / f"task_{i % 20:02d}" / f"clip_{i:05d}.mp4",
                                (np.roll(base, k, axis=1) for k in range(15)), fps=30))
    return paths


def bench_ingest(work: Path, n_videos: int) -> None:
    started = time.perf_counter()
    make_videos(work / "videos", n_videos)
    print(f"generated {n_videos} videos (64x48, 15 frames) in {time.perf_counter() - started:.1f} s")
    root = work / "root_ingest"
    for label in ("first run", "re-run"):
        started = time.perf_counter()
        report = ingest(root, [work / "videos"], progress=False)
        elapsed = time.perf_counter() - started
        print(f"ingest {label:9s}: {len(report.added):5d} added, {report.skipped:5d} skipped, "
              f"{elapsed:6.2f} s, {n_videos / elapsed:8.1f} clips/s")


def synthetic_catalog(n: int) -> pa.Table:
    rng = np.random.default_rng(1)
    tasks = np.array([f"task {i}: pick the object {i} and place it" for i in range(300)])
    kinds = np.where(rng.random(n) < 0.9, "human", "robot")
    fps = np.where(kinds == "human", 30.0, 20.0)
    n_frames = rng.integers(60, 3000, n)
    now = datetime.now(UTC)
    columns: dict[str, object] = {name: pa.nulls(n, CLIPS.field(name).type) for name in CLIPS.names}
    columns.update({
        "clip_id": [f"{i:016x}" for i in rng.permutation(n)],
        "kind": kinds,
        "source": rng.choice(["video", "egodex", "lerobot", "synthetic"], n),
        "path": [f"/data/clips/{i}.mp4" for i in range(n)],
        "fps": fps, "n_frames": n_frames, "duration_s": n_frames / fps,
        "width": np.full(n, 1920, np.int32), "height": np.full(n, 1080, np.int32),
        "task": tasks[rng.integers(0, len(tasks), n)],
        "ingested_at": pa.array([now] * n, CLIPS.field("ingested_at").type),
    })
    return pa.table(columns)


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples) * 1000, q))


def bench_filters(work: Path, n_clips: int, repeats: int = 30) -> None:
    root = work / "root_catalog"
    with Lake(root).batch() as batch:
        batch.write("clips", synthetic_catalog(n_clips), {"source": "bench"})
    engine = QueryEngine(root)
    engine.refresh()  # build the views once, as a running app has
    queries = {  # each sorted descending
        "no filter, first page": ViewSpec(descending=True),
        "kind+source": ViewSpec(kinds=("human",), sources=("egodex", "video"), order_by="duration_s", descending=True),
        "task text search": ViewSpec(task_contains="object 17 ", order_by="task", descending=True),
        "duration range, sorted desc": ViewSpec(metric_ranges=(("duration_s", 10, 40),), order_by="duration_s",
                                                descending=True),
    }
    print(f"\nfilter latency on {n_clips:,} clips ({repeats} runs each, count + one page of 100)")
    print(f"{'query':32s} {'matches':>8s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for name, spec in queries.items():
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            matches = count_view(engine, spec)
            list_clips(engine, spec, limit=100, offset=200)
            samples.append(time.perf_counter() - started)
        print(f"{name:32s} {matches:8d} {percentile_ms(samples, 50):8.1f} {percentile_ms(samples, 95):8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--catalog", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_ingest(Path(tmp), args.videos)
        bench_filters(Path(tmp), args.catalog)


if __name__ == "__main__":
    main()
