"""Concurrent curators on the annotation store: N writer processes x M writes on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_load.py [--writers 8] [--ops 200] [--flags 40 --labels 10 --pairs 10]

The workload is `tests/reliability/workload.py` (the same as tests/reliability/test_load.py, larger):
each writer makes `--ops` successful writes (flag confirm / dismiss / re-open, pair decisions, label
edits) on a shared set of rows, each on the version it read, retrying after a stale refusal; one
reader process queries every row's version through DuckDB (`db.engine.query_engine`) meanwhile.
Runs on SQLite (WAL, `synchronous=NORMAL`) and on a throwaway local PostgreSQL started by
`tests/postgres.py` twice: commits without fsync (what SQLite's WAL mode does) and with PostgreSQL's
default fsync per commit. Prints throughput (successful writes / s across all writers), write-call
latency, stale refusals, lost updates and audit mismatches (both must be 0). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.paths import DB_URL_ENV  # noqa: E402
from tests.postgres import postgres_server  # noqa: E402
from tests.reliability.workload import LoadPlan, LoadResult, Verdict, run_load, verify  # noqa: E402


def percentile_ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000 if len(values) > 1 else 0.0


@contextlib.contextmanager
def store(backend: str) -> object:
    """Point `EGOCURATE_DB_URL` at the backend for the run (unset: the root's SQLite file)."""
    if backend == "sqlite":
        os.environ.pop(DB_URL_ENV, None)
        yield
        return
    with postgres_server(durable=backend.endswith("fsync")) as server:
        os.environ[DB_URL_ENV] = server.url(server.create_database("bench"))
        try:
            yield
        finally:
            os.environ.pop(DB_URL_ENV, None)


def one_backend(backend: str, plan: LoadPlan) -> tuple[LoadResult, Verdict, float]:
    with store(backend), tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        root = Path(tmp) / "root"
        started = time.perf_counter()
        result = run_load(root, plan)
        wall = time.perf_counter() - started
        return result, verify(root, result), wall


def row(backend: str, result: LoadResult, verdict: Verdict) -> str:
    writes = [s for w in result.writers for s in w.latencies_s]
    reads = result.reader.latencies_s
    errors = sum(bool(w.error) for w in result.writers) + bool(result.reader.error)
    return (f"| {backend} | {len(result.done)} | {len(result.done) / result.span_s:.0f} | "
            f"{percentile_ms(writes, 50):.1f} | {percentile_ms(writes, 95):.1f} | {result.refused} | "
            f"{verdict.lost_updates} | {verdict.audit_mismatches + verdict.broken_chains} | "
            f"{'ok' if not verdict.integrity else 'FAILED'} | {result.reader.queries} | "
            f"{percentile_ms(reads, 50):.1f} | {percentile_ms(reads, 95):.1f} | {errors} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8, help="writer processes")
    parser.add_argument("--ops", type=int, default=200, help="successful writes per writer")
    parser.add_argument("--lockstep", type=int, default=10, help="first writes made by all writers on one row")
    parser.add_argument("--flags", type=int, default=40, help="flags shared by the writers")
    parser.add_argument("--labels", type=int, default=10, help="task labels shared by the writers")
    parser.add_argument("--pairs", type=int, default=10, help="pairs shared by the writers")
    parser.add_argument("--backends", default="sqlite,postgresql,postgresql-fsync", help="comma-separated")
    args = parser.parse_args()
    plan = LoadPlan(writers=args.writers, ops_per_writer=args.ops, lockstep_ops=args.lockstep, n_flags=args.flags,
                    n_labels=args.labels, n_pairs=args.pairs)
    lines = []
    for backend in args.backends.split(","):
        result, verdict, wall = one_backend(backend, plan)
        lines.append(row(backend, result, verdict))
        print(f"{backend}: {wall:.1f} s in all, {result.span_s:.1f} s writing", flush=True)
        for report in [*result.writers, result.reader]:
            if report.error:
                print(report.error)
    print(f"\n{plan.writers} writers x {plan.ops_per_writer} writes on {plan.n_flags} flags, {plan.n_labels} labels, "
          f"{plan.n_pairs} pairs ({plan.lockstep_ops} lockstep rounds), 1 DuckDB reader; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| store | writes | writes/s | write p50 ms | write p95 ms | stale refused | lost updates | "
          "audit mismatches | integrity | reader queries | read p50 ms | read p95 ms | process errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
