"""The lake's commit log: all-or-nothing batches, declared schemas, retired files, garbage."""

from __future__ import annotations

import pyarrow as pa
import pytest

from db.lake import Lake
from db.schemas import METRICS


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
