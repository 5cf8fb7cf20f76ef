"""Views: a JSON filter spec, validated against allow-lists, compiled to parameterised DuckDB SQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from curation.flags import StaleUpdateError, create_flag, list_flags
from curation.labels import set_task_text
from curation.noise import write_pose_clips
from curation.score import run_score
from curation.views import get_view, list_views, load_view, save_view
from db.engine import QueryEngine
from db.queries.views import compile_view, count_view, view_clips
from db.view_spec import ViewSpec
from tests.curation.conftest import pose_clip

HOSTILE = "x'); DROP VIEW clips; --"


def test_json_round_trip_and_validation():
    spec = ViewSpec(metric_ranges=(("jitter_mm", None, 5.0), ("left_detection_rate", 0.9, None)), tasks=("pour",),
                    flag_states=("proposed",), text="cup", order_by="jitter_mm", descending=True)
    assert ViewSpec.from_json(spec.to_json()) == spec
    assert spec.to_dict()["metric_ranges"] == {"jitter_mm": [None, 5.0], "left_detection_rate": [0.9, None]}
    with pytest.raises(ValueError, match=r"unknown metric names \['bogus_mm', 'jitter_mm; DROP'\]"):
        ViewSpec.from_dict({"metric_ranges": {"bogus_mm": [0, 1], "jitter_mm; DROP": [0, 1]}})
    with pytest.raises(ValueError, match=r"unknown view spec keys \['where'\]"):
        ViewSpec.from_dict({"where": "1=1"})
    with pytest.raises(ValueError, match="lo 2.0 > hi 1.0"):
        ViewSpec.from_dict({"metric_ranges": {"jitter_mm": [2, 1]}})
    with pytest.raises(ValueError, match="numbers or null"):
        ViewSpec.from_dict({"metric_ranges": {"jitter_mm": ["0", 1]}})
    with pytest.raises(ValueError, match="order_by"):
        ViewSpec(order_by="clip_id; DROP VIEW clips")
    with pytest.raises(ValueError, match="flag states"):
        ViewSpec(flag_states=("maybe",))
    with pytest.raises(ValueError, match="not valid JSON"):
        ViewSpec.from_json("{")


def test_user_values_are_bound_never_formatted():
    spec = ViewSpec(metric_ranges=(("jitter_mm", 0.5, 5.0),), tasks=(HOSTILE,), sources=(HOSTILE,), text=HOSTILE)
    sql, params = compile_view(spec)
    assert HOSTILE not in sql and "0.5" not in sql
    assert sql.count("?") == len(params) and HOSTILE in params and 0.5 in params


def test_filters_select_the_right_clips(root, noisy_catalog):
    run_score(root)
    engine = QueryEngine(root)
    assert count_view(engine, ViewSpec()) == 30
    assert count_view(engine, ViewSpec(tasks=("wave",))) == 10
    jittery = ViewSpec(metric_ranges=(("left_bone_length_cv", 0.01, None),))  # a swap jumps but keeps its bones
    assert set(view_clips(engine, jittery)["clip_id"]) == {"wave-3"}
    assert set(view_clips(engine, ViewSpec(metric_ranges=(("detection_rate", None, 0.9),)))["clip_id"]) == {"pour-5"}
    flagged = set(view_clips(engine, ViewSpec(flag_states=("proposed",)))["clip_id"])
    assert flagged == {"wave-3", "pour-5", "wipe-7"}
    clean = ViewSpec(exclude_flag_states=("proposed", "confirmed"))
    assert count_view(engine, clean) == 27
    top = view_clips(engine, ViewSpec(order_by="jitter_mm", descending=True), limit=1, columns=("left_jitter_mm",))
    assert top["clip_id"][0] in {"wave-3", "wipe-7"} and {"jitter_mm", "left_jitter_mm", "path"} <= set(top.columns)
    assert count_view(engine, ViewSpec(text=HOSTILE)) == 0
    assert count_view(engine, ViewSpec(metric_ranges=(("duration_s", 2.9, 3.1),))) == 30


def test_fields_added_later_keep_saved_json_and_filter_on_every_plan(root, noisy_catalog):
    saved = {"metric_ranges": {"jitter_mm": [None, 5.0]}, "tasks": [], "sources": [], "kinds": ["human"],
             "flag_states": [], "exclude_flag_states": [], "text": "", "order_by": "clip_id", "descending": False}
    assert ViewSpec.from_dict(saved).to_dict() == saved  # saved before clip_ids and task_contains existed
    spec = ViewSpec(clip_ids=("wave-1", "pour-1", HOSTILE), task_contains="WAV")
    assert ViewSpec.from_json(spec.to_json()) == spec
    run_score(root)
    engine = QueryEngine(root)
    assert list(view_clips(engine, spec)["clip_id"]) == ["wave-1"]  # on clips
    assert count_view(engine, ViewSpec(metric_ranges=(("jitter_mm", 0.0, None),), clip_ids=("wave-1", "pour-1"),
                                       task_contains="wav")) == 1  # on metrics
    set_task_text(root, "pour-1", "Wave at the mug", "ann")
    assert count_view(engine, ViewSpec(task_contains="wave at")) == 0  # as ingested, unlike `text`


@pytest.mark.usefixtures("store_backend")
def test_text_search_finds_corrected_task_text(root, noisy_catalog):
    engine = QueryEngine(root)
    assert count_view(engine, ViewSpec(text="WAV")) == 10
    set_task_text(root, "pour-1", "Pour tea into the mug", "ann")
    assert list(view_clips(engine, ViewSpec(text="tea into"))["clip_id"]) == ["pour-1"]


@pytest.mark.usefixtures("store_backend")
def test_flag_state_filters_follow_decisions(root, noisy_catalog):
    engine = QueryEngine(root)
    assert count_view(engine, ViewSpec(flag_states=("confirmed",))) == 0
    create_flag(root, "wave-1", "camera covered", "ann")
    assert list(view_clips(engine, ViewSpec(flag_states=("confirmed",)))["clip_id"]) == ["wave-1"]


@pytest.mark.usefixtures("store_backend")
def test_saved_views(root):
    spec = ViewSpec(tasks=("pour",), metric_ranges=(("jitter_mm", None, 3.0),))
    saved = save_view(root, "clean pours", spec, "ann")
    assert saved.version == 1 and load_view(root, "clean pours") == spec
    wider = ViewSpec(tasks=("pour", "wipe"))
    with pytest.raises(StaleUpdateError, match="view clean pours already exists, last saved by ann"):
        save_view(root, "clean pours", wider, "bob")  # replacing needs the version it was loaded at
    assert save_view(root, "clean pours", wider, "bob", expected_version=1).version == 2
    assert get_view(root, "clean pours").spec == wider
    listed = list_views(root)
    assert list(listed["name"]) == ["clean pours"] and listed["version"][0] == 2
    assert ViewSpec.from_json(listed["spec"][0]) == wider
    with pytest.raises(KeyError, match="no saved view named 'nope'"):
        load_view(root, "nope")
    assert QueryEngine(root).cursor().execute("SELECT name FROM views").fetchall() == [("clean pours",)]


PLANNED = [  # one spec per base the compiler may pick, and the pages' way of paging
    ViewSpec(tasks=("pour", "wipe"), order_by="n_frames"),  # clips only
    ViewSpec(metric_ranges=(("left_jitter_mm", None, 1.0),), kinds=("human",), text="w", order_by="jitter_mm",
             descending=True),  # metrics only
    ViewSpec(order_by="bone_length_cv", descending=True, sources=("evaluation",)),  # join (unscored clips kept)
    ViewSpec(metric_ranges=(("jitter_mm", 0.0, 5.0), ("duration_s", 1.0, None)), exclude_flag_states=("proposed",)),
]


@pytest.mark.parametrize("spec", PLANNED)
def test_every_plan_returns_what_clips_left_join_metrics_would(root, noisy_catalog, spec):
    write_pose_clips(root, [pose_clip("robotish-0", "wave", seed=99)])  # a clip left unscored
    run_score(root, clip_ids=[c for c in noisy_catalog])
    engine = QueryEngine(root)
    reference = engine.cursor().execute(
        "SELECT c.*, m.* EXCLUDE (clip_id, duration_s, kind, source, task, task_slug) FROM clips c "
        "LEFT JOIN metrics m USING (clip_id)").df()
    keep = pd.Series(True, index=reference.index)
    for column, lo, hi in spec.metric_ranges:
        keep &= reference[column].between(-np.inf if lo is None else lo, np.inf if hi is None else hi)
    if spec.tasks:
        keep &= reference["task_slug"].isin(spec.tasks) | reference["task"].isin(spec.tasks)
    for name, values in (("kind", spec.kinds), ("source", spec.sources)):
        if values:
            keep &= reference[name].isin(values)
    if spec.text:
        keep &= reference["task_slug"].str.contains(spec.text, case=False)
    proposed = {f.clip_id for f in list_flags(root, states=spec.exclude_flag_states)}
    keep &= ~reference["clip_id"].isin(proposed) if spec.exclude_flag_states else True
    expected = reference[keep].sort_values([spec.order_by, "clip_id"], ascending=[not spec.descending, True],
                                           na_position="last")["clip_id"]
    assert list(view_clips(engine, spec, limit=None)["clip_id"]) == list(expected)
    assert list(view_clips(engine, spec, limit=4, offset=2)["clip_id"]) == list(expected)[2:6]
    assert count_view(engine, spec) == len(expected)
