"""Every CLI stage over the messy catalog (tests/messy_catalog.py): no traceback, and each stage's output checked."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from db.engine import query_engine
from db.queries.door import fetch_all, fetch_df, fetch_value
from labeling.sources.lerobot import read_lerobot
from tests.messy_catalog import EMOJI_TASK, HUMAN_CLASSES, LONG_TASK, V30_NAN_FRAMES, MessyCatalog

NATIVE_NOISE = ("inference_feedback_manager", "XNNPACK", "W0000", "absl::InitializeLog")


def sql(catalog: MessyCatalog, query: str, params: list | None = None) -> pd.DataFrame:
    return fetch_df(query_engine(catalog.root), query, params or [])


def test_every_stage_runs_without_a_traceback(messy_catalog):
    for stage, run in messy_catalog.outputs.items():
        assert run.returncode == 0, f"{stage} failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
        assert "Traceback" not in run.stdout + run.stderr, stage
    assert list(messy_catalog.outputs) == ["ingest", "ingest_long_task", "ingest_emoji_task", "label",
                                           "retarget_hand22", "retarget_inspire", "score", "pair",
                                           "export_lerobot-v2.1", "export_lerobot-v3", "pretrain", "midtrain"]


def test_ingest_says_what_it_read_and_stores_nulls_where_absent(messy_catalog):
    run = messy_catalog.outputs["ingest"]
    assert "ingest: 23 clips added (2 of them video-only: no state or action vector)" in run.stdout
    assert "state from 'state' (named), action from 'actions' (named)" in run.stderr
    assert "3 of 30 frames have NaN or infinite values in the state vector" in run.stderr
    assert "(float vector features: none)" in run.stderr  # the v3.0 dataset without vectors
    counts = sql(messy_catalog, """SELECT source, kind, count(*) AS clips, count(task) AS with_task,
                                          count(state_key) AS with_state FROM clips GROUP BY ALL ORDER BY source""")
    assert counts.to_dict(orient="records") == [
        {"source": "egodex", "kind": "human", "clips": 3, "with_task": 3, "with_state": 0},
        {"source": "lerobot", "kind": "robot", "clips": 14, "with_task": 14, "with_state": 12},
        {"source": "video", "kind": "human", "clips": 8, "with_task": 2, "with_state": 0}]
    tasks = dict(fetch_all(query_engine(messy_catalog.root), "SELECT clip_id, task FROM clips"))
    ids = messy_catalog.clip_ids
    assert tasks[ids["long_task"]] == LONG_TASK and len(LONG_TASK) == 2000
    assert tasks[ids["emoji_task"]] == EMOJI_TASK
    assert tasks[ids["no_task"]] is None  # NULL reaches the packages as None, never NaN
    v30 = sql(messy_catalog, """SELECT c.episode_index, r.frame_index FROM robot_frames r JOIN clips c USING (clip_id)
                                WHERE c.dataset LIKE '%v30_renamed_nan' AND r.state IS NULL""")
    assert v30.to_dict(orient="list") == {"episode_index": [0, 0, 0], "frame_index": list(V30_NAN_FRAMES)}
    names = sql(messy_catalog, "SELECT state_names FROM clips WHERE dataset LIKE '%v21_renamed_nan'")
    assert {len(json.loads(n)) for n in names["state_names"]} == {44}
    codec = sql(messy_catalog, "SELECT codec FROM clips WHERE dataset LIKE '%v21_mpeg4_as_h264'")
    assert codec["codec"].tolist() == ["mpeg4"]  # probed, not what info.json claims (h264)


def test_label_is_quiet_and_absent_hands_stay_absent(messy_catalog):
    run = messy_catalog.outputs["label"]
    assert "label: 7 clips labelled, 0 already labelled, 0 failed; 231 frames" in run.stdout
    assert not any(marker in run.stdout + run.stderr for marker in NATIVE_NOISE)
    ids = messy_catalog.clip_ids
    present = sql(messy_catalog, """SELECT clip_id, hand, list(frame_index ORDER BY frame_index)
                                        FILTER (WHERE present) AS frames FROM frames
                                    WHERE pose_source = 'mediapipe' GROUP BY ALL""")
    seen = {(r.clip_id, r.hand): list(r.frames) if r.frames is not None else [] for r in present.itertuples()}
    assert seen[(ids["no_hand"], "left")] == [] and seen[(ids["no_hand"], "right")] == []
    middle = seen[(ids["middle_third"], "right")]
    assert middle and min(middle) >= 15 and max(middle) <= 29  # the hand is only in the middle third
    assert fetch_value(query_engine(messy_catalog.root), "SELECT n_frames FROM clips WHERE clip_id = ?",
                       [ids["one_frame"]]) == 1


def test_two_embodiments_are_scored_and_flagged_apart(messy_catalog):
    for stage, name in (("retarget_hand22", "egocurate_hand22"), ("retarget_inspire", "inspire")):
        assert f"retarget {name}: 20 clip-hands done" in messy_catalog.outputs[stage].stdout
    per = sql(messy_catalog, "SELECT embodiment, dof, dof_class, count(*) AS rows FROM retarget_metrics GROUP BY ALL "
                             "ORDER BY embodiment")
    assert per.to_dict(orient="records") == [
        {"embodiment": "egocurate_hand22", "dof": 22, "dof_class": "high", "rows": 12},
        {"embodiment": "inspire", "dof": 6, "dof_class": "low", "rows": 12}]
    residual = sql(messy_catalog, """SELECT embodiment, avg(retarget_residual_mm) AS mm FROM retarget_metrics
                                     WHERE clip_id IN (SELECT clip_id FROM clips WHERE source = 'egodex')
                                     GROUP BY ALL""").set_index("embodiment")["mm"]
    assert residual["egocurate_hand22"] < 6 and residual["inspire"] > 20  # each hand's own number
    # Clean EgoDex clips: neither hand's residual flags them (the averaged 17 mm did, for a hand it belonged to none).
    flags = sql(messy_catalog, "SELECT f.rule, f.embodiment, f.reason, c.source FROM flags f "
                               "JOIN clips c USING (clip_id)")
    retargeting = flags[flags["rule"].isin(["retarget_residual", "fingertip_error"])]
    assert not (retargeting["source"] == "egodex").any()
    assert all(isinstance(e, str) and e in r for e, r in zip(retargeting["embodiment"], retargeting["reason"],
                                                            strict=True))
    assert "score: 10 clips scored (24 embodiment-hand rows), 0 failed" in messy_catalog.outputs["score"].stdout


def test_pairs_come_from_task_text_and_by_hand(messy_catalog):
    report = json.loads(messy_catalog.outputs["pair"].stdout.split("pair: ", 1)[1])
    assert report["candidates"] == 3 and report["proposed"] == 3  # lid, stapler, emoji: each its robot episode
    pairs = sql(messy_catalog, "SELECT id, human_clip_id, state, task_similarity FROM pairs ORDER BY id")
    assert messy_catalog.clip_ids["no_task"] not in set(pairs["human_clip_id"].iloc[:3])  # never by task
    by_hand = pairs.set_index("id").loc[messy_catalog.hand_pair_id]
    assert by_hand["human_clip_id"] == messy_catalog.clip_ids["no_task"] and by_hand["state"] == "accepted"
    assert (pairs["state"] == "accepted").all()


@pytest.mark.parametrize("fmt", ["lerobot-v2.1", "lerobot-v3"])
def test_exports_hold_every_episode_with_a_placeholder_task_where_none(messy_catalog, fmt):
    run = messy_catalog.outputs[f"export_{fmt}"]
    assert "export: 14 episodes (4 pairs," in run.stdout
    folder = messy_catalog.exports[fmt]
    manifest = json.loads((folder / "meta" / "egocurate_manifest.json").read_text())
    assert manifest["counts"]["unpaired_human"] == 6 and manifest["counts"]["pairs"] == 4
    # no_task, middle_third, no_hand, one_frame, audio and the robot episode without task text
    assert manifest["no_task"] == {"placeholder": "(no task text)", "episodes": 6}
    if fmt == "lerobot-v3":
        tasks = set(pq.read_table(folder / "meta" / "tasks.parquet").to_pandas().index)
    else:
        tasks = {json.loads(line)["task"] for line in (folder / "meta" / "tasks.jsonl").read_text().splitlines()}
    assert {"(no task text)", EMOJI_TASK, LONG_TASK} <= tasks
    read = read_lerobot(folder)
    assert len(read.items) == 14 and not read.failures
    if fmt == "lerobot-v2.1":
        assert (folder / "meta" / "modality.json").is_file()


@pytest.mark.parametrize("fmt", ["lerobot-v2.1", "lerobot-v3"])
def test_the_trainer_reads_the_export_with_its_absent_parts_filled(messy_catalog, fmt):
    from trainer.data import read_export

    data = read_export(messy_catalog.exports[fmt])
    assert len(data.episodes) == 14 and "(no task text)" in data.tasks
    assert all(np.isfinite(e.state).all() and np.isfinite(e.action).all() for e in data.episodes)  # NaN frames filled
    assert min(e.length for e in data.episodes) == 1  # the one-frame clip is an episode like the others


def test_training_runs_pretrain_then_midtrain_on_the_export(messy_catalog):
    for stage in ("pretrain", "midtrain"):
        assert (messy_catalog.runs[stage] / "checkpoints" / "last").exists(), messy_catalog.outputs[stage].stdout
    logs = [json.loads(line) for line in (messy_catalog.runs["midtrain"] / "log.jsonl").read_text().splitlines()]
    validation = [entry for entry in logs if "val" in entry]
    assert validation and {"human", "messy_hand_robot"} <= set(validation[-1]["val"])


def test_every_human_class_is_in_the_catalog(messy_catalog):
    assert set(messy_catalog.clip_ids) == set(HUMAN_CLASSES)
