"""Two real processes deciding on the same flags at once: no update lost, the audit log consistent."""

from __future__ import annotations

import multiprocessing
import random
import time
import traceback
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from curation.flags import StaleUpdateError, create_flag, get_flag, list_flags, set_flag_state
from db.models import AuditEntry
from db.store import session_scope

N_FLAGS = 4  # few flags, so the two curators keep colliding
OPS_PER_WORKER = 80
LOCKSTEP_OPS = 20  # the first rounds: both read the same flag, then both write (a certain collision)

pytestmark = pytest.mark.usefixtures("store_backend")  # on SQLite and on PostgreSQL


def curator(root: str, name: str, seed: int, barrier, results) -> None:  # noqa: ANN001 (multiprocessing objects)
    """Decide on flags as seen a moment ago; record what went through and what was refused."""
    try:
        results.put(_decide(Path(root), name, seed, barrier))
    except BaseException:  # report instead of dying silently, so the parent shows the real error
        results.put((name, "error", traceback.format_exc()))


def _decide(root: Path, name: str, seed: int, barrier) -> tuple:  # noqa: ANN001 (a multiprocessing Barrier)
    rng, shared = random.Random(seed), random.Random(1234)  # `shared` picks the same flag in both
    done, refused = [], 0
    barrier.wait()
    for step in range(OPS_PER_WORKER):
        lockstep = step < LOCKSTEP_OPS
        flag_id = shared.randint(1, N_FLAGS) if lockstep else rng.randint(1, N_FLAGS)
        seen = get_flag(root, flag_id)
        if lockstep:
            barrier.wait()  # both have read the same version; both now try to write
        else:
            time.sleep(rng.uniform(0, 0.003))  # a curator's think time: the other one may act meanwhile
        target = rng.choice([s for s in ("confirmed", "dismissed", "proposed") if s != seen.state])
        try:
            after = set_flag_state(root, flag_id, target, name, expected_version=seen.version)
            done.append((flag_id, seen.version, after.version, target))
        except StaleUpdateError as exc:
            assert exc.entity_id == flag_id and exc.current["version"] > seen.version
            refused += 1
        if lockstep:
            barrier.wait()  # both writes are done before the next round's reads
    return name, done, refused


def test_two_processes_lose_no_update_and_audit_every_transition(root):
    for i in range(N_FLAGS):
        create_flag(root, f"clip{i}", "jitter", "rules", origin="rule", rule="jitter")
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no engine or pool is inherited
    barrier, results = context.Barrier(2, timeout=120), context.Queue()
    workers = [context.Process(target=curator, args=(str(root), name, seed, barrier, results))
               for seed, name in enumerate(("ann", "bob"))]
    for worker in workers:
        worker.start()
    reports = [results.get(timeout=300) for _ in workers]
    errors = [report[2] for report in reports if report[1] == "error"]
    assert not errors, "\n".join(errors)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    succeeded = {(name, *item) for name, done, _ in reports for item in done}
    assert all(done for _, done, _ in reports)  # both curators got decisions through
    assert sum(refused for *_, refused in reports) >= LOCKSTEP_OPS  # every lockstep round collided
    assert len(succeeded) + sum(r for *_, r in reports) == 2 * OPS_PER_WORKER

    with session_scope(root) as session:
        entries = session.execute(select(AuditEntry).where(AuditEntry.entity == "flag",
                                                           AuditEntry.action != "flag.create")
                                  .order_by(AuditEntry.id)).scalars().all()
        transitions = [(e.actor, int(e.entity_id), e.before["version"], e.after["version"], e.after["state"])
                       for e in entries]
    # Every successful decision is in the log exactly once, and nothing else is.
    assert Counter(transitions) == Counter(succeeded)
    for flag in list_flags(root):
        chain = sorted((before, after) for _, fid, before, after, _ in transitions if fid == flag.id)
        assert chain == [(v, v + 1) for v in range(1, flag.version)]  # no version skipped or repeated
        last = [t for t in transitions if t[1] == flag.id]
        assert flag.state == (last[-1][4] if last else "proposed")
