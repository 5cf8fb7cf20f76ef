"""Sign-in in the app (AppTest): the router asks for it once users exist, and the pages' writes are checked
against the store at the click, whatever the buttons showed."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app import state
from curation.flags import list_flags
from db import auth
from db.models import AuditEntry
from db.store import session_scope
from tests.app.test_quality_page import page, scored_root

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
REVIEW = APP.parent / "app_pages" / "review.py"
PASSWORD = "correct horse battery"
TIMEOUT_S = 60


def router(root: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("EGOCURATE_HOME", str(root))
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)


def sidebar_text(at: AppTest) -> str:
    return " ".join(str(c.value) for c in at.sidebar.caption)


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key=state.AUTH_NAME).input(name)
    at.text_input(key=state.AUTH_PASSWORD).input(password)
    return at.button[0].click().run()  # the form's submit button


def test_open_local_mode_says_so_and_shows_the_pages(root, monkeypatch):
    at = router(root, monkeypatch)
    at.run()
    assert not at.exception and at.title[0].value == "Overview"
    assert "Open local mode" in sidebar_text(at) and "egocurate user add" in sidebar_text(at)


def test_sign_in_comes_before_any_page(root, monkeypatch):
    auth.add_user(root, "boss", PASSWORD, "admin", actor="test")
    auth.add_user(root, "ann", PASSWORD, "curator", actor="test")
    at = router(root, monkeypatch)
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in"]  # no page ran
    sign_in(at, "ann", "not the password")
    assert [t.value for t in at.title] == ["Sign in"]
    assert "unknown name or wrong password" in at.error[0].value
    assert at.session_state[state.AUTH_PASSWORD] == ""  # not kept in the session
    sign_in(at, "ann", PASSWORD)
    assert not at.exception and at.title[0].value == "Overview"
    assert "Signed in as **ann** · curator" in sidebar_text(at)
    token = at.session_state[state.AUTH_TOKEN]
    assert auth.resolve_session(root, token).name == "ann"
    at.sidebar.button(key="auth_sign_out").click().run()
    assert [t.value for t in at.title] == ["Sign in"] and "Signed out" in at.info[0].value
    assert auth.resolve_session(root, token) is None


def test_a_session_ended_elsewhere_returns_to_sign_in(root, monkeypatch):
    auth.add_user(root, "ann", PASSWORD, "admin", actor="test")
    at = router(root, monkeypatch)
    at.session_state[state.AUTH_TOKEN] = auth.sign_in(root, "ann", PASSWORD)
    at.run()
    assert at.title[0].value == "Overview"
    auth.set_password(root, "ann", "a brand new password", actor="test")  # ends every session of ann
    at.run()
    assert [t.value for t in at.title] == ["Sign in"] and "session has ended" in at.info[0].value
    assert at.session_state[state.AUTH_TOKEN] is None


@pytest.fixture
def review(tmp_path, monkeypatch):  # noqa: ANN201
    root = scored_root(tmp_path / "root")
    auth.add_user(root, "boss", PASSWORD, "admin", actor="test")
    auth.add_user(root, "cam", PASSWORD, "curator", actor="test")
    auth.add_user(root, "vic", PASSWORD, "viewer", actor="test")
    return root, page(root, monkeypatch, REVIEW)


def states(root: Path) -> list[tuple[str, int]]:
    return sorted((f.state, f.version) for f in list_flags(root))


def test_a_viewers_forced_click_is_refused_and_writes_nothing(review):
    root, at = review
    at.session_state[state.AUTH_TOKEN] = auth.sign_in(root, "vic", PASSWORD)
    at.run()
    assert not at.exception
    confirm = at.button(key="review_confirm")
    assert confirm.disabled and "Needs the curator role; you are viewer" in confirm.help
    before = states(root)
    confirm.click().run()  # what a hand-crafted websocket message could do, whatever the button showed
    assert not at.exception
    assert "needs the curator role; vic is a viewer" in at.error[0].value
    assert states(root) == before == [("proposed", 1), ("proposed", 1)]


def test_a_curator_demoted_between_render_and_click_is_refused(review):
    root, at = review
    at.session_state[state.AUTH_TOKEN] = auth.sign_in(root, "cam", PASSWORD)
    at.session_state[state.REVIEW_CURATOR] = "mallory"  # typed before sign-in existed: never used when signed in
    at.run()
    assert not at.button(key="review_confirm").disabled
    before = states(root)
    auth.set_role(root, "cam", "viewer", actor="boss")  # in the store, while the page is on screen
    at.button(key="review_confirm").click().run()
    assert "needs the curator role; cam is a viewer" in at.error[0].value
    assert states(root) == before
    auth.set_role(root, "cam", "curator", actor="boss")
    at.run()
    at.button(key="review_confirm").click().run()
    assert not at.exception and "by cam" in at.success[0].value
    assert sorted(f.state for f in list_flags(root)) == ["confirmed", "proposed"]
    with session_scope(root) as session:
        actors = session.scalars(select(AuditEntry.actor).where(AuditEntry.entity == "flag")
                                 .order_by(AuditEntry.id)).all()
    assert actors[-1] == "cam" and "mallory" not in actors


def test_a_curator_cannot_launch_training(tmp_path, monkeypatch):
    from trainer.runs import list_runs

    root = tmp_path / "root"
    auth.add_user(root, "boss", PASSWORD, "admin", actor="test")
    auth.add_user(root, "cam", PASSWORD, "curator", actor="test")
    at = page(root, monkeypatch, APP.parent / "app_pages" / "train.py")
    at.session_state[state.AUTH_TOKEN] = auth.sign_in(root, "cam", PASSWORD)
    at.session_state[state.TRAIN_EXPORT_PATH] = str(tmp_path / "some-export")
    at.run()
    launch = at.button(key="train_launch")
    assert launch.disabled and "Needs the admin role; you are curator" in launch.help
    launch.click().run()
    assert not at.exception and "needs the admin role; cam is a curator" in at.error[0].value
    assert list_runs(root) == []
