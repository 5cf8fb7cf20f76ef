"""Quality page (AppTest): histograms with rule limits, a bar's clips, and the empty state."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from curation.noise import Injection, write_pose_clips
from curation.score import run_score
from tests.curation.conftest import pose_clip

PAGE = Path(__file__).resolve().parents[2] / "app" / "app_pages" / "quality.py"
TIMEOUT_S = 60


def scored_root(root: Path) -> Path:
    """Two tasks of 8 pose clips; one clip's left hand jitters, one loses its right hand."""
    clips = [pose_clip(f"{task}-{i}", task, seed=n) for n, (task, i) in
             enumerate((t, i) for t in ("wave", "pour") for i in range(8))]
    clips[3] = pose_clip("wave-3", "wave", seed=3, injection=Injection("jitter", "left", 20, 50, 8.0))
    clips[12] = pose_clip("pour-4", "pour", seed=12, injection=Injection("dropout", "right", 30, 50))
    write_pose_clips(root, clips)
    run_score(root)
    return root


@pytest.fixture(scope="module")
def page_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scored_root(tmp_path_factory.mktemp("quality") / "root")


def page(root: Path, monkeypatch: pytest.MonkeyPatch, path: Path = PAGE) -> AppTest:
    """The page on `root`; the app's cached engine is dropped, since it was made for whichever root came first."""
    monkeypatch.setenv("EGOCURATE_HOME", str(root))
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(str(path), default_timeout=TIMEOUT_S)


def test_histogram_with_rule_limits(page_root, monkeypatch):
    at = page(page_root, monkeypatch)
    at.session_state["quality.column"] = "left_bone_length_cv"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Quality"
    chart = at.get("plotly_chart")[0]
    figure = chart.proto.spec
    assert "unstable_bones" in figure and '"count"' not in figure  # the rule limit is drawn as a line
    assert len(at.dataframe) == 2  # the rules and the metric reference
    at.multiselect(key="quality.tasks").set_value(["pour"]).run()
    assert not at.exception


def test_empty_root_offers_scoring(tmp_path, monkeypatch):
    root = tmp_path / "root"
    write_pose_clips(root, [pose_clip(f"c{i}", seed=i) for i in range(3)])
    at = page(root, monkeypatch)
    at.run()
    assert not at.exception and "No quality metrics yet" in at.info[0].value
    at.button[0].click().run()
    assert not at.exception and at.title[0].value == "Quality"
    assert len(at.get("plotly_chart")) == 1


def test_a_selected_bar_lists_its_clips(page_root, monkeypatch):
    at = page(page_root, monkeypatch)
    at.session_state["quality.column"] = "left_bone_length_cv"
    at.run()
    figure = at.get("plotly_chart")[0].proto.spec
    assert figure
    at.session_state["quality.chart"] = {"selection": {"points": [{"customdata": [0.01, 1.0]}], "point_indices": [0],
                                                       "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert "1 clips with" in at.subheader[0].value
    assert list(at.dataframe[0].value["clip_id"]) == ["wave-3"]
