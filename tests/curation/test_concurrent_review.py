"""Two real processes deciding on the same flags at once: no update lost, the audit log consistent."""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from curation.flags import StaleUpdateError, create_flag, get_flag, list_flags, set_flag_state
from db.models import AuditEntry
from db.store import session_scope

N_FLAGS = 4  # few flags, so the two curators keep colliding
OPS_PER_WORKER = 80


def curator(root: str, name: str, seed: int, start, results) -> None:  # noqa: ANN001 (multiprocessing objects)
    """Decide on random flags as seen a moment ago; record what went through and what was refused."""
    rng = random.Random(seed)
    done, refused = [], 0
    start.wait()
    for _ in range(OPS_PER_WORKER):
        flag_id = rng.randint(1, N_FLAGS)
        seen = get_flag(Path(root), flag_id)
        time.sleep(rng.uniform(0, 0.003))  # a curator's think time: the other one may act meanwhile
        target = rng.choice([s for s in ("confirmed", "dismissed", "proposed") if s != seen.state])
        try:
            after = set_flag_state(Path(root), flag_id, target, name, expected_version=seen.version)
            done.append((flag_id, seen.version, after.version, target))
        except StaleUpdateError as exc:
            assert exc.entity_id == flag_id and exc.current["version"] > seen.version
            refused += 1
    results.put((name, done, refused))


def test_two_processes_lose_no_update_and_audit_every_transition(root):
    for i in range(N_FLAGS):
        create_flag(root, f"clip{i}", "jitter", "rules", origin="rule", rule="jitter")
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no engine or pool is inherited
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=curator, args=(str(root), name, seed, start, results))
               for seed, name in enumerate(("ann", "bob"))]
    for worker in workers:
        worker.start()
    start.set()
    reports = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    succeeded = {(name, *item) for name, done, _ in reports for item in done}
    assert all(done for _, done, _ in reports)  # both curators got decisions through
    assert sum(refused for *_, refused in reports) > 0  # and they did collide
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
