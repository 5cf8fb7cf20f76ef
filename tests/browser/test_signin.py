"""End to end in headless Chromium: with users in the store, sign in, browse to the clips, and see that their
thumbnails load through the session's media key while a media URL without it is refused."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app.media import media_url
from db import auth
from labeling.sources.ingest import ingest
from tests.browser.harness import THUMBS_LOADED_JS, VIEWPORT, app_server, chromium_path, launch_chromium, wait_idle
from tests.conftest import make_video

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_path() is None, reason="no chromium on this machine (make chromium)")]

PASSWORD = "correct horse battery"


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def first_clip_id(root: Path) -> str:
    from db.engine import query_engine
    from db.queries.views import list_clips
    from db.view_spec import ViewSpec

    return str(list_clips(query_engine(root), ViewSpec(), limit=1)["clip_id"].iloc[0])


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("signin")
    root = work / "root"
    report = ingest(root, [make_video(work / "media" / "tiny.mp4", n_frames=30)], progress=False)
    assert report.ok and len(report.added) == 1
    auth.add_user(root, "boss", PASSWORD, "admin", actor="test")
    auth.add_user(root, "ann", PASSWORD, "curator", actor="test")
    return root


def test_sign_in_then_media_with_the_sessions_key_only(root: Path, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    clip_id = first_clip_id(root)
    with app_server(root, log_file=tmp_path / "server.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{server}/clips")  # a deep link: sign-in first, then the page it names
            wait_idle(page)
            page.get_by_role("heading", name="Sign in").wait_for()
            assert page.get_by_role("heading", name="Clips").count() == 0  # no page before signing in
            page.get_by_role("textbox", name="Name").fill("ann")
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Clips").wait_for(timeout=30_000)
            page.get_by_text("Signed in as").wait_for()
            page.wait_for_function(THUMBS_LOADED_JS, timeout=30_000)  # every thumbnail came back as an image
            thumb = page.locator('img[src*="/thumbs/"]').first.get_attribute("src")
            key = parse_qs(urlsplit(thumb).query)["key"][0]
        finally:
            browser.close()
        assert status_of(f"{server}{media_url(clip_id)}") == 401
        assert status_of(f"{server}{urlsplit(thumb).path}") == 401
        assert status_of(f"{server}{media_url(clip_id, key)}") == 200


def test_a_reload_keeps_the_sign_in_until_sign_out(root: Path, tmp_path: Path):
    """The session rides an HttpOnly cookie across reloads and new tabs; signing out ends it everywhere."""
    from playwright.sync_api import sync_playwright

    from app.session_cookie import COOKIE_NAME

    with app_server(root, log_file=tmp_path / "server.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.goto(f"{server}/clips")
            page.get_by_role("textbox", name="Name").fill("ann")
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("Signed in as").wait_for(timeout=30_000)
            wait_idle(page)
            (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert page.evaluate("document.cookie").find(COOKIE_NAME) < 0  # scripts cannot read it

            other = context.new_page()  # a new tab, e.g. a clip opened beside the list
            other.goto(f"{server}/clips")
            other.get_by_role("heading", name="Clips").wait_for(timeout=30_000)
            other.get_by_text("Signed in as").wait_for()
            assert other.get_by_role("heading", name="Sign in").count() == 0

            other.get_by_role("button", name="Sign out").click()
            other.get_by_role("heading", name="Sign in").wait_for(timeout=30_000)
            wait_idle(other)
            page.reload()  # the session was revoked in the store: the cookie no longer signs anyone in
            page.get_by_role("heading", name="Sign in").wait_for(timeout=30_000)
            assert not [c for c in context.cookies() if c["name"] == COOKIE_NAME]
        finally:
            browser.close()
