"""Several curators at once, on SQLite and on PostgreSQL: 4 writer processes x 25 decisions and edits
(flags confirmed, dismissed and re-opened, pair decisions, label edits) on a few shared rows while a
reader process queries through DuckDB. No successful write may be lost, every stale write is refused
(then retried), and the store is sound afterwards. Figures at larger scale: `bench/bench_load.py`.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from curation.flags import confirm_flag
from db.models import Flag
from db.store import session_scope, store_revision
from tests.reliability.workload import LoadPlan, LoadResult, ReaderReport, WriterReport, run_load, seed_store, verify

PLAN = LoadPlan(writers=4, ops_per_writer=25, lockstep_ops=5)


@pytest.mark.slow
def test_concurrent_writers_and_a_reader_lose_no_update(root, store_backend):
    result = run_load(root, PLAN)

    errors = [w.error for w in result.writers if w.error] + [result.reader.error or ""]
    assert not any(errors), "\n".join(errors)
    assert [len(w.done) for w in result.writers] == [PLAN.ops_per_writer] * PLAN.writers
    # Each lockstep round, all writers wrote on one version: all but one were refused (then retried).
    assert result.refused >= PLAN.lockstep_ops * (PLAN.writers - 1)
    assert {d[1] for d in result.done} == {"flag", "label", "pair"}
    assert result.reader.queries > 0 and result.reader.problems == []

    verdict = verify(root, result)
    assert verdict.lost_updates == 0
    assert verdict.audit_mismatches == 0 and verdict.broken_chains == 0
    assert verdict.revision_mismatch == 0  # one revision bump per committed write; refused ones commit nothing
    assert verdict.integrity == []


def test_the_check_catches_an_overwrite_and_an_unaudited_change(root, store_backend):
    """`verify` itself: clean when nothing was lost, and it catches the two ways an update goes missing."""
    rows = seed_store(root, LoadPlan(n_flags=2, n_labels=1, n_pairs=1))
    start = store_revision(root)
    assert verify(root, LoadResult(rows, [WriterReport("nobody")], ReaderReport(), 0)).ok
    first, second = rows[0][1], rows[1][1]
    confirm_flag(root, first, "ann", expected_version=1)
    with session_scope(root) as session:
        # bob's write made the lost-update way: on what he read (version 1), unchecked, unaudited
        session.execute(update(Flag).where(Flag.id == first).values(state="dismissed"))
        # and a change to another row that bumps its version but leaves no audit entry
        session.execute(update(Flag).where(Flag.id == second).values(state="confirmed", version=2))
    writers = [WriterReport("ann", done=[("flag", first, 1, 2, "confirmed")]),
               WriterReport("bob", done=[("flag", first, 1, 2, "dismissed")])]
    verdict = verify(root, LoadResult(rows, writers, ReaderReport(), store_revision(root) - start))
    assert verdict.lost_updates == 3  # first: two writes, one version step, mixed values; second: one step, no write
    assert verdict.audit_mismatches == 1  # bob's write
    assert verdict.broken_chains == 1  # second's version 2 has no audited step
    assert not verdict.ok
