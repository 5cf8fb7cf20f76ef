"""The browser console stays clean: every page, opened at its own URL, loads without a failed request or a
warning (Streamlit's base-URL probes answered 404 and its theme check warned on every page), and moving
between pages still updates the address bar."""

from __future__ import annotations

import pytest

from tests.browser.harness import VIEWPORT, app_server, chromium_path, launch_chromium, wait_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_path() is None, reason="no chromium on this machine (make chromium)")]

PAGES = ("", "embodiments", "pairs", "export")


def test_pages_opened_by_url_load_without_failed_requests_or_warnings(tmp_path):
    from playwright.sync_api import sync_playwright

    with app_server(tmp_path / "root", log_file=tmp_path / "server.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for name in PAGES:
                page = browser.new_page(viewport=VIEWPORT)
                problems: list[str] = []
                page.on("console", lambda m, p=problems: p.append(f"{m.type}: {m.text}")
                        if m.type in ("warning", "error") else None)
                page.on("response", lambda r, p=problems: p.append(f"HTTP {r.status} {r.url}")
                        if r.status >= 400 else None)
                page.goto(f"{server}/{name}")
                wait_idle(page, 90_000)
                page.wait_for_timeout(1500)  # late theme and health messages
                assert problems == [], (name, problems)
                page.close()
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{server}/embodiments")
            wait_idle(page, 90_000)
            page.get_by_role("link", name="Pairs").click()
            page.wait_for_url(f"{server}/pairs", timeout=30_000)
            wait_idle(page, 90_000)
        finally:
            browser.close()
