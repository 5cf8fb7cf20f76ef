"""The resident catalog (db/catalog.py) answers as the lake's views do, and sees every write on the next query."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import delete

from curation.flags import create_flag, set_flag_state
from curation.labels import set_task_text
from db.engine import DUCKDB_MEMORY_LIMIT_MB, QueryEngine
from db.lake import Lake
from db.models import Flag
from db.queries.door import fetch_all, fetch_value
from db.queries.views import clip_neighbours, clip_page, compile_view, count_view, list_clips, view_clips
from db.schemas import CLIPS, HAND_METRIC_NAMES, HANDS, METRICS
from db.store import session_scope
from db.view_spec import ViewSpec

REPO = Path(__file__).resolve().parents[2]
TASKS = ("pour the tea", "wipe the table", "wave at the camera")


def clip_rows(ids: list[str], seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = len(ids)
    columns: dict[str, object] = {name: pa.nulls(n, CLIPS.field(name).type) for name in CLIPS.names}
    task = rng.integers(0, len(TASKS), n)
    columns.update({
        "clip_id": ids, "kind": np.where(rng.random(n) < 0.8, "human", "robot"),
        "source": rng.choice(["egodex", "video", "lerobot"], n), "path": [f"/media/{i}.mp4" for i in ids],
        "fps": np.full(n, 30.0), "n_frames": rng.integers(30, 90, n), "duration_s": rng.choice([1.0, 2.0, 3.0], n),
        "width": np.full(n, 640, np.int32), "height": np.full(n, 480, np.int32),
        "task": [TASKS[t] for t in task], "task_slug": [TASKS[t].split()[0] for t in task],
    })
    return pa.table(columns)


def metric_rows(clips: pa.Table, seed: int, scored: float = 0.7) -> pa.Table:
    rng = np.random.default_rng(seed)
    keep = pa.array(rng.random(clips.num_rows) < scored)
    chosen = clips.filter(keep)
    n = chosen.num_rows
    columns: dict[str, object] = {name: pa.nulls(n, METRICS.field(name).type) for name in METRICS.names}
    for name in ("clip_id", "kind", "source", "task", "task_slug", "duration_s"):
        columns[name] = chosen.column(name)
    for name in HAND_METRIC_NAMES:
        for hand in HANDS:
            columns[f"{hand}_{name}"] = np.round(rng.random(n), 1)  # coarse: sort keys with ties
        columns[name] = np.maximum(columns[f"left_{name}"], columns[f"right_{name}"])
    return pa.table(columns)


def write(root: Path, ids: list[str], seed: int, metrics: bool = True) -> pa.Table:
    clips = clip_rows(ids, seed)
    with Lake(root).batch(stage="test") as batch:
        batch.write("clips", clips, {"source": "test"})
        if metrics:
            batch.write("metrics", metric_rows(clips, seed))
    return clips


@pytest.fixture
def catalog(root: Path) -> list[str]:
    """120 clips (80 of them scored), flags in every state, a corrected task text. Returns the ids."""
    ids = [f"{i * 7919 % 1000:04d}-{i}" for i in range(120)]  # not in id order
    write(root, ids, seed=1)
    for k, clip_id in enumerate(ids[:40]):
        flag = create_flag(root, clip_id, "test", "ann", origin="rule", rule="jitter", state="proposed")
        if k % 3 == 1:
            set_flag_state(root, flag.id, "confirmed", "ann", flag.version)
        elif k % 3 == 2:
            set_flag_state(root, flag.id, "dismissed", "ann", flag.version)
    set_task_text(root, ids[50], "Stack the red cups", "ann")
    return ids


SPECS = [
    ViewSpec(),
    ViewSpec(descending=True),
    ViewSpec(order_by="jitter_mm", descending=True),
    ViewSpec(order_by="jitter_mm"),
    ViewSpec(order_by="kind"),  # ties everywhere: clip id decides
    ViewSpec(order_by="duration_s", descending=True, kinds=("human",)),
    ViewSpec(metric_ranges=(("jitter_mm", 0.2, 0.8),), order_by="left_jitter_mm"),
    ViewSpec(tasks=("pour", "wipe the table"), sources=("egodex", "video")),
    ViewSpec(flag_states=("proposed",), order_by="bone_length_cv", descending=True),
    ViewSpec(exclude_flag_states=("confirmed", "proposed"), kinds=("human",)),
    ViewSpec(text="RED CUP"),
    ViewSpec(text="the\nred"),  # a search across lines looks in the labels themselves
    ViewSpec(text="wav", task_contains="camera", order_by="ingested_at"),
    ViewSpec(clip_ids=("0000-0", "0919-13", "nope")),
]


def assert_same_views(root: Path, resident: QueryEngine) -> None:
    lake = QueryEngine(root)  # views over the lake's Parquet
    for spec in SPECS:
        everything = list(view_clips(lake, spec, limit=None)["clip_id"])
        assert list(view_clips(resident, spec, limit=None)["clip_id"]) == everything, spec
        assert count_view(resident, spec) == count_view(lake, spec) == len(everything), spec
        for offset in (0, 7, 45):
            page = list(list_clips(resident, spec, limit=10, offset=offset)["clip_id"])
            assert page == everything[offset:offset + 10], (spec, offset)
        sql, params = compile_view(spec, limit=10, offset=3)  # the one-statement form agrees
        assert [r[0] for r in fetch_all(resident, sql, params)] == everything[3:13], spec
        for clip_id in everything[:2] + everything[-2:]:
            assert clip_neighbours(resident, clip_id, spec) == clip_neighbours(lake, clip_id, spec), (spec, clip_id)
    for spec in SPECS[:4]:
        page = clip_page(resident, spec, page=2, page_size=9)
        assert list(page.rows.columns)[:len(CLIPS.names)] == CLIPS.names and page.total == count_view(lake, spec)
        assert page.rows.equals(clip_page(lake, spec, page=2, page_size=9).rows)


def test_resident_views_answer_as_the_lake_views_do(root, catalog):
    resident = QueryEngine(root, resident=True)
    assert resident.resident
    assert_same_views(root, resident)
    assert fetch_value(resident, "SELECT count(*) FROM clips") == 120
    assert fetch_all(resident, "SELECT * FROM clips ORDER BY clip_id") == fetch_all(
        QueryEngine(root), "SELECT * FROM clips ORDER BY clip_id")


@pytest.mark.usefixtures("store_backend")
def test_writes_show_up_on_the_next_query(root, catalog):
    resident = QueryEngine(root, resident=True)
    assert count_view(resident, ViewSpec()) == 120
    # Ingest commits append, in the middle of the id order and with their own flags.
    create_flag(root, "0500-new", "before its clip", "ann")
    write(root, ["0500-new", "0001-new"], seed=2, metrics=False)
    assert count_view(resident, ViewSpec()) == 122
    assert list(list_clips(resident, ViewSpec(flag_states=("confirmed",)), limit=None)["clip_id"]).count("0500-new")
    # A decision on one flag, a new corrected text.
    flag = create_flag(root, catalog[100], "blurred", "ann", origin="rule", rule="blur", state="proposed")
    assert catalog[100] in set(view_clips(resident, ViewSpec(flag_states=("proposed",)), limit=None)["clip_id"])
    set_flag_state(root, flag.id, "dismissed", "ann", flag.version)
    assert catalog[100] not in set(view_clips(resident, ViewSpec(flag_states=("proposed",)), limit=None)["clip_id"])
    set_task_text(root, catalog[60], "Fold the towel", "ann")
    assert list(view_clips(resident, ViewSpec(text="towel"))["clip_id"]) == [catalog[60]]
    assert_same_views(root, resident)
    # A score run rewrites the metrics, a deleted flag reloads the flags whole.
    files = Lake(root).files("metrics")
    with Lake(root).batch(stage="score") as batch:
        batch.write("metrics", metric_rows(clip_rows(catalog, seed=1), seed=3, scored=1.0))
        batch.remove([p.relative_to(Lake(root).dir).as_posix() for p in files])
    with session_scope(root) as session:
        session.execute(delete(Flag).where(Flag.clip_id == catalog[0]))
    assert count_view(resident, ViewSpec(metric_ranges=(("jitter_mm", 0.0, None),))) == 120
    assert_same_views(root, resident)


WRITER = """
import sys
from pathlib import Path
from curation.flags import create_flag
from tests.db.test_resident_catalog import write
root, clip_id = Path(sys.argv[1]), sys.argv[2]
create_flag(root, clip_id, "seen from another process", "bob")
write(root, [clip_id + "-copy"], seed=5, metrics=False)
"""


@pytest.mark.usefixtures("store_backend")
def test_a_flag_written_by_another_process_shows_in_the_next_query(root, catalog):
    resident = QueryEngine(root, resident=True)
    confirmed = ViewSpec(flag_states=("confirmed",))
    before = count_view(resident, confirmed)
    assert catalog[90] not in set(view_clips(resident, confirmed, limit=None)["clip_id"])
    subprocess.run([sys.executable, "-c", WRITER, str(root), catalog[90]], check=True, cwd=REPO)
    assert count_view(resident, confirmed) == before + 1
    assert catalog[90] in set(view_clips(resident, confirmed, limit=None)["clip_id"])
    assert count_view(resident, ViewSpec(clip_ids=(catalog[90] + "-copy",))) == 1


@pytest.mark.usefixtures("store_backend")
def test_flag_changes_are_caught_up_row_by_row(root, catalog):
    resident = QueryEngine(root, resident=True)
    resident.refresh()
    mirror = resident._mirror  # the unit under test: what a sync reloads
    flag = create_flag(root, catalog[70], "dropout", "ann")
    changes = mirror.sync()  # the rows changed lately (within the late-commit margin), not the table
    assert catalog[70] in changes["flags"] and "labels" not in changes and "pairs" not in changes
    set_flag_state(root, flag.id, "dismissed", "ann", flag.version)
    assert catalog[70] in mirror.sync()["flags"]
    with session_scope(root) as session:  # a row gone: the fingerprints disagree, the table is reloaded
        session.execute(delete(Flag).where(Flag.id == flag.id))
    assert mirror.sync()["flags"] is None
    assert "flags" not in mirror.sync()


def test_duckdb_memory_is_capped(root):
    expected = duckdb.connect(config={"memory_limit": f"{DUCKDB_MEMORY_LIMIT_MB}MB"}).execute(
        "SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert fetch_value(QueryEngine(root, resident=True), "SELECT current_setting('memory_limit')") == expected
