"""The lake's commit log: all-or-nothing batches, declared schemas, retired files, garbage."""

from __future__ import annotations

import pyarrow as pa
import pytest

from db.lake import Lake
from db.schemas import METRICS, STAGES


def _metrics(ids: list[str]) -> pa.Table:
    columns = {f.name: pa.nulls(len(ids), f.type) for f in METRICS}
    return pa.table({**columns, "clip_id": pa.array(ids, pa.string())})


def test_commit_makes_files_visible_at_once(root):
    lake = Lake(root)
    with lake.batch() as batch:
        batch.write("metrics", _metrics(["b", "a"]))
        assert lake.files("metrics") == []  # staged, not visible yet
    files = lake.files("metrics")
    assert len(files) == 1
    assert lake.read("metrics")["clip_id"].to_pylist() == ["a", "b"]  # sorted by clip_id


def test_failed_batch_leaves_nothing_visible_or_on_disk(root):
    lake = Lake(root)
    with pytest.raises(RuntimeError), lake.batch() as batch:
        batch.write("metrics", _metrics(["a"]))
        raise RuntimeError("killed half-way")
    assert lake.files("metrics") == []
    assert not list((lake.dir / "metrics").rglob("*.parquet"))
    assert not list((lake.dir / "_tmp").glob("*"))


def test_schema_is_enforced_with_the_column_named(root):
    lake = Lake(root)
    with pytest.raises(ValueError, match="scored_at"), lake.batch() as batch:
        batch.write("metrics", _metrics(["a"]).drop_columns(["scored_at"]))
    with pytest.raises(ValueError, match="nulls"), lake.batch() as batch:
        batch.write("metrics", _metrics([None]))
    with pytest.raises(ValueError, match="unknown lake stage"), lake.batch() as batch:
        batch.write("nope", _metrics(["a"]))
    assert lake.files("metrics") == []


def test_a_later_commit_can_retire_files(root):
    lake = Lake(root)
    with lake.batch() as batch:
        batch.write("metrics", _metrics(["a"]))
    old = [f.relative_to(lake.dir).as_posix() for f in lake.files("metrics")]
    with lake.batch() as batch:
        batch.write("metrics", _metrics(["a2"]))
        batch.remove(old)
    assert lake.read("metrics")["clip_id"].to_pylist() == ["a2"]
    with lake.batch() as batch:  # a commit may only retire files (it stages none)
        batch.remove([f.relative_to(lake.dir).as_posix() for f in lake.files("metrics")])
    assert lake.files("metrics") == [] and lake.read("metrics").num_rows == 0


def test_garbage_collection_removes_only_unnamed_files(root):
    lake = Lake(root)
    with lake.batch() as batch:
        batch.write("metrics", _metrics(["a"]))
    orphan = lake.dir / "metrics" / "orphan.parquet"
    orphan.write_bytes(b"left by a killed writer")
    removed = lake.collect_garbage(min_age_s=0)
    assert removed == [orphan]
    assert len(lake.files("metrics")) == 1 and lake.files("metrics")[0].exists()


def test_version_changes_on_commit(root):
    lake = Lake(root)
    before = lake.version()
    with lake.batch() as batch:
        batch.write("metrics", _metrics(["a"]))
    assert lake.version() != before


def test_a_writers_first_batch_clears_day_old_leftovers(root):
    import os
    import time

    import db.lake

    lake = Lake(root)
    with lake.batch() as batch:
        batch.write("metrics", _metrics(["a"]))
    old, fresh = lake.dir / "metrics" / "old.parquet", lake.dir / "metrics" / "fresh.parquet"
    stale_tmp = lake.dir / "_tmp" / "killed-batch"
    for path in (old, fresh, stale_tmp / "x.parquet"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left by a killed writer")
    day_ago = time.time() - db.lake.GARBAGE_MIN_AGE_S - 60
    for path in (old, stale_tmp):
        os.utime(path, (day_ago, day_ago))
    db.lake._collected.discard(lake.dir)  # as in a new process
    with lake.batch() as batch:
        batch.write("metrics", _metrics(["b"]))
    assert not old.exists() and not stale_tmp.exists() and fresh.exists()
    assert len(lake.files("metrics")) == 2


def test_read_gives_back_frames_with_null_world_keypoints(root):
    """Null nested fixed-size lists (sources without world keypoints) trip pyarrow's own Parquet reader."""
    import numpy as np

    from labeling.sources.base import frames_table

    n = 3
    present = np.array([[True, False]] * n)
    table = frames_table("c", 30.0, np.zeros((n, 2, 21, 2), np.float32), np.ones((n, 2, 21, 3), np.float32),
                         present, np.ones((n, 2), np.float32), "egodex")
    lake = Lake(root)
    with lake.batch() as batch:
        batch.write("frames", table)
    back = lake.read("frames")
    assert back.schema.equals(STAGES["frames"])
    order = [("frame_index", "ascending"), ("hand", "ascending")]
    assert back.sort_by(order).to_pylist() == table.sort_by(order).to_pylist()
