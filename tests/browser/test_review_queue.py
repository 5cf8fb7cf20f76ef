"""End to end in headless Chromium: a curator walks the review queue with the keyboard only, and every
decision is in the annotation store (states, versions, authors, audit log).

Served like `egocurate app` (the real ASGI app with its media routes). Until the router lists the
Review page, the test serves a one-page router of its own around `app/app_pages/review.py`.
Screenshots land in the test's tmp dir and in `bench/out/browser/` (gitignored) for a human look.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.launch import APP_DIR, config_flags, server_command
from curation.flags import list_flags
from curation.review import review_queue
from curation.score import run_score
from db import paths
from db.engine import query_engine
from db.models import AuditEntry
from db.store import session_scope
from db.view_spec import ViewSpec
from tests.browser.harness import VIEWPORT, chromium_path, free_port, launch_chromium, wait_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_path() is None, reason="no chromium on this machine (make chromium)")]

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "bench" / "out" / "browser"
REVIEW_PAGE = APP_DIR / "app_pages" / "review.py"
DEMO = {"n_human": 12, "n_robot": 2}  # a quarter of the human clips get noise: one of each kind
CURATOR = "pw-curator"
ROUTER = """import streamlit as st\nst.navigation([st.Page({page!r}, title="Review", url_path="review")]).run()\n"""
SERVE = """import streamlit as st\nfrom app.media import media_routes\nfrom db import paths\n
app = st.App("router.py", routes=media_routes(paths.resolve_root()))\n"""
START_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from app.demo import build_demo

    root = tmp_path_factory.mktemp("review") / "root"
    build_demo(root, seed=0, progress=False, **DEMO)
    run_score(root)
    return root


def _router_lists_review() -> bool:
    return "app_pages/review.py" in (APP_DIR / "streamlit_app.py").read_text()


@contextlib.contextmanager
def review_server(root: Path, work: Path) -> Iterator[str]:
    """The app on `root` (the lead's router if it has the page, else a one-page router); yields the page URL."""
    port = free_port()
    command, env = server_command(root, port)
    page_path = "review"
    if not _router_lists_review():
        page_path = ""  # the only page of a one-page router is its default, served at /
        (work / "router.py").write_text(ROUTER.format(page=str(REVIEW_PAGE)))
        (work / "serve.py").write_text(SERVE)
        command = [sys.executable, "-m", "streamlit", "run", str(work / "serve.py"),
                   *config_flags(**{"server.port": port})]
        env = {**os.environ, paths.ROOT_ENV: str(root)}
    log = open(work / "server.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"server exited: {(work / 'server.log').read_text()[-2000:]}"
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    break
            assert time.monotonic() < deadline, "the app server did not start"
            time.sleep(0.2)
        yield f"{url}/{page_path}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        log.close()


def _shot(page, name: str, work: Path) -> None:  # noqa: ANN001 (playwright Page)
    path = work / name
    page.screenshot(path=str(path), full_page=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, OUT_DIR / name)


def _press(page, key: str, expect_text: str) -> None:  # noqa: ANN001
    """Press a key on the page (not in a field) and wait for the rerun that shows `expect_text`."""
    page.keyboard.press(key)
    page.get_by_text(expect_text).first.wait_for(timeout=30_000)
    wait_idle(page)


def test_keyboard_walk_of_the_review_queue(root: Path, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    queue = list(review_queue(query_engine(root), ViewSpec(kinds=("human",)))["id"])
    assert len(queue) == 3  # the demo's swap, dropout and jitter clips
    with review_server(root, tmp_path) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        wait_idle(page, timeout_ms=60_000)
        page.get_by_text("Flag 1 of 3").wait_for()
        name = page.get_by_label("Curator name")
        name.fill(CURATOR)
        name.press("Tab")  # commits the text input
        wait_idle(page)
        page.get_by_role("heading", name="Review").click()  # focus out of any field: keys go to the page
        _shot(page, "review-1-start.png", tmp_path)

        _press(page, "j", "Flag 2 of 3")
        _press(page, "ArrowLeft", "Flag 1 of 3")
        _press(page, "c", "Flag 1 of 2")  # confirmed queue[0]; queue[1] on screen
        _shot(page, "review-2-after-confirm.png", tmp_path)
        _press(page, "d", "Flag 1 of 1")  # dismissed queue[1]; queue[2] on screen
        _press(page, "f", "Save flag")
        reason = page.get_by_label("Reason")
        reason.fill("cd jk: the keys typed here must not decide anything")
        _shot(page, "review-3-flag-form.png", tmp_path)
        page.get_by_role("button", name="Save flag").click()
        page.get_by_text("Flag saved on clip").wait_for(timeout=30_000)
        wait_idle(page)
        page.get_by_role("heading", name="Review").click()
        _press(page, "c", "Nothing to review")
        _shot(page, "review-4-done.png", tmp_path)
        browser.close()
    assert not errors, errors

    by_id = {f.id: f for f in list_flags(root)}
    assert [(by_id[i].state, by_id[i].version) for i in queue] == [("confirmed", 2), ("dismissed", 2), ("confirmed", 2)]
    [mine] = [f for f in by_id.values() if f.origin == "curator"]
    assert (mine.author, mine.state, mine.clip_id) == (CURATOR, "confirmed", by_id[queue[2]].clip_id)
    assert mine.reason.startswith("cd jk")
    with session_scope(root) as session:
        actions = [(e.actor, e.action, e.entity_id) for e in session.query(AuditEntry).order_by(AuditEntry.id)
                   if e.actor == CURATOR]
    assert actions == [(CURATOR, "flag.confirmed", str(queue[0])), (CURATOR, "flag.dismissed", str(queue[1])),
                       (CURATOR, "flag.create", str(mine.id)), (CURATOR, "flag.confirmed", str(queue[2]))]
