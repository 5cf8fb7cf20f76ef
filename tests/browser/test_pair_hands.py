"""The Pairs page in headless Chromium (issue 15): a humanoid with Inspire hands and its spec; the robot's
hand, drawn from its state, and the human's retargeted to the same hand step together along the DTW path.

The screenshot `bench/out/browser/pair-hands.png` (gitignored) is for a human look: both videos, then the
two hands (left orange, right blue) side by side under them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from tests.browser.harness import VIEWPORT, app_server, chromium_path, launch_chromium, wait_idle
from tests.curation.g1_inspire import g1_root

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_path() is None, reason="no chromium on this machine (make chromium)")]

OUT_DIR = Path(__file__).resolve().parents[2] / "bench" / "out" / "browser"
INK_JS = """(id) => {
  const canvas = document.getElementById(id);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let blue = 0, orange = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 2] > 200 && data[i] < 80) blue++;
    if (data[i] > 200 && data[i + 2] < 80) orange++;
  }
  return {blue, orange};
}"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    folder = tmp_path_factory.mktemp("pair_hands")
    root, spec_file, datasets, _ = g1_root(folder, shared_data)
    for args in (("ingest", str(datasets[0]), "--embodiment", str(spec_file), "--quiet"), ("pair", "--quiet")):
        result = CliRunner().invoke(main, ["--root", str(root), *args])
        assert result.exit_code == 0, result.output
    return root


def test_both_hands_step_along_the_path(root: Path):
    from playwright.sync_api import sync_playwright

    with app_server(root) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{url}/pairs")
        wait_idle(page)
        frame = page.wait_for_selector('iframe[title="st.iframe"]').content_frame()
        frame.wait_for_function("() => window.drawHands !== undefined", timeout=30_000)
        frame.wait_for_function("() => document.getElementById('robot').readyState >= 1", timeout=30_000)
        for canvas in ("hand-robot", "hand-human"):
            ink = frame.evaluate(INK_JS, canvas)
            assert ink["blue"] > 50 and ink["orange"] > 50, (canvas, ink)  # right and left hands drawn
        frame.evaluate("() => { const v = document.getElementById('robot'); v.currentTime = 2.0; }")
        frame.wait_for_function("() => Number(document.getElementById('hr').textContent) >= 55", timeout=30_000)
        robot_frame = int(frame.inner_text("#hr"))
        human_frame = int(frame.inner_text("#hh"))
        assert robot_frame >= 55 and human_frame == int(frame.inner_text("#hf"))  # the hands follow the path
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUT_DIR / "pair-hands.png"), full_page=True)
        browser.close()
    assert not errors
