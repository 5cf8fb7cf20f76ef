"""kill -9 a lake writer while its batch is staged (files written, commit not yet made): nothing of
it is visible, a re-run commits normally beside the stale temp files, and garbage collection
removes them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from db import paths
from db.engine import QueryEngine
from db.lake import Lake
from db.schemas import METRICS

from .crash import assert_lake_whole, kill_when, start_python

# Stages one batch and waits inside it forever: the kill lands after the staged file is written
# and before the commit, deterministically.
_STAGE_AND_HANG = """
import sys, time
from pathlib import Path
import pyarrow as pa
from db.lake import Lake
from db.schemas import METRICS
with Lake(Path(sys.argv[1])).batch(stage="test") as batch:
    batch.write("metrics", pa.table({**{f.name: pa.nulls(1, f.type) for f in METRICS}, "clip_id": ["staged"]}))
    time.sleep(3600)
"""


def _metrics(clip_ids: list[str]) -> pa.Table:
    columns = {f.name: pa.nulls(len(clip_ids), f.type) for f in METRICS}
    return pa.table({**columns, "clip_id": pa.array(clip_ids, pa.string())})


def _visible(root: Path) -> list[str]:
    return [r[0] for r in QueryEngine(root).cursor().execute("SELECT clip_id FROM metrics ORDER BY 1").fetchall()]


def test_a_batch_killed_before_its_commit_stays_invisible_and_is_collected(root):
    lake = Lake(root)
    with lake.batch(stage="test") as batch:
        batch.write("metrics", _metrics(["before"]))
    staged_dir = lake.dir / paths.TMP_DIR
    process = start_python(["-c", _STAGE_AND_HANG, str(root)], root.parent / "stage.log")
    kill_when(process, lambda: list(staged_dir.rglob("*.parquet")), "the staged file")

    assert _visible(root) == ["before"], "a staged file adds no row"
    assert_lake_whole(root)
    with lake.batch(stage="test") as batch:  # the re-run
        batch.write("metrics", _metrics(["after"]))
    assert _visible(root) == ["after", "before"]
    (stale,) = staged_dir.iterdir()
    assert lake.collect_garbage(min_age_s=0) == [stale] and not stale.exists()
    assert _visible(root) == ["after", "before"]
    assert_lake_whole(root)
