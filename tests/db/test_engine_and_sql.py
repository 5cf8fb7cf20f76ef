"""DuckDB engine: public views, annotation tables, and the read-only, bounded SQL door."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from db.engine import QueryEngine
from db.models import Flag
from db.queries.door import SqlError, run_readonly_sql
from db.queries.views import count_view, list_clips
from db.store import session_scope
from db.view_spec import ViewSpec
from labeling.sources.ingest import ingest

PUBLIC_VIEWS = ("clips", "frames", "robot_frames", "retargets", "metrics", "flags", "labels", "pairs")


def test_public_views_exist_and_are_empty_on_a_new_root(root):
    engine = QueryEngine(root)
    for view in PUBLIC_VIEWS:
        assert engine.cursor().execute(f"SELECT count(*) FROM {view}").fetchone()[0] == 0
    columns = [d[0] for d in engine.cursor().execute("SELECT * FROM frames").description]
    assert columns == ["clip_id", "frame_index", "timestamp_s", "hand", "present", "score", "kp2d_px",
                       "kp3d_m", "pose_source", "kp3d_world_m"]


def test_annotation_writes_show_up_in_duckdb(root):
    engine = QueryEngine(root)
    assert engine.cursor().execute("SELECT count(*) FROM flags").fetchone()[0] == 0
    with session_scope(root) as session:
        session.add(Flag(clip_id="c1", reason="dropout", author="ann", severity="error"))
    rows = engine.cursor().execute("SELECT clip_id, reason, state FROM flags").fetchall()
    assert rows == [("c1", "dropout", "proposed")]


def test_clip_filters_bind_parameters(root, tiny_video):
    ingest(root, [tiny_video], progress=False)
    engine = QueryEngine(root)
    assert count_view(engine, ViewSpec(kinds=("human",))) == 1
    assert count_view(engine, ViewSpec(kinds=("robot",))) == 0
    hostile = "x' OR 1=1; DROP VIEW clips; --"
    assert count_view(engine, ViewSpec(task_contains=hostile)) == 0
    assert count_view(engine, ViewSpec(task_contains="TIN")) == 1  # task_slug 'tiny', any case
    assert list_clips(engine, ViewSpec(metric_ranges=(("duration_s", 0.1, None),), order_by="duration_s")
                      ).shape[0] == 1
    with pytest.raises(ValueError, match="order_by"):
        list_clips(engine, ViewSpec(order_by="duration_s; DROP VIEW clips"))


@pytest.mark.parametrize("query, reason", [
    ("DROP VIEW clips", "only read-only"),
    ("CREATE TABLE t AS SELECT 1", "only read-only"),
    ("SELECT 1; SELECT 2", "exactly one"),
    ("COPY (SELECT 1) TO 'x.csv'", "only read-only"),
    ("SELECT * FROM read_csv('/etc/passwd')", "Permission"),
    ("SET enable_external_access = true", "only read-only"),
    ("SELEC 1", "parse|syntax"),
])
def test_sql_refuses_writes_files_and_junk(root, query, reason):
    with pytest.raises(SqlError, match=reason):
        run_readonly_sql(QueryEngine(root), query)


def test_sql_row_cap_and_timeout(root):
    engine = QueryEngine(root)
    result = run_readonly_sql(engine, "SELECT * FROM range(50)", row_cap=10)
    assert len(result.frame) == 10 and result.truncated
    assert not run_readonly_sql(engine, "SELECT * FROM range(10)", row_cap=10).truncated
    with pytest.raises(SqlError, match="timeout"):
        run_readonly_sql(engine, "SELECT count(*) FROM range(100000000000) a, range(100) b", timeout_s=0.3)


def test_views_read_partition_columns_from_the_files_not_the_paths(root, tiny_video):
    ingest(root, [tiny_video], progress=False)
    from db.lake import Lake

    lake = Lake(root)
    clips = lake.read("clips")
    relabelled = clips.set_column(clips.schema.get_field_index("source"), "source",
                                  pa.array(["my source/x"]))
    relabelled = relabelled.set_column(0, "clip_id", pa.array(["other"]))
    with lake.batch() as batch:
        batch.write("clips", relabelled, {"source": "my source/x"})  # directory: source=my_source_x
    sources = QueryEngine(root).cursor().execute("SELECT source FROM clips ORDER BY source").fetchall()
    assert sources == [("my source/x",), ("video",)]


def test_files_written_before_a_column_was_added_read_it_as_null(root, tiny_video):
    """Stage schemas grow (e.g. a new quality metric); files already in the lake keep their old columns."""
    from db.lake import Lake
    from db.schemas import STAGES

    ingest(root, [tiny_video], progress=False)
    lake = Lake(root)
    row = {f.name: [None] for f in STAGES["metrics"]} | {"clip_id": ["old"], "left_jerk_p95_m_s3": [1.5]}
    with lake.batch() as batch:
        batch.write("metrics", pa.table(row, schema=STAGES["metrics"]))
    [written] = lake.files("metrics")  # rewrite it as an older version of the schema would have
    pq.write_table(pq.read_table(written).drop_columns(["jitter_mm"]), written)
    rows = QueryEngine(root).cursor().execute("SELECT clip_id, jitter_mm, left_jerk_p95_m_s3 FROM metrics").fetchall()
    assert rows == [("old", None, 1.5)]
    read = lake.read("metrics", columns=["clip_id", "jitter_mm"])
    assert read.to_pylist() == [{"clip_id": "old", "jitter_mm": None}]
