"""Three curators in three browser sessions on one Review queue at once: one decides a flag, the one who
decides on the same flag from a screen that is now stale is refused (nothing overwritten), and after a
refresh everyone sees the new state; no session shows an error it should not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from curation.flags import create_flag, list_flags
from db.models import AuditEntry
from db.store import session_scope
from tests.browser.harness import VIEWPORT, app_server, chromium_path, launch_chromium, wait_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_path() is None, reason="no chromium on this machine (make chromium)")]

SMALL_DEMO = {"n_human": 2, "n_robot": 1, "width": 160, "height": 120}
CURATORS = ("ann", "bob", "cid")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny demo set with two rule flags waiting for review, the first one on screen for everyone."""
    from app.demo import build_demo
    from db.engine import query_engine
    from db.queries.views import list_clips
    from db.view_spec import ViewSpec

    root = tmp_path_factory.mktemp("multi") / "root"
    build_demo(root, seed=0, progress=False, **SMALL_DEMO)
    clip_ids = list(list_clips(query_engine(root), ViewSpec(kinds=("human",)), limit=2)["clip_id"])
    for clip_id in clip_ids:
        create_flag(root, clip_id, "hands leave the frame", "rules", severity="error", origin="rule",
                    rule="presence")
    return root


def _open_review(browser, url: str, curator: str):  # noqa: ANN001, ANN202 (playwright objects)
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{url}/review")
    wait_idle(page, timeout_ms=60_000)
    name = page.get_by_label("Curator name")
    name.fill(curator)
    name.press("Tab")  # commits the text input
    wait_idle(page)
    return page


def _flag_on_screen(page) -> str:  # noqa: ANN001
    return page.get_by_text("Flag 1 of").first.inner_text()


def test_three_sessions_see_one_decision_and_a_stale_one_is_refused(root: Path, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with app_server(root, log_file=tmp_path / "server.log") as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        ann, bob, cid = (_open_review(browser, url, name) for name in CURATORS)
        for page in (ann, bob, cid):  # all three sessions are live on the same flag
            page.get_by_text("Flag 1 of 2").wait_for()
        ann.get_by_role("button", name="Confirm (c)").click()
        ann.get_by_text("confirmed by ann").wait_for(timeout=30_000)
        wait_idle(ann)

        bob.get_by_role("button", name="Dismiss (d)").click()  # bob's screen still shows version 1
        bob.get_by_text("changed by ann").wait_for(timeout=30_000)
        wait_idle(bob)
        for page in (bob, cid):
            page.reload()
            wait_idle(page, timeout_ms=60_000)
            page.get_by_text("Flag 1 of 1").wait_for(timeout=30_000)  # the confirmed flag left the queue
        assert _flag_on_screen(ann) == _flag_on_screen(bob) == _flag_on_screen(cid)
        for page in (ann, bob, cid):
            assert page.locator('[data-testid="stException"]').count() == 0
            assert not page.errors, page.errors
        browser.close()

    [decided] = [f for f in list_flags(root) if f.state != "proposed"]
    assert (decided.state, decided.version) == ("confirmed", 2)  # ann's decision, not bob's
    with session_scope(root) as session:
        actions = session.execute(select(AuditEntry.actor, AuditEntry.action)
                                  .where(AuditEntry.entity == "flag", AuditEntry.entity_id == str(decided.id))
                                  .order_by(AuditEntry.id)).all()
    assert [tuple(a) for a in actions] == [("rules", "flag.create"), ("ann", "flag.confirmed")]
