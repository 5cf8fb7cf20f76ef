"""The page sweep: every page, the Clip viewer for every clip (and every robot hand), Review for every flag
and Pairs for every pair of the messy catalog (tests/messy_catalog.py) run without an exception or an
error message (AppTest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import state
from db.engine import query_engine
from db.queries.door import fetch_all

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
TIMEOUT_S = 120  # the first viewer run of an MPEG-4 clip makes its H.264 proxy
PAGES = ("overview", "clips", "viewer", "quality", "review", "sql", "label", "pairs", "export", "train", "scaling")


@pytest.fixture
def app(messy_catalog, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("EGOCURATE_HOME", str(messy_catalog.root))
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)


def clean(at: AppTest, where: str) -> None:
    """No exception and no error message on the page (the guard's messages are errors too)."""
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    assert not at.error, f"{where}: {[e.value for e in at.error]}"


def rows(catalog, sql: str) -> list[tuple]:  # noqa: ANN001 (MessyCatalog)
    return fetch_all(query_engine(catalog.root), sql)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens(app: AppTest, page: str):
    app.switch_page(f"app_pages/{page}.py").run()
    clean(app, page)


def test_clip_viewer_for_every_clip_and_robot_hand(app: AppTest, messy_catalog):
    clips = rows(messy_catalog, "SELECT clip_id, kind, state_key, action_key FROM clips ORDER BY kind, clip_id")
    embodiments = {c: set() for c, *_ in clips}
    for clip_id, embodiment in rows(messy_catalog, "SELECT DISTINCT clip_id, embodiment FROM retargets"):
        embodiments[clip_id].add(embodiment)
    video_only = 0
    for clip_id, kind, state_key, action_key in clips:
        for robot in sorted(embodiments[clip_id]) or [None]:
            if robot:
                app.session_state[state.VIEWER_ROBOT] = robot
            app.query_params["clip"] = clip_id
            app.switch_page("app_pages/viewer.py").run()
            clean(app, f"viewer {kind} {clip_id} {robot or ''}")
            assert app.session_state[state.VIEWER_CLIP_ID] == clip_id
            assert len(app.get("iframe")) >= 1, f"no player for {clip_id}"
        if kind == "robot" and state_key is None and action_key is None:
            assert any("Video-only episode" in i.value for i in app.info), clip_id
            video_only += 1
    assert video_only == 2


def test_review_for_every_flag(app: AppTest, messy_catalog):
    flags = rows(messy_catalog, "SELECT id, clip_id FROM flags WHERE state = 'proposed' ORDER BY id")
    assert len(flags) >= 10
    for flag_id, clip_id in flags:
        app.session_state[state.REVIEW_FLAG_ID] = flag_id
        app.switch_page("app_pages/review.py").run()
        clean(app, f"review flag {flag_id} on {clip_id}")
        assert app.session_state[state.REVIEW_FLAG_ID] == flag_id


def test_pairs_for_every_pair(app: AppTest, messy_catalog):
    pairs = rows(messy_catalog, "SELECT id FROM pairs ORDER BY id")
    assert len(pairs) == 4
    for (pair_id,) in pairs:
        app.session_state[state.PAIRS_STATES] = []
        app.session_state[state.PAIRS_PAIR_ID] = pair_id
        app.switch_page("app_pages/pairs.py").run()
        clean(app, f"pair {pair_id}")
        assert app.session_state[state.PAIRS_PAIR_ID] == pair_id
        assert len(app.get("iframe")) == 1
