"""View filter latency on a generated catalog: 1M clips with quality metrics and 100k flags.

    .venv/bin/python bench/bench_filters_1m.py [--clips 1000000] [--flags 100000] [--repeats 30]

The catalog (CLIPS rows) and its metrics (METRICS rows) are generated straight into the lake in
batches of 100k, the flags straight into the SQLite annotation store. Each query is one saved-view
style `ViewSpec`, compiled by `db.queries.views` and run the way the app and the CLI run it: a count
plus one page of 100 rows (or the histogram the Quality page draws). Reported: p50/p95
over the repeats, after one warm-up run. Also the one-off costs: building the views and loading
the annotation tables into DuckDB (paid again whenever the store's revision moves).
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
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.views import metric_histogram  # noqa: E402
from db.engine import QueryEngine  # noqa: E402
from db.lake import Lake  # noqa: E402
from db.models import Flag  # noqa: E402
from db.queries.door import fetch_value  # noqa: E402
from db.queries.views import count_view, view_clips  # noqa: E402
from db.schemas import CLIPS, HAND_METRIC_NAMES, HANDS, METRICS  # noqa: E402
from db.store import get_engine, session_scope  # noqa: E402
from db.view_spec import ViewSpec  # noqa: E402

BATCH_ROWS = 100_000
N_TASKS = 300
SOURCES = ("video", "egodex", "lerobot", "synthetic")
FLAG_STATES = ("proposed", "proposed", "confirmed", "dismissed")  # drawn uniformly: half still proposed
RULES = ("keypoint_jitter", "tracking_dropout", "handedness_swap", "unstable_bones", "speed_spike")
# Typical value and spread of a few metrics (log-normal around the typical value); the rest uniform.
METRIC_SHAPES = {"jitter_mm": (1.5, 0.6), "bone_length_cv": (0.001, 1.0), "longest_dropout_s": (0.05, 1.2),
                 "jerk_p95_m_s3": (250.0, 0.5), "motion_energy_m2_s2": (0.05, 0.8)}


def clip_ids(first: int, n: int) -> list[str]:
    return [f"{i:016x}" for i in range(first, first + n)]


def clips_batch(first: int, n: int, rng: np.random.Generator) -> pa.Table:
    tasks = np.array([f"task {i}: pick the object {i} and place it" for i in range(N_TASKS)])
    kinds = np.where(rng.random(n) < 0.9, "human", "robot")
    fps = np.where(kinds == "human", 30.0, 20.0)
    n_frames = rng.integers(60, 3000, n)
    task_index = rng.integers(0, N_TASKS, n)
    columns: dict[str, object] = {name: pa.nulls(n, CLIPS.field(name).type) for name in CLIPS.names}
    columns.update({
        "clip_id": clip_ids(first, n), "kind": kinds, "source": rng.choice(SOURCES, n),
        "path": [f"/data/clips/{i}.mp4" for i in range(first, first + n)], "fps": fps, "n_frames": n_frames,
        "duration_s": n_frames / fps, "width": np.full(n, 1920, np.int32), "height": np.full(n, 1080, np.int32),
        "task": tasks[task_index], "task_slug": [f"task_{i:03d}" for i in task_index],
        "ingested_at": pa.array([datetime.now(UTC)] * n, CLIPS.field("ingested_at").type),
    })
    return pa.table(columns)


def metrics_batch(clips: pa.Table, rng: np.random.Generator) -> pa.Table:
    human = np.asarray(clips.column("kind")) == "human"
    ids = clips.column("clip_id").filter(pa.array(human))
    n = len(ids)
    columns: dict[str, object] = {name: pa.nulls(n, METRICS.field(name).type) for name in METRICS.names}
    columns.update({"clip_id": ids, "scored_at": pa.array([datetime.now(UTC)] * n, METRICS.field("scored_at").type),
                    "pose_source": pa.array(["synthetic"] * n), "evidence": pa.array(["{}"] * n)})
    for name in ("kind", "source", "task", "task_slug"):  # the catalog fields scoring copies
        columns[name] = clips.column(name).filter(pa.array(human))
    for name in HAND_METRIC_NAMES:
        typical, spread = METRIC_SHAPES.get(name, (None, None))
        per_hand = [typical * rng.lognormal(0.0, spread, n) if typical else rng.random(n) for _ in HANDS]
        for hand, values in zip(HANDS, per_hand, strict=True):
            columns[f"{hand}_{name}"] = values
        columns[name] = np.maximum(*per_hand)
    columns["duration_s"] = clips.column("duration_s").filter(pa.array(human))
    return pa.table(columns)


def build(root: Path, n_clips: int, n_flags: int) -> None:
    rng = np.random.default_rng(0)
    lake = Lake(root)
    started = time.perf_counter()
    for first in range(0, n_clips, BATCH_ROWS):
        clips = clips_batch(first, min(BATCH_ROWS, n_clips - first), rng)
        with lake.batch(stage="bench") as batch:
            batch.write("clips", clips, {"source": "bench"})
            batch.write("metrics", metrics_batch(clips, rng))
    print(f"lake: {n_clips:,} clips + metrics written in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    flagged = rng.choice(n_clips, n_flags, replace=False)
    now = datetime.now(UTC)
    rows = [{"clip_id": f"{int(i):016x}", "frame_start": None, "frame_end": None, "hand": None, "reason": "bench",
             "severity": "warning", "origin": "rule", "rule": RULES[k % len(RULES)],
             "state": FLAG_STATES[int(rng.integers(0, len(FLAG_STATES)))], "author": "bench", "created_at": now,
             "updated_at": now, "version": 1} for k, i in enumerate(flagged)]
    get_engine(root)
    with session_scope(root) as session:
        session.execute(insert(Flag), rows)
        session.info["wrote"] = True
    print(f"store: {n_flags:,} flags inserted in {time.perf_counter() - started:.1f} s")


QUERIES = {
    "all clips, first page": ViewSpec(),
    "metric ranges": ViewSpec(metric_ranges=(("jitter_mm", None, 2.0), ("detection_rate", 0.5, None))),
    "task + source + range, by jitter": ViewSpec(tasks=("task_017", "task_123"), sources=("egodex", "synthetic"),
                                                 metric_ranges=(("left_jerk_p95_m_s3", None, 400.0),),
                                                 order_by="jitter_mm", descending=True),
    "proposed flags": ViewSpec(flag_states=("proposed",), order_by="jitter_mm", descending=True),
    "export-like: clean humans": ViewSpec(kinds=("human",), exclude_flag_states=("proposed", "confirmed"),
                                          metric_ranges=(("bone_length_cv", None, 0.01), ("duration_s", 2.0, 60.0))),
    "text search": ViewSpec(text="object 17 "),
    "everything at once": ViewSpec(kinds=("human",), sources=("egodex",), text="pick",
                                   metric_ranges=(("jitter_mm", None, 3.0),), flag_states=("dismissed",),
                                   exclude_flag_states=("confirmed",), order_by="longest_dropout_s", descending=True),
}


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    values = np.array(samples) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def bench(root: Path, repeats: int) -> None:
    started = time.perf_counter()
    engine = QueryEngine(root)
    engine.refresh()  # views over the lake + annotation tables loaded, as a running app has
    print(f"engine: views + {fetch_value(engine, 'SELECT count(*) FROM flags'):,} flags loaded "
          f"in {time.perf_counter() - started:.2f} s")
    print(f"\n{'query (count + page of 100)':36s} {'matches':>9s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for name, spec in QUERIES.items():
        samples = []
        for run in range(repeats + 1):
            started = time.perf_counter()
            matches = count_view(engine, spec)
            view_clips(engine, spec, limit=100, offset=0)
            if run:  # the first run warms caches
                samples.append(time.perf_counter() - started)
        p50, p95 = percentiles_ms(samples)
        print(f"{name:36s} {matches:9,d} {p50:8.1f} {p95:8.1f}")
    samples = []
    for run in range(repeats + 1):
        started = time.perf_counter()
        metric_histogram(engine, ViewSpec(kinds=("human",)), "jitter_mm", bins=30)
        if run:
            samples.append(time.perf_counter() - started)
    p50, p95 = percentiles_ms(samples)
    print(f"{'Quality histogram (jitter_mm)':36s} {'':9s} {p50:8.1f} {p95:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1_000_000)
    parser.add_argument("--flags", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        build(root, args.clips, args.flags)
        bench(root, args.repeats)


if __name__ == "__main__":
    main()
