"""The Quality and Review pages' data: histograms with rule limits, the queue, bulk decisions, marks."""

from __future__ import annotations

from curation.flags import confirm_flag, create_flag, list_flags
from curation.review import (
    bin_clips,
    column_label,
    decide_view,
    flag_table,
    metric_catalog,
    quality_chart,
    queue_item,
    review_queue,
    selected_bar,
    timeline_marks,
)
from curation.rules import RuleSet
from curation.score import run_score
from db.engine import QueryEngine
from db.view_spec import METRIC_COLUMNS, ViewSpec


def test_metric_catalog_documents_every_column():
    catalog = metric_catalog()
    assert list(catalog["column"]) == list(METRIC_COLUMNS)
    assert catalog["unit"].str.len().min() > 0 and catalog["meaning"].str.len().min() > 0
    assert column_label("right_jitter_mm") == "jitter_mm (right hand, mm)"
    assert column_label("jitter_mm") == "jitter_mm (worse hand, mm)"


def test_quality_chart_and_the_clips_of_a_bar(root, noisy_catalog):
    run_score(root)
    engine = QueryEngine(root)
    rules = RuleSet.from_yaml()
    chart = quality_chart(engine, ViewSpec(), "left_bone_length_cv", rules, bins=10)
    assert chart.bins["count"].sum() == 30
    assert [line.rule for line in chart.lines] == ["unstable_bones"] * 3  # one limit per task
    last = chart.bins.iloc[-1]
    assert list(bin_clips(engine, ViewSpec(), "left_bone_length_cv", last.lo, last.hi)["clip_id"]) == ["wave-3"]
    one_task = quality_chart(engine, ViewSpec(tasks=("pour",)), "left_bone_length_cv", rules)
    assert len(one_task.lines) == 1 and one_task.bins["count"].sum() == 10


def test_queue_orders_errors_first_and_bulk_decides_a_view(root, noisy_catalog):
    run_score(root)
    engine = QueryEngine(root)
    queue = review_queue(engine, ViewSpec())
    assert list(queue["clip_id"])[0] == "wipe-7" and queue["severity"].iloc[0] == "error"
    assert {"path", "fps", "version", "reason"} <= set(queue.columns)
    assert list(review_queue(engine, ViewSpec(tasks=("pour",)))["clip_id"]) == ["pour-5"]
    flag = list_flags(root, "wave-3")[0]
    confirm_flag(root, flag.id, "ann", expected_version=flag.version)
    result = decide_view(root, engine, ViewSpec(), "dismissed", "bob")
    assert len(result.updated) == 2 and not result.stale
    assert review_queue(engine, ViewSpec()).empty
    states = {f.clip_id: f.state for f in list_flags(root)}
    assert states == {"wave-3": "confirmed", "pour-5": "dismissed", "wipe-7": "dismissed"}


def test_timeline_marks_cover_live_flags(root):
    create_flag(root, "c", "a", "ann", frame_start=2, frame_end=4, hand="left")
    create_flag(root, "c", "b", "ann", frame_start=7, frame_end=8, hand="right")
    whole = create_flag(root, "c", "c", "ann", origin="rule", rule="r")
    flags = list_flags(root, "c")
    assert timeline_marks(10, flags[:2]) == [None, None, 1.0, 1.0, 1.0, None, None, 1.0, 1.0, None]
    assert timeline_marks(10, flags[:2], hand="left")[7] is None
    assert timeline_marks(4, [whole]) == [1.0] * 4
    assert list(flag_table(flags)["state"]) == ["confirmed", "confirmed", "proposed"]


def test_queue_item_follows_the_flag_on_screen(root, noisy_catalog):
    run_score(root)
    queue = review_queue(QueryEngine(root), ViewSpec())
    ids = list(queue["id"])
    middle = queue_item(queue, ids[1])
    assert (middle.position, middle.total, middle.previous_id, middle.next_id) == (1, 3, ids[0], ids[2])
    assert queue_item(queue, 12345).position == 0  # decided elsewhere: back to the start
    assert queue_item(queue.iloc[0:0], None) is None


def test_selected_bar_reads_the_chart_event():
    assert selected_bar({"selection": {"points": [{"customdata": ["0.5", 1.5]}]}}) == (0.5, 1.5)
    assert selected_bar({"selection": {"points": [{"customdata": {"0": 0.5, "1": 1.5}}]}}) == (0.5, 1.5)
    assert selected_bar({"selection": {"points": []}}) is None and selected_bar(None) is None
