"""kill -9 during a burst of annotation-store writes, on each store backend (SQLite WAL, PostgreSQL).

Every write is one transaction: the flag row, its audit entry and the store revision land together
or not at all. After the kill the store passes its integrity check, every write the writer saw
committed is there, no write is half there, and a second run finishes the burst without duplicates.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import AuditEntry, Flag
from db.store import get_engine, store_revision

from .crash import assert_store_intact, kill_when, start_python
from .store_burst import AUTHOR, PREFIX, run_burst

N_FLAGS = 150  # two writes each
KILL_AFTER_WRITES = 20


def _noted(log: Path) -> list[tuple[str, int]]:
    """The writes the killed writer saw committed (a torn last line is not one)."""
    text = log.read_text() if log.is_file() else ""
    return [(kind, int(index)) for kind, index in (line.split() for line in text.splitlines(keepends=True)
                                                   if line.endswith("\n"))]


def _burst_rows(root: Path) -> tuple[dict[int, tuple[str, int]], dict[int, int]]:
    """flag index -> (state, version), and flag index -> audit entries, of the burst's flags."""
    with get_engine(root).connect() as conn:
        flags = conn.execute(select(Flag.id, Flag.clip_id, Flag.state, Flag.version)
                             .where(Flag.clip_id.startswith(PREFIX))).all()
        audits = dict(conn.execute(select(AuditEntry.entity_id, func.count()).where(
            AuditEntry.entity == "flag", AuditEntry.actor == AUTHOR).group_by(AuditEntry.entity_id)).all())
    index = {row.id: int(row.clip_id.removeprefix(PREFIX)) for row in flags}
    assert len(index) == len(set(index.values())), "a flag was created twice"
    return ({index[row.id]: (row.state, row.version) for row in flags},
            {index[int(flag_id)]: count for flag_id, count in audits.items()})


@pytest.mark.usefixtures("store_backend")
def test_a_killed_write_burst_keeps_every_committed_write_whole(root, tmp_path):
    baseline = store_revision(root)  # creates and migrates the store before the writer starts
    log = tmp_path / "burst.log"
    process = start_python(["-m", "tests.reliability.store_burst", "--root", str(root), "--flags", str(N_FLAGS),
                            "--log", str(log)], tmp_path / "burst.out")
    kill_when(process, lambda: len(_noted(log)) >= KILL_AFTER_WRITES, f"{KILL_AFTER_WRITES} committed writes")

    assert_store_intact(get_engine(root))
    flags, audits = _burst_rows(root)
    created = {i for kind, i in _noted(log) if kind == "create"}
    reviewed = {i for kind, i in _noted(log) if kind == "review"}
    assert created <= flags.keys() and len(flags.keys() - created) <= 1, "committed creates are all there"
    dismissed = {i for i, (state, _) in flags.items() if state == "dismissed"}
    assert reviewed <= dismissed and len(dismissed - reviewed) <= 1, "committed reviews are all there"
    assert len(flags) < N_FLAGS or len(dismissed) < N_FLAGS, "killed before the end of the burst"
    for i, (state, version) in flags.items():  # a flag and its audit entry landed together
        assert (state, audits.get(i)) == (("proposed", 1) if version == 1 else ("dismissed", 2)), (i, state, version)
    assert store_revision(root) - baseline == sum(audits.values()), "one revision bump per committed write"

    assert run_burst(root, N_FLAGS) == 2 * N_FLAGS - sum(audits.values()), "committed writes are not redone"
    flags, audits = _burst_rows(root)
    assert flags == {i: ("dismissed", 2) for i in range(N_FLAGS)}
    assert audits == {i: 2 for i in range(N_FLAGS)}
    assert store_revision(root) - baseline == 2 * N_FLAGS
    assert_store_intact(get_engine(root))
