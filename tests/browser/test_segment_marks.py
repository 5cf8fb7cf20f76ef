"""Marking a segment with the keyboard in the real viewer (headless Chromium, #16): `i` at one frame, `o` at
another, the page's form takes both frames, a text and Save make the segment label in the store, and the
player's timeline shows it. Screenshot: `bench/out/browser/segment-marks.png` (gitignored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import state
from curation.labels import list_labels
from db.engine import query_engine
from tests.browser.harness import VIEWPORT, app_server, chromium_path, launch_chromium, viewer_frame, wait_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_path() is None, reason="no chromium on this machine (make chromium)")]

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "bench" / "out" / "browser"
PREFIX = state.VIEWER_SEGMENTS


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from app.demo import build_demo

    root = tmp_path_factory.mktemp("segments") / "root"
    build_demo(root, seed=0, progress=False, n_human=2, n_robot=1)
    return root


def number_value(page, key: str) -> str:  # noqa: ANN001
    return page.locator(f".st-key-{key.replace('.', '-')} input").input_value()


def test_i_and_o_in_the_player_fill_the_form_and_save_a_segment(root, tmp_path):
    from playwright.sync_api import sync_playwright

    clip_id = query_engine(root).cursor().execute(
        "SELECT clip_id FROM clips WHERE kind = 'human' ORDER BY clip_id").fetchone()[0]
    with app_server(root, log_file=tmp_path / "server.log") as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{url}/viewer?clip={clip_id}")
        wait_idle(page)
        frame = viewer_frame(page)
        frame.wait_for_function("() => window.egoViewer.ready", timeout=30_000)
        for target, key in ((12, "i"), (40, "o")):
            frame.evaluate(f"() => window.egoViewer.seekFrame({target})")
            frame.wait_for_function(f"() => window.egoViewer.frame === {target}", timeout=10_000)
            frame.locator("#stage").press(key)
        page.wait_for_function("""(key) => { const i = document.querySelector('.st-key-' + key + ' input');
                                             return i && i.value === '40'; }""",
                               arg=f"{PREFIX}.out".replace(".", "-"), timeout=20_000)
        wait_idle(page)
        assert number_value(page, f"{PREFIX}.in") == "12" and number_value(page, f"{PREFIX}.out") == "40"
        for key, text in ((state.VIEWER_CURATOR, "pw-curator"), (f"{PREFIX}.text", "reach for the cup")):
            page.locator(f".st-key-{key.replace('.', '-')} input").fill(text)
            page.keyboard.press("Tab")  # a text input commits when it loses the focus
            wait_idle(page)
        save = page.locator(f".st-key-{PREFIX.replace('.', '-')}-save button:not([disabled])")
        save.wait_for(timeout=20_000)
        save.click()
        page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=20_000)
        wait_idle(page)
        [segment] = [label for label in list_labels(root, clip_id) if label.kind == "segment"]
        assert (segment.frame_start, segment.frame_end, segment.text, segment.author) == (
            12, 40, "reach for the cup", "pw-curator")
        frame = viewer_frame(page)  # the player again, now with the segments row
        assert frame.evaluate("() => JSON.parse(document.getElementById('ego-config').textContent)"
                              ".timeline.some((row) => row.label === 'segments')")
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUT_DIR / "segment-marks.png"), full_page=True)
        assert not errors, errors
        browser.close()
