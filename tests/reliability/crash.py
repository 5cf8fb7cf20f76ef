"""Kill -9 a pipeline command mid-work, then check what it left: the helpers of the crash-safety suite.

    process = start_cli(root, ["retarget", "--hand", "egocurate_hand22"], settings={...})
    kill_when(process, lambda: lake_commits(root) >= 1, "the first retarget commit")
    assert_lake_whole(root); assert_no_duplicates(root); assert_store_intact(get_engine(root))

A command runs as `egocurate` would (the CLI's `main`) in a child process that leads its own process
group, so the kill reaches its workers too. The kill waits for a condition that shows work under
way (a commit, a checkpoint, a file), never for a time, so a loaded machine only makes it later.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
from sqlalchemy import Engine, text

from db import paths
from db.engine import QueryEngine
from db.lake import Lake
from db.schemas import STAGES

REPO = Path(__file__).resolve().parents[2]
POLL_S = 0.01  # how often a kill condition is checked: far shorter than one unit of any stage's work
START_TIMEOUT_S = 180.0  # a generous bound for a kill condition on a loaded 2-core machine
# The identity of a row in each lake stage: `count(*) == count(DISTINCT key)` means no duplicates.
STAGE_KEYS = {
    "clips": "clip_id",
    "frames": "clip_id, frame_index, hand, pose_source",
    "robot_frames": "clip_id, frame_index",
    "retargets": "clip_id, frame_index, hand, embodiment",
    "metrics": "clip_id",
}

# Runs `egocurate ARGS...` after setting module constants (`settings`: module -> {name: value}).
# Settings only shrink batch sizes, so that a small run still commits several times and a kill can
# land between two commits; every code path is the one a full-size run takes.
_DRIVER = """
import importlib, json, sys
spec = json.loads(sys.argv[1])
for module, values in spec["settings"].items():
    for name, value in values.items():
        setattr(importlib.import_module(module), name, value)
from app.cli import main
main(spec["args"], prog_name="egocurate")
"""


def start_cli(root: Path, args: Sequence[str], settings: dict[str, dict[str, object]] | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `egocurate --root ROOT ARGS...` in a new process group; output goes to `<root>-<command>.log` beside it."""
    return start_python(["-c", _DRIVER, json.dumps({"args": ["--root", str(root), *args], "settings": settings or {}})],
                        root.parent / f"{root.name}-{args[0]}.log", env)


def start_python(argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `python ARGV...` from the repository root as the leader of a new process group."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, *argv], cwd=REPO, env=environment, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log_path = log_path  # type: ignore[attr-defined]  (for failure messages)
    return process


def kill_when(process: subprocess.Popen, condition: Callable[[], object], what: str,
              timeout_s: float = START_TIMEOUT_S) -> object:
    """SIGKILL the process group as soon as `condition()` is truthy; returns that value.

    Raises:
        AssertionError: the command ended before the condition held (it was not killed mid-work),
            or the condition never held.
    """
    def check_running() -> None:
        if process.poll() is not None:
            raise AssertionError(f"the command exited ({process.returncode}) before {what}")

    try:
        return wait_for(condition, what, timeout_s, check_running)
    except AssertionError as exc:
        raise AssertionError(f"{exc}:\n{log_tail(process)}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):  # workers may outlive the leader: kill the group
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(condition: Callable[[], object], what: str, timeout_s: float = START_TIMEOUT_S,
             between_polls: Callable[[], None] = lambda: None) -> object:
    """Poll `condition()` until it is truthy and return its value; `between_polls` may raise to give up.

    Raises:
        AssertionError: `condition()` stayed falsy for `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        between_polls()
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


def log_tail(process: subprocess.Popen, chars: int = 3000) -> str:
    path = Path(process.log_path)  # type: ignore[attr-defined]
    return path.read_text(errors="replace")[-chars:] if path.is_file() else "(no output)"


def lake_commits(root: Path, stage: str | None = None) -> int:
    """Commit entries in the lake (of one `meta.stage`), read the way readers read them."""
    if not (paths.lake_dir(root) / paths.COMMITS_DIR).is_dir():
        return 0
    return sum(1 for e in Lake(root).entries() if stage is None or (e.get("meta") or {}).get("stage") == stage)


def assert_lake_whole(root: Path) -> None:
    """Every file the commit log lists reads back, and the query engine sees exactly those rows.

    A file a killed writer left under `_tmp/` or unnamed in a stage folder must add no row to the views.
    """
    lake = Lake(root)
    engine = QueryEngine(root)  # a fresh engine: nothing cached from before the kill
    reader = duckdb.connect()
    for stage in STAGES:
        files = lake.files(stage)
        assert not [f for f in files if paths.TMP_DIR in f.parts], f"{stage}: a temp file is listed"
        # Every column of every row is decoded: a torn file fails here. (DuckDB, not pyarrow: pyarrow 24
        # cannot read back the null fixed-size keypoint lists of absent hands that it writes.)
        rows = sum(reader.read_parquet(str(f)).to_arrow_table().num_rows for f in files)
        seen = engine.cursor().execute(f'SELECT count(*) FROM "{stage}"').fetchone()[0]
        assert seen == rows, f"{stage}: the query engine sees {seen} rows, the committed files hold {rows}"


def assert_no_duplicates(root: Path) -> dict[str, int]:
    """`count(*) == count(DISTINCT key)` in every stage view; returns the row count per stage."""
    cursor = QueryEngine(root).cursor()
    counts = {}
    for stage, key in STAGE_KEYS.items():
        total, distinct = cursor.execute(f'SELECT count(*), count(DISTINCT ({key})) FROM "{stage}"').fetchone()
        assert total == distinct, f"{stage}: {total - distinct} duplicate rows by ({key})"
        counts[stage] = total
    return counts


def assert_store_intact(engine: Engine) -> None:
    """The annotation store's own consistency check passes (SQLite: integrity and foreign keys).

    PostgreSQL has no page-level check to run from SQL; there the checks of the rows themselves
    (each test's) are what shows committed writes are intact.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalars().all() == ["ok"]
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        else:
            assert conn.execute(text("SELECT 1")).scalar() == 1
