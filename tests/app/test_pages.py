"""AppTest smoke tests: every page runs without an exception on a real data root."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import state

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
TIMEOUT_S = 60  # first runs import plotly and may make a proxy


@pytest.fixture
def app(app_root: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("EGOCURATE_HOME", str(app_root))
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.title, *at.subheader, *at.info])


def test_overview(app: AppTest):
    app.run()
    assert not app.exception
    assert app.title[0].value == "Overview"
    assert [m.label for m in app.metric][:2] == ["Clips", "Human video"]
    assert app.metric[0].value == "9"


def test_clips_grid_and_table(app: AppTest):
    app.switch_page("app_pages/clips.py").run()
    assert not app.exception
    assert "**9** clips match" in _texts(app)
    app.multiselect(key=state.CLIPS_KINDS).set_value(["robot"]).run()
    assert not app.exception and "**5** clips match" in _texts(app)
    app.segmented_control(key=state.CLIPS_VIEW).set_value("Table").run()
    assert not app.exception and len(app.dataframe) == 1


def test_clips_filter_resets_the_page(app: AppTest):
    app.session_state[state.CLIPS_PAGE_SIZE] = 24
    app.session_state[state.CLIPS_PAGE] = 3  # past the end: clamped to the last page
    app.switch_page("app_pages/clips.py").run()
    assert not app.exception and app.session_state[state.CLIPS_PAGE] == 0
    app.text_input(key=state.CLIPS_TASK).input("no such task anywhere").run()
    assert not app.exception and "**0** clips match" in _texts(app)


def test_viewer_human_clip(app: AppTest, egodex_clip: dict):
    app.query_params["clip"] = egodex_clip["clip_id"]
    app.switch_page("app_pages/viewer.py").run()
    assert not app.exception
    assert "stapler" in app.subheader[0].value
    assert app.session_state[state.VIEWER_CLIP_ID] == egodex_clip["clip_id"]
    assert app.segmented_control(key=state.VIEWER_POSE_SOURCE).value == "egodex"


def test_viewer_robot_episode(app: AppTest, robot_clip: dict):
    app.query_params["clip"] = robot_clip["clip_id"]
    app.switch_page("app_pages/viewer.py").run()
    assert not app.exception
    state_dims = app.multiselect(key=state.VIEWER_STATE_DIMS)
    assert 0 < len(state_dims.value) <= 12


def test_viewer_without_or_with_unknown_clip(app: AppTest):
    app.switch_page("app_pages/viewer.py").run()
    assert not app.exception and "Pick a clip" in _texts(app)
    app.query_params["clip"] = "0123456789abcdef"
    app.switch_page("app_pages/viewer.py").run()
    assert not app.exception and "No clip with id" in " ".join(w.value for w in app.warning)


def test_sql(app: AppTest):
    app.switch_page("app_pages/sql.py").run()
    assert not app.exception
    app.text_area(key=state.SQL_QUERY).input("SELECT kind, count(*) AS n FROM clips GROUP BY kind ORDER BY kind")
    app.button[0].click().run()
    assert not app.exception
    assert app.dataframe[-1].value["n"].tolist() == [4, 5]
    app.text_area(key=state.SQL_QUERY).input("DELETE FROM clips")
    app.button[0].click().run()
    assert "read-only" in app.error[0].value
