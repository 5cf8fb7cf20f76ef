"""The segment form under the player (#16): the viewer and the Review page save a segment label with the In /
Out frames (which the player's i / o keys fill, tests/browser/test_segment_marks.py) and a text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import state
from app.components.viewer import with_segment_marks
from curation.labels import list_labels

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"


@pytest.fixture
def root(app_root: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(app_root, copy)
    return copy


def viewer_page(root: Path, clip_id: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("EGOCURATE_HOME", str(root))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["clip"] = clip_id
    at.switch_page("app_pages/viewer.py").run()
    assert not at.exception
    return at


def test_the_viewer_saves_a_segment_and_draws_it_on_the_timeline(root, egodex_clip, monkeypatch):
    clip_id = egodex_clip["clip_id"]
    at = viewer_page(root, clip_id, monkeypatch)
    prefix = state.VIEWER_SEGMENTS
    assert at.button(key=f"{prefix}.save").disabled  # open local mode: a name first
    at.text_input(key=state.VIEWER_CURATOR).input("ann")
    at.number_input(key=f"{prefix}.in").set_value(12)
    at.number_input(key=f"{prefix}.out").set_value(40)
    at.text_input(key=f"{prefix}.text").input("grasp the stapler").run()
    at.button(key=f"{prefix}.save").click().run()
    assert not at.exception and "Segment" in at.success[0].value
    [segment] = [label for label in list_labels(root, clip_id) if label.kind == "segment"]
    assert (segment.frame_start, segment.frame_end, segment.text) == (12, 40, "grasp the stapler")
    assert segment.author == "ann"
    assert [list(d.value["frames"]) for d in at.dataframe if "frames" in d.value.columns] == [["12:40"]]
    (frame,) = at.get("iframe")
    config = json.loads(frame.proto.srcdoc.split('id="ego-config">')[1].split("</script>")[0])
    assert config["marks"] is True  # the player's i / o keys are on
    segments = next(row for row in config["timeline"] if row["label"] == "segments")
    assert [f for f, v in enumerate(segments["score"]) if v] == list(range(12, 41))
    at.number_input(key=f"{prefix}.in").set_value(50)
    at.number_input(key=f"{prefix}.out").set_value(45)
    at.text_input(key=f"{prefix}.text").input("backwards").run()
    at.button(key=f"{prefix}.save").click().run()
    assert "frame_start <= frame_end" in at.error[0].value


def test_segment_rows_and_marks_join_the_player_config():
    config = {"nFrames": 6, "timeline": [{"label": "left", "color": "#f00", "score": [1.0] * 6}]}
    marked = with_segment_marks(config, [(1, 2), (4, 9)])
    assert marked["marks"] is True and config["timeline"][0] is marked["timeline"][0]
    assert marked["timeline"][1]["score"] == [None, 1.0, 1.0, None, 1.0, 1.0]
    assert json.dumps(marked)  # it travels as JSON to viewer.js
