"""Hostile text everywhere a user can type: SQL injection, path traversal, huge and Unicode text.

Limits decided here (and enforced where the text enters): flag reasons 2,000 characters, label texts
10,000, view names 200 printable characters, the view search text 1,000. Text that comes from the
data itself (a dataset's task description) is stored intact whatever its size.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pyarrow.parquet as pq
import pytest

from curation.export_episodes import VideoSpec
from curation.export_lerobot import ExportError, run_export
from curation.export_plan import ExportConfig, default_out_dir
from curation.flags import MAX_REASON_CHARS, create_flag, list_flags
from curation.labels import MAX_TEXT_CHARS, set_task_text, task_label
from curation.pair_store import decide_pair, get_pair
from curation.pairing import PairConfig, run_pairing
from curation.views import load_view, save_view
from db.engine import QueryEngine, query_engine
from db.queries.annotations import pair_rows
from db.queries.door import SqlError, run_readonly_sql
from db.queries.views import clip_neighbours, count_view, list_clips, view_clips
from db.view_spec import ViewSpec
from labeling.sources.ingest import ingest
from tests.conftest import make_video
from tests.curation.demo_retargets import paired_demo_root, source_clip_of_robot
from tests.factories import write_egodex_pair

INJECTIONS = (
    "'; DROP VIEW clips; --",
    "x' OR '1'='1",
    "\" OR 1=1 --",
    "human') UNION SELECT * FROM flags --",
    "%' ; DELETE FROM flags; SELECT '",
    "\\'; ATTACH '/tmp/evil.db' AS evil; --",
    "robot\x00human",
    "${jndi:ldap://x}",
)
UNICODE_TASK = "拿起杯子_☕_café"


def _snapshot(root: Path) -> list[tuple]:
    cursor = QueryEngine(root).cursor()
    return (cursor.execute("SELECT clip_id, kind, source, task, task_slug FROM clips ORDER BY clip_id").fetchall()
            + cursor.execute("SELECT id, clip_id, reason FROM flags ORDER BY id").fetchall())


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Two clips (a video and an EgoDex clip in a Unicode task folder without a `task` attribute) and a flag."""
    base = tmp_path_factory.mktemp("hostile")
    root = base / "root"
    pair = write_egodex_pair(base / "media" / UNICODE_TASK, name="0")
    with h5py.File(pair.with_suffix(".hdf5"), "a") as h5:
        del h5.attrs["task"]  # the folder names the task, as in EgoDex itself
        h5.attrs["llm_description"] = "Pour the 🍵 into the cup, doucement."
    report = ingest(root, [pair.parent, make_video(base / "media" / "plain.mp4", seed=40)], progress=False)
    assert len(report.added) == 2, report.failures
    create_flag(root, report.added[0], "hand leaves the frame", "curator")
    return root


@pytest.mark.parametrize("hostile", INJECTIONS)
def test_injection_in_every_clips_page_field_matches_nothing_and_changes_nothing(store, hostile):
    before, engine = _snapshot(store), query_engine(store)
    for spec in (ViewSpec(kinds=(hostile,)), ViewSpec(sources=(hostile,)), ViewSpec(task_contains=hostile),
                 ViewSpec(clip_ids=(hostile,)), ViewSpec(kinds=("human", hostile), task_contains=hostile)):
        assert count_view(engine, spec) == 0 and list_clips(engine, spec).empty
    assert clip_neighbours(engine, hostile) == (None, None)
    with pytest.raises(ValueError, match="order_by"):
        list_clips(engine, ViewSpec(order_by=hostile))
    assert count_view(engine, ViewSpec(kinds=("human",))) == 2 and _snapshot(store) == before


@pytest.mark.parametrize("field, value, named", [
    ("kinds", "human", "kinds"), ("sources", [1], "sources"), ("task_contains", 5, "task_contains"),
    ("metric_ranges", (("duration_s", "1; DROP VIEW clips", None),), "metric_ranges"),
    ("metric_ranges", (("duration_s", None, True),), "metric_ranges"), ("clip_ids", None, "clip_ids")])
def test_clips_page_spec_refuses_wrong_types_naming_the_field(field, value, named):
    with pytest.raises(ValueError, match=f"ViewSpec.{named}"):
        ViewSpec(**{field: value})


@pytest.mark.parametrize("hostile", INJECTIONS)
def test_injection_in_every_view_spec_field(store, hostile):
    before, engine = _snapshot(store), query_engine(store)
    for field in ("tasks", "sources", "kinds"):
        spec = ViewSpec.from_dict({field: [hostile]})
        assert count_view(engine, spec) == 0 and view_clips(engine, spec).empty
    assert count_view(engine, ViewSpec(text=hostile)) == 0
    for bad in ({"flag_states": [hostile]}, {"exclude_flag_states": [hostile]}, {"order_by": hostile},
                {"metric_ranges": {hostile: [0, 1]}}, {hostile: 1}):
        with pytest.raises(ValueError):
            ViewSpec.from_dict(bad)
    assert count_view(engine, ViewSpec()) == 2 and _snapshot(store) == before


@pytest.mark.parametrize("name", [*INJECTIONS[:5], "../../etc/passwd", "/absolute/view", "..", UNICODE_TASK])
def test_saved_view_names_are_data_not_sql_or_paths(store, name):
    if not name.isprintable():
        pytest.skip("covered by the control-character test")
    spec = ViewSpec(tasks=(UNICODE_TASK,))
    save_view(store, name, spec, "curator")
    assert load_view(store, name) == spec
    out = default_out_dir(store, name, "lerobot-v3")
    assert out.parent == store / "exports" and ".." not in out.parts and out.name.endswith("-lerobot-v3")
    ExportConfig(out_dir=out, view_name=name)  # the suggested folder is always a valid destination


def test_view_names_and_texts_beyond_their_limits_are_refused(store):
    with pytest.raises(ValueError, match="at most 200 printable"):
        save_view(store, "v" * 201, ViewSpec(), "curator")
    with pytest.raises(ValueError, match="printable"):
        save_view(store, "tab\tname", ViewSpec(), "curator")
    with pytest.raises(ValueError, match="ViewSpec.text"):
        ViewSpec(text="x" * 1_001)
    with pytest.raises(ValueError, match="too large"):
        ViewSpec.from_dict({"metric_ranges": {"fps": [None, 10**400]}})


HOSTILE_SQL = [
    ("DROP VIEW clips", "only read-only"),
    ("SELECT 1; DROP VIEW clips", "exactly one"),
    ("SELECT 1 -- harmless\n; DELETE FROM flags", "exactly one"),
    ("ATTACH '/tmp/evil.duckdb' AS evil", "only read-only"),
    ("INSTALL httpfs", "only read-only"),
    ("LOAD httpfs", "only read-only"),
    ("PRAGMA enable_external_access", "only read-only|Permission|parse"),
    ("CALL pragma_version()", "only read-only"),
    ("EXPORT DATABASE '/tmp/dump'", "only read-only"),
    ("COPY clips TO '/tmp/clips.csv'", "only read-only"),
    ("CREATE MACRO evil() AS 1", "only read-only"),
    ("SET threads = 64", "only read-only"),
    ("SELECT * FROM read_parquet('/etc/*.parquet')", "Permission"),
    ("SELECT * FROM read_text('/etc/passwd')", "Permission"),
    ("SELECT * FROM read_csv_auto('https://example.com/x.csv')", "Permission"),
    ("", "exactly one"),
]


def test_sql_page_stays_read_only_bounded_and_intact(store):
    before, engine = _snapshot(store), query_engine(store)
    for sql, reason in HOSTILE_SQL:
        with pytest.raises(SqlError, match=reason):
            run_readonly_sql(engine, sql)
    capped = run_readonly_sql(engine, "SELECT * FROM range(100000) a, range(10) b", row_cap=50)
    assert len(capped.frame) == 50 and capped.truncated
    with pytest.raises(SqlError, match="timeout"):
        run_readonly_sql(engine, "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                                 "SELECT count(*) FROM r", timeout_s=0.3)
    hostile = run_readonly_sql(engine, "SELECT ? AS x".replace("?", "'" + INJECTIONS[0].replace("'", "''") + "'"))
    assert hostile.frame["x"].tolist() == [INJECTIONS[0]]  # a quoted literal stays a literal
    assert run_readonly_sql(engine, "SELECT count(*) AS n FROM clips").frame["n"].tolist() == [2]
    assert _snapshot(store) == before


def test_huge_and_unicode_curator_text(store):
    clip_id = _snapshot(store)[0][0]
    before = _snapshot(store)
    with pytest.raises(ValueError, match=f"at most {MAX_REASON_CHARS}"):
        create_flag(store, clip_id, "x" * 1_000_000, "curator")
    with pytest.raises(ValueError, match=f"the limit is {MAX_TEXT_CHARS}"):
        set_task_text(store, clip_id, "y" * 1_000_000, "curator")
    assert _snapshot(store) == before and task_label(store, clip_id) is None  # nothing half-stored
    reason = ("🖐️ main gauche hors champ; " * 200)[:MAX_REASON_CHARS]
    flag = create_flag(store, clip_id, reason, "curator ✍️")
    assert next(f for f in list_flags(store, clip_id) if f.id == flag.id).reason == reason
    text = ("把杯子放到托盘上。" * 2000)[:MAX_TEXT_CHARS]
    assert set_task_text(store, clip_id, text, "curator").text == text


def test_huge_task_text_from_the_data_is_stored_intact(root, tmp_path):
    description = "Pick up the cup 🍵 and place it; " * 1_800  # ~60 kB, near HDF5's attribute size limit
    pair = write_egodex_pair(tmp_path / "huge" / "task", name="0")
    with h5py.File(pair.with_suffix(".hdf5"), "a") as h5:
        h5.attrs["llm_description"] = description
    report = ingest(root, [pair.parent], progress=False)
    assert len(report.added) == 1
    stored = query_engine(root).cursor().execute("SELECT task FROM clips").fetchone()[0]
    assert stored == description
    assert count_view(query_engine(root), ViewSpec(task_contains="cup 🍵 and")) == 1


def test_unicode_task_folder_is_catalogued_and_filtered(store):
    engine = query_engine(store)
    row = engine.cursor().execute("SELECT task_slug, task FROM clips WHERE source = 'egodex'").fetchone()
    assert row == (UNICODE_TASK, "Pour the 🍵 into the cup, doucement.")
    assert count_view(engine, ViewSpec(task_contains="☕")) == 1
    assert count_view(engine, ViewSpec(task_contains="CAFÉ")) == 1  # case-insensitive beyond ASCII
    assert count_view(engine, ViewSpec(tasks=(UNICODE_TASK,))) == 1
    assert count_view(engine, ViewSpec(text="🍵")) == 1
    csv = run_readonly_sql(engine, f"SELECT task_slug FROM clips WHERE task_slug = '{UNICODE_TASK}'")
    assert csv.frame["task_slug"].tolist() == [UNICODE_TASK]


@pytest.mark.parametrize("out, reason", [("..", "out_dir"), ("", "out_dir"), ("/", "out_dir"),
                                         ("exports/../..", "out_dir"), ("bad name!", "out_dir")])
def test_export_out_dir_names_are_plain(out, reason):
    with pytest.raises(ValueError, match=reason):
        ExportConfig(out_dir=out)


def test_export_never_replaces_the_data_root_or_its_store(store, tmp_path):
    before = _snapshot(store)
    lake_files = sorted(p.relative_to(store) for p in (store / "lake").rglob("*"))
    for out in (store, store.parent, store / "lake", store / "cache", store / "exports", store / "runs",
                store / "lake" / "clips", store / "exports" / ".." / "lake"):
        with pytest.raises(ExportError, match="data root"):
            run_export(store, ExportConfig(out_dir=out, overwrite=True))
    assert _snapshot(store) == before and sorted(p.relative_to(store) for p in (store / "lake").rglob("*")) == \
        lake_files


def test_unicode_task_and_view_name_survive_an_export(tmp_path_factory):
    root = paired_demo_root(tmp_path_factory.mktemp("unicode-export"))
    run_pairing(root, PairConfig())
    robot, human = next(iter(source_clip_of_robot(root).items()))
    pairs = pair_rows(query_engine(root))
    pair = get_pair(root, int(pairs[(pairs.robot_clip_id == robot) & (pairs.human_clip_id == human)].iloc[0].id))
    decide_pair(root, pair.id, "accepted", "curator", pair.version)
    for clip_id in (robot, human):
        set_task_text(root, clip_id, UNICODE_TASK, "curator")
    view = "ビュー 🍵"
    save_view(root, view, ViewSpec(kinds=("human", "robot"), text="☕"), "curator")
    assert count_view(query_engine(root), load_view(root, view)) == 2
    out = default_out_dir(root, view, "lerobot-v3")
    result = run_export(root, ExportConfig(out_dir=out, view_name=view, video=VideoSpec(width=96, height=72)))
    tasks = pq.read_table(result.out_dir / "meta" / "tasks.parquet").to_pandas()
    assert UNICODE_TASK in set(tasks.reset_index().astype(str).to_numpy().ravel())
    assert json.loads(json.dumps(result.manifest))["view"]["name"] == view
