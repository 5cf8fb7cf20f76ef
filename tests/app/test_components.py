"""The page-logic functions behind the viewer, the Clips page and the Overview charts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from app.components import charts, clips, viewer
from db.engine import query_engine
from db.view_spec import ViewSpec


def _track() -> pd.DataFrame:
    kp = [float(i) + 0.25 for i in range(42)]
    return pd.DataFrame({
        "pose_source": ["egodex"] * 3, "hand": ["left", "left", "right"], "frame_index": [0, 2, 1],
        "present": [True, True, False], "score": [0.9, math.nan, 0.1], "kp": [kp, [None] + kp[1:], None],
    })


def test_pose_tracks_fill_every_frame():
    tracks = viewer.pose_tracks(_track(), n_frames=4, primary_source="egodex")
    left, right = tracks
    assert (left["hand"], right["hand"]) == ("left", "right")
    assert left["kp"][1] is None and left["kp"][3] is None and len(left["kp"][0]) == 42
    assert left["kp"][2][0] is None  # a NaN joint travels as null
    assert left["score"] == [0.9, None, 1.0, None]  # present without a score counts as sure
    assert right["kp"] == [None] * 4 and right["score"] == [None] * 4  # absent hand
    assert not left["dashed"]


def test_timeline_rows_name_sources_only_when_several():
    tracks = viewer.pose_tracks(_track(), 4)
    assert [r["label"] for r in viewer.timeline_rows(tracks)] == ["left hand", "right hand"]
    other = [dict(t, source="synthetic") for t in tracks]
    labels = [r["label"] for r in viewer.timeline_rows(tracks + other)]
    assert labels == ["egodex L", "egodex R", "syntheti L", "syntheti R"]


def test_robot_series_picks_dims_and_rounds():
    frames = pd.DataFrame({"frame_index": [0, 1, 2], "state": [[1.23456, 2.0], [1.5, None], None],
                           "action": [[0.0], [1.0], [2.0]]})
    series = viewer.robot_series(frames, 3, {"state": [0, 1], "action": []}, {"state": ["a", "b"]})
    assert len(series) == 1
    assert series[0]["names"] == ["a", "b"]
    assert series[0]["values"] == [[1.235, 1.5, None], [2.0, None, None]]


def test_viewer_html_keeps_data_inside_its_script():
    video = viewer.ClipVideo("c1", "/egocurate/media/c1", 30.0, 2, 64, 48)
    tracks = viewer.pose_tracks(_track(), 2)
    config = viewer.viewer_config(video, tracks)
    config["clipId"] = "</script><script>alert(1)</script>"
    page = viewer.viewer_html(config)
    assert page.count("</script>") == 2  # the config's and the player's own
    data = page.split('id="ego-config">')[1].split("</script>")[0]
    assert json.loads(data)["clipId"] == "</script><script>alert(1)</script>"
    assert viewer.viewer_height(config) > viewer.HUMAN_VIDEO_HEIGHT_PX


def test_clip_viewer_config_on_real_clips(app_root: Path, egodex_clip: dict, robot_clip: dict):
    engine = query_engine(app_root)
    config = viewer.clip_viewer_config(engine, egodex_clip["clip_id"], ("egodex",))
    assert config["nFrames"] == 126 and (config["width"], config["height"]) == (1920, 1080)
    assert [t["hand"] for t in config["tracks"]] == ["left", "right"]
    kp = config["tracks"][0]["kp"][40]
    assert len(kp) == 42 and all(round(v, 1) == v for v in kp)  # rounded to 0.1 px
    choices = viewer.robot_dim_choices(engine, robot_clip["clip_id"])
    assert len(choices["state"]["labels"]) == 44 and choices["state"]["labels"][22] == "right_arm.0"
    dims = {c: choices[c]["default"] for c in ("state", "action")}
    config = viewer.clip_viewer_config(engine, robot_clip["clip_id"], (), dims)
    assert [s["title"] for s in config["series"]] == ["state", "action"]
    assert len(config["series"][0]["values"][0]) == robot_clip["n_frames"]
    assert viewer.clip_viewer_config(engine, "0123456789abcdef") is None


def test_clip_details_skip_empty_fields(egodex_clip: dict):
    details = viewer.clip_details(egodex_clip)
    assert "fx (px)" in set(details["field"]) and "robot" not in set(details["field"])


def test_clip_filter_from_widgets():
    spec = clips.clip_filter(["human"], [], "  pick ", (0.0, 24.0), 23.5)
    assert spec == ViewSpec(kinds=("human",), task_contains="pick")  # the full range filters nothing
    spec = clips.clip_filter([], ["egodex"], "", (2.0, 10.0), 23.5)
    assert spec.metric_ranges == (("duration_s", 2.0, 10.0),)
    assert clips.duration_bounds(0.0) == (0.0, 1.0)


def test_cards_escape_task_text():
    rows = pd.DataFrame([{"clip_id": "c1", "kind": "robot", "source": "lerobot", "task": "<b>grab</b> & go",
                          "task_slug": "set", "duration_s": 75.0, "width": 256, "height": 256, "episode_index": 3}])
    card = clips.clip_cards(rows)[0]
    assert card.details == "lerobot · episode 3 · 1 min 15 s · 256x256"
    assert "&lt;b&gt;grab&lt;/b&gt; &amp; go" in card.html() and "<b>" not in card.html()
    assert card.thumb_url == "/egocurate/thumbs/c1.jpg"


def test_format_duration():
    assert [clips.format_duration(s) for s in (4.2, 185, 3720, None)] == ["4.2 s", "3 min 05 s", "1 h 02 min", "-"]


def test_clip_table_has_thumbnails_first(app_root: Path):
    from db.queries.views import list_clips

    table = clips.clip_table(list_clips(query_engine(app_root)))
    assert list(table.columns)[0] == "thumb" and len(table) == 9
    assert clips.clip_table(list_clips(query_engine(app_root), limit=0)).empty


def test_overview_charts():
    totals = pd.DataFrame({"source": ["egodex", "lerobot"], "clips": [3, 5], "frames": [340, 2096],
                           "hours": [0.003, 0.03]})
    fig = charts.hours_by_source(totals)
    assert fig.layout.xaxis.title.text == "minutes" and list(fig.data[0].x) == pytest.approx([0.18, 1.8])
    tasks = pd.DataFrame({"task": ["a", "b"], "kind": ["human", "robot"], "clips": [1, 2], "hours": [2.0, 1.0]})
    assert {t.name for t in charts.hours_by_task(tasks).data} == {"human", "robot"}
    coverage = pd.DataFrame({"pose_source": ["egodex"] * 2, "hand": ["left", "right"], "clips": [3, 3],
                             "hand_frames": [10, 10], "present_fraction": [1.0, 0.5], "mean_score": [0.6, 0.5]})
    assert [t.name for t in charts.pose_coverage(coverage).data] == ["left hand", "right hand"]


def test_selected_clip_id():
    rows = pd.DataFrame({"clip_id": ["a", "b"]})
    assert clips.selected_clip_id(rows, [1]) == "b"
    assert clips.selected_clip_id(rows, []) is None and clips.selected_clip_id(rows, [5]) is None


def test_favicon_is_drawn_locally():
    from app.components.brand import favicon

    assert favicon().size == (64, 64) and favicon().getpixel((32, 45))[:3] == (255, 255, 255)
