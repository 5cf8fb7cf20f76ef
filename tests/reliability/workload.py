"""Several curators at once: writer processes deciding flags, pairs and labels while a reader queries.

Used by `tests/reliability/test_load.py` (small) and `bench/bench_load.py` (large). The store is
whatever `db.store.store_url(root)` picks, so `EGOCURATE_DB_URL` (inherited by the spawned
processes) runs it on PostgreSQL.

Each writer makes `ops_per_writer` successful writes. A write reads a row, thinks a moment and
writes on the version it read; a `StaleUpdateError` (someone changed the row meanwhile) is counted
and the writer reads again and retries. The first `lockstep_ops` writes are made in lockstep (every
writer reads the same row, then all write at once), so refusals are certain, not luck. `verify`
then checks that every successful write is reflected: final versions, final values, the audit log
and the store revision.
"""

from __future__ import annotations

import os
import random
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text

from curation.flags import StaleUpdateError, create_flag, get_flag, set_flag_state
from curation.labels import LABELS, set_task_text, update_label
from curation.pair_store import PairProposal, decide_pair, get_pair, sync_proposals
from db.models import AuditEntry, Flag, Label, Pair
from db.paths import DB_URL_ENV
from db.store import get_engine, session_scope, store_revision, store_url

Row = tuple[str, int]  # (entity, id): "flag" | "label" | "pair"
Done = tuple[str, int, int, int, str]  # entity, id, version before, version after, value written
READER_PAUSE_S = 0.005  # between a reader's queries: a busy page, not a spin loop taking a core from the writers
MAX_ATTEMPTS = 500  # a writer that cannot get one write through in this many tries has a real problem
READ_SQL = ("SELECT 'flag' AS entity, id, version FROM flags UNION ALL SELECT 'label', id, version FROM labels "
            "UNION ALL SELECT 'pair', id, version FROM pairs")


@dataclass(frozen=True)
class LoadPlan:
    writers: int = 4  # writer processes
    ops_per_writer: int = 25  # successful writes each writer makes
    lockstep_ops: int = 5  # first writes made by all writers on one row at once (certain collisions)
    n_flags: int = 6  # few rows, so writers keep colliding
    n_labels: int = 3
    n_pairs: int = 3
    think_s: float = 0.002  # longest pause between a read and the write made on it
    seed: int = 0


@dataclass
class WriterReport:
    name: str
    done: list[Done] = field(default_factory=list)
    refused: int = 0  # stale writes refused (each then re-read and retried)
    latencies_s: list[float] = field(default_factory=list)  # every write call, refused or not
    started: float = 0.0  # time.monotonic() when writing began and ended
    ended: float = 0.0
    error: str | None = None


@dataclass
class ReaderReport:
    queries: int = 0
    latencies_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # versions going backwards, rows vanishing
    error: str | None = None


@dataclass
class LoadResult:
    rows: list[Row]
    writers: list[WriterReport]
    reader: ReaderReport
    revision_delta: int  # store revision moves: one per committed write

    @property
    def done(self) -> list[tuple[str, ...]]:
        return [(w.name, *d) for w in self.writers for d in w.done]

    @property
    def refused(self) -> int:
        return sum(w.refused for w in self.writers)

    @property
    def span_s(self) -> float:
        return max(w.ended for w in self.writers) - min(w.started for w in self.writers)


def seed_store(root: Path, plan: LoadPlan) -> list[Row]:
    """Rows to fight over: rule flags, task texts, proposed pairs (all at version 1)."""
    rows: list[Row] = [("flag", create_flag(root, f"clip{i}", "jitter", "rules", origin="rule", rule="jitter").id)
                       for i in range(plan.n_flags)]
    rows += [("label", set_task_text(root, f"clip{i}", f"task {i}", "seed").id) for i in range(plan.n_labels)]
    sync_proposals(root, [PairProposal(f"clip{i}", f"robot{i}", 0.9, 1.0, [[0, 0], [1, 1]])
                          for i in range(plan.n_pairs)])
    with session_scope(root) as session:
        rows += [("pair", pair_id) for pair_id in session.execute(select(Pair.id).order_by(Pair.id)).scalars()]
    return rows


def read_row(root: Path, row: Row) -> tuple[int, str]:
    """The row's (version, value): a flag's or pair's state, a label's text."""
    entity, row_id = row
    if entity == "flag":
        flag = get_flag(root, row_id)
        return flag.version, flag.state
    if entity == "pair":
        pair = get_pair(root, row_id)
        return pair.version, pair.state
    with session_scope(root) as session:
        label = session.execute(select(LABELS.c.version, LABELS.c.text).where(LABELS.c.id == row_id)).one()
    return label.version, label.text


def write_row(root: Path, row: Row, actor: str, version: int, seen: str, rng: random.Random) -> str:
    """Change the row from what was seen, on that version; returns the value written."""
    entity, row_id = row
    if entity == "flag":
        target = rng.choice([s for s in ("confirmed", "dismissed", "proposed") if s != seen])  # proposed: re-open
        set_flag_state(root, row_id, target, actor, expected_version=version)
    elif entity == "pair":
        target = rng.choice([s for s in ("accepted", "rejected", "proposed") if s != seen])
        decide_pair(root, row_id, target, actor, version, reason="wrong object" if target == "rejected" else None)
    else:
        target = f"{actor} edit {rng.randrange(10**9)}"
        update_label(root, row_id, target, actor, expected_version=version)
    return target


def _one_write(root: Path, row: Row, name: str, rng: random.Random, report: WriterReport, barrier,  # noqa: ANN001
               think_s: float) -> None:
    version, seen = read_row(root, row)
    if barrier is not None:
        barrier.wait()  # every writer has read the same version: all now write at once
    else:
        time.sleep(rng.uniform(0, think_s))  # others may act meanwhile
    for _ in range(MAX_ATTEMPTS):
        started = time.perf_counter()
        try:
            value = write_row(root, row, name, version, seen, rng)
            report.latencies_s.append(time.perf_counter() - started)
            report.done.append((row[0], row[1], version, version + 1, value))
            return
        except StaleUpdateError as exc:
            report.latencies_s.append(time.perf_counter() - started)
            assert exc.current is not None and exc.current["version"] > version, exc
            report.refused += 1
            version, seen = read_row(root, row)
    raise RuntimeError(f"{name} could not write {row} in {MAX_ATTEMPTS} attempts")


def _use_store(url: str) -> None:
    # Forked from a server process started earlier, so the parent's environment is not inherited.
    os.environ[DB_URL_ENV] = url


def writer(root: str, url: str, name: str, plan: LoadPlan, rows: list[Row], start, barrier,  # noqa: ANN001
           results) -> None:  # noqa: ANN001 (multiprocessing objects)
    """A writer process: `plan.ops_per_writer` successful writes; puts its `WriterReport` on `results`."""
    report = WriterReport(name)
    try:
        _use_store(url)
        rng, shared = random.Random(f"{plan.seed}-{name}"), random.Random(plan.seed)  # `shared`: same row for all
        start.wait()
        report.started = time.monotonic()
        for step in range(plan.ops_per_writer):
            lockstep = step < plan.lockstep_ops
            row = (shared if lockstep else rng).choice(rows)
            _one_write(Path(root), row, name, rng, report, barrier if lockstep else None, plan.think_s)
            if lockstep:
                barrier.wait()  # every write of this round is done before the next round's reads
        report.ended = time.monotonic()
    except BaseException:  # report instead of dying silently, so the parent shows the real error
        report.error = traceback.format_exc()
    results.put(report)


def reader(root: str, url: str, start, stop, results) -> None:  # noqa: ANN001 (multiprocessing objects)
    """A page-like reader: queries every row's version through DuckDB until `stop`; versions never go back."""
    from db.engine import query_engine

    report, highest = ReaderReport(), {}
    try:
        _use_store(url)
        engine = query_engine(root)
        engine.cursor()  # tables loaded before the writers start
        start.wait()
        while not stop.is_set():
            started = time.perf_counter()
            seen = engine.cursor().execute(READ_SQL).fetchall()
            report.latencies_s.append(time.perf_counter() - started)
            report.queries += 1
            if highest and len(seen) != len(highest):
                report.problems.append(f"query {report.queries} saw {len(seen)} rows, not {len(highest)}")
            for entity, row_id, version in seen:
                if version < highest.get((entity, row_id), 0):
                    report.problems.append(f"{entity} {row_id} went back to version {version}")
                highest[(entity, row_id)] = version
            time.sleep(READER_PAUSE_S)
    except BaseException:
        report.error = traceback.format_exc()
    results.put(report)


def open_store(root: str, url: str, start, results, write: bool = False) -> None:  # noqa: ANN001
    """A process opening (and so migrating) the store, or with `write` making its first write to it, at the
    same moment as others (`start`, a multiprocessing Barrier); puts 'ok' or the error on `results`."""
    try:
        _use_store(url)
        if write:
            get_engine(Path(root))  # opened before the start: what races is the first write
        start.wait()
        get_engine(Path(root))
        if write:
            create_flag(Path(root), "clip0", "first write", f"curator{os.getpid()}")
        results.put("ok")
    except BaseException:
        results.put(traceback.format_exc())


def run_load(root: Path, plan: LoadPlan, timeout_s: float = 600) -> LoadResult:
    """Seed the store, run `plan.writers` writer processes and one reader at once, collect their reports."""
    import multiprocessing

    rows = seed_store(root, plan)
    start_revision = store_revision(root)
    # Forked from a fresh server process that imported this module once: no engine or pool is
    # inherited, and the writers do not each pay the imports (seconds on a busy 2-core machine).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    start, barrier = context.Barrier(plan.writers + 1, timeout=timeout_s), context.Barrier(plan.writers,
                                                                                          timeout=timeout_s)
    results, stop, url = context.Queue(), context.Event(), store_url(root)
    names = [f"curator{k}" for k in range(plan.writers)]
    processes = [context.Process(target=writer, args=(str(root), url, name, plan, rows, start, barrier, results))
                 for name in names]
    processes.append(context.Process(target=reader, args=(str(root), url, start, stop, results)))
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=timeout_s) for _ in names]
        stop.set()
        reader_report = results.get(timeout=timeout_s)
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return LoadResult(rows, sorted(reports, key=lambda r: r.name), reader_report,
                      store_revision(root) - start_revision)


@dataclass
class Verdict:
    lost_updates: int  # successful writes not reflected in a row's final version or value
    audit_mismatches: int  # successful writes missing from the audit log, plus entries for no write
    broken_chains: int  # rows whose audited versions skip or repeat
    revision_mismatch: int  # store revision moves minus successful writes
    integrity: list[str]  # problems the database itself reports

    @property
    def ok(self) -> bool:
        return not (self.lost_updates or self.audit_mismatches or self.broken_chains or self.revision_mismatch
                    or self.integrity)


def _final_rows(root: Path) -> dict[Row, tuple[int, str]]:
    with session_scope(root) as session:
        finals = {("flag", r.id): (r.version, r.state) for r in session.execute(select(Flag.id, Flag.version,
                                                                                         Flag.state))}
        finals |= {("pair", r.id): (r.version, r.state) for r in session.execute(select(Pair.id, Pair.version,
                                                                                         Pair.state))}
        finals |= {("label", r.id): (r.version, r.text) for r in session.execute(select(Label.id, Label.version,
                                                                                          Label.text))}
    return finals


def _audited(root: Path) -> Counter:
    """(actor, entity, id, version before, version after) of every audited update (creations left out)."""
    with session_scope(root) as session:
        entries = session.execute(select(AuditEntry).where(AuditEntry.entity.in_(("flag", "label", "pair"))))
        # `before` is JSON null (not SQL NULL) on creations: filtered here, after decoding.
        return Counter((e.actor, e.entity, int(e.entity_id), int(e.before["version"]), int(e.after["version"]))
                       for e in entries.scalars() if e.before is not None)


def store_integrity(root: Path) -> list[str]:
    """What the database reports wrong with itself: SQLite's integrity and foreign-key checks; PostgreSQL's
    view of the annotation tables must match the DuckDB copy the pages query."""
    from db.engine import QueryEngine

    problems: list[str] = []
    engine = get_engine(root)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            if (check := conn.execute(text("PRAGMA integrity_check")).scalar()) != "ok":
                problems.append(f"integrity_check: {check}")
            problems += [f"foreign key: {tuple(r)}" for r in conn.execute(text("PRAGMA foreign_key_check"))]
    copied = {(e, i): v for e, i, v in QueryEngine(root).cursor().execute(READ_SQL).fetchall()}
    stored = {row: version for row, (version, _) in _final_rows(root).items()}
    if copied != stored:
        problems.append(f"DuckDB copy differs from the store: {sorted(set(copied.items()) ^ set(stored.items()))}")
    return problems


def verify(root: Path, result: LoadResult) -> Verdict:
    """Check every successful write is reflected (versions, values, audit log, revision) and the store is sound."""
    finals = _final_rows(root)
    lost = 0
    for row in result.rows:
        writes = [d for d in result.done if (d[1], d[2]) == row]
        version, value = finals[row]
        last = [d[5] for d in writes if d[4] == version]
        lost += abs(1 + len(writes) - version) + (0 if not writes or last == [value] else 1)
    expected = Counter(tuple(d[:5]) for d in result.done)
    audited = _audited(root)
    mismatches = sum(((expected - audited) + (audited - expected)).values())
    broken = 0
    for row in result.rows:
        chain = sorted((b, a) for _, entity, row_id, b, a in audited.elements() if (entity, row_id) == row)
        broken += chain != [(v, v + 1) for v in range(1, finals[row][0])]
    return Verdict(lost, mismatches, broken, result.revision_delta - len(result.done), store_integrity(root))
