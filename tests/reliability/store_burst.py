"""A burst of annotation-store writes, to be killed mid-way: flags created, then reviewed, one transaction each.

    python -m tests.reliability.store_burst --root R --flags N --log FILE

Runs against whatever store the root uses (`EGOCURATE_DB_URL` picks PostgreSQL). Resumable: a flag
already created (found by its clip id) is not created again, nor one already reviewed reviewed
again. After each committed write one line (`create I` / `review I`) is appended to FILE, so every
write FILE names was committed before the process died; at most one more may have been.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from curation.flags import create_flag, dismiss_flag, list_flags

AUTHOR = "burst"
PREFIX = "burst-"


def burst_clip_id(index: int) -> str:
    return f"{PREFIX}{index:05d}"


def run_burst(root: Path, n_flags: int, log: Path | None = None) -> int:
    """Create flag `i` as a rule's proposal, then dismiss it, for every i < n_flags; writes made."""
    existing = {f.clip_id: f for f in list_flags(root) if f.clip_id.startswith(PREFIX)}
    writes = 0
    for index in range(n_flags):
        clip_id = burst_clip_id(index)
        flag = existing.get(clip_id)
        if flag is None:
            flag = create_flag(root, clip_id, f"burst write {index}", AUTHOR, origin="rule", rule="burst")
            writes += _note(log, f"create {index}")
        if flag.state == "proposed":
            dismiss_flag(root, flag.id, AUTHOR, flag.version)
            writes += _note(log, f"review {index}")
    return writes


def _note(log: Path | None, line: str) -> int:
    if log is not None:
        with open(log, "a") as handle:
            handle.write(line + "\n")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.store_burst")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--flags", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    run_burst(args.root, args.flags, args.log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
