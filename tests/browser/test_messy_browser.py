"""The messy catalog in headless Chromium: the Clip viewer of one clip of each class (tests/messy_catalog.py)
shows a playing video or a clear message, never a traceback.

Screenshots land in the test's tmp dir and in `bench/out/browser/messy-*.png` (gitignored).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from db.engine import query_engine
from db.queries.door import fetch_all
from tests.browser.harness import VIEWPORT, app_server, chromium_path, launch_chromium, viewer_frame, wait_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_path() is None, reason="no chromium on this machine (make chromium)")]

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "bench" / "out" / "browser"
VIDEO_SHOWN_JS = """() => { const v = document.getElementById('video');
                            return window.egoViewer.ready && v.readyState >= 2 && v.videoWidth > 0; }"""
# Classes whose page must also say something in words (a Streamlit alert beside the player).
MESSAGE_OF = {"v30_missing": "Video-only episode", "v21_missing": "Video-only episode"}


def one_clip_per_class(catalog) -> dict[str, str]:  # noqa: ANN001 (MessyCatalog)
    """Class name -> a clip id: the human classes, EgoDex, the webcam video, and one episode per LeRobot class."""
    chosen = dict(catalog.clip_ids)
    engine = query_engine(catalog.root)
    rows = fetch_all(engine, "SELECT clip_id, source, path, dataset FROM clips ORDER BY clip_id")
    chosen["egodex"] = next(c for c, source, _, _ in rows if source == "egodex")
    chosen["webcam"] = next(c for c, _, path, _ in rows if path == str(catalog.inputs.webcam.resolve()))
    for name, folder in catalog.inputs.lerobot.items():
        chosen[name] = next(c for c, _, _, dataset in rows if dataset == str(folder.resolve()))
    return chosen


@pytest.fixture(scope="module")
def server(messy_catalog, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    log = tmp_path_factory.mktemp("messy-browser") / "server.log"
    with app_server(messy_catalog.root, log_file=log) as url:
        yield url, log


def test_viewer_of_each_class_shows_a_video_or_a_clear_message(messy_catalog, server, tmp_path):  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    url, log = server
    clips = one_clip_per_class(messy_catalog)
    assert len(clips) == 15  # 7 generated human classes, EgoDex, the webcam video, 6 LeRobot classes
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        for name, clip_id in clips.items():
            page.goto(f"{url}/viewer?clip={clip_id}")
            wait_idle(page, timeout_ms=120_000)  # an MPEG-4 clip's proxy is made on its first view
            assert page.locator('[data-testid="stException"]').count() == 0, f"{name} shows a traceback"
            alerts = " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
            assert "Could not" not in alerts, f"{name}: {alerts}"
            frame = viewer_frame(page)
            frame.wait_for_function(VIDEO_SHOWN_JS, timeout=60_000)  # the picture is there, whatever the class
            assert frame.evaluate("() => window.egoViewer.error") is None, name
            if name in MESSAGE_OF:
                assert MESSAGE_OF[name] in alerts, f"{name} does not say why it has no curves"
            shot = tmp_path / f"messy-{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, OUT_DIR / shot.name)
        browser.close()
    assert not errors, errors
    assert "Traceback" not in log.read_text()  # nothing went wrong behind the page either
