"""A run's `log.jsonl`: one JSON record per line (train steps, evaluations), appended as training goes.

A kill can cut the last line mid-write; readers drop such a torn last line instead of failing, so a
killed run's curves still draw and it still resumes. Rewrites (on resume) go through a temporary file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from db.paths import RUN_LOG, run_log_path


def append_record(out_dir: Path, record: dict) -> None:
    with open(run_log_path(out_dir), "a") as handle:
        handle.write(json.dumps(record) + "\n")


def parse_records(lines: list[str]) -> list[dict]:
    """Records of log lines in order; a last line that does not parse (torn by a kill) is dropped."""
    lines = [line for line in lines if line.strip()]
    records = []
    for index, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if index < len(lines) - 1:  # only the last line can be cut short; anything else is damage
                raise
    return records


def read_log(out_dir: Path | str) -> list[dict]:
    """The run's log records (train steps and evaluations), in order."""
    path = run_log_path(Path(out_dir))
    return parse_records(path.read_text().splitlines()) if path.is_file() else []


def rewrite_log(out_dir: Path, records: list[dict]) -> None:
    """Replace the log with `records`, atomically (a kill leaves the old log or the new one)."""
    tmp = out_dir / f"{RUN_LOG}.tmp-{os.getpid()}"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
    os.replace(tmp, run_log_path(out_dir))


def train_losses(out_dir: Path | str) -> list[float]:
    """The per-step training losses of a run, in step order."""
    return [r["train_loss"] for r in read_log(out_dir) if "train_loss" in r]


def final_val(out_dir: Path | str) -> dict[str, float]:
    """The last validation estimate of a run (embodiment → MSE)."""
    evals = [r["val"] for r in read_log(out_dir) if "val" in r]
    return evals[-1] if evals else {}
