"""The retargeted robot hand in the real viewer (headless Chromium): drawn over the human hand at the
frame on screen, its 3D view and joint curves following the playhead, for the 22-DoF hand and G1 Dex3.

Screenshots land in `bench/out/browser/` (gitignored) for a human look:
`robot-overlay-egodex-frame40.png` and `robot-overlay-g1-dex3-frame40.png` must show the robot hand
(white links, dark outline) on the human hand (orange / blue skeleton).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.app.test_viewer_robot import build_retargeted_root
from tests.browser.harness import VIEWPORT, app_server, chromium_path, launch_chromium, viewer_frame, wait_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_path() is None, reason="no chromium on this machine (make chromium)")]

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "bench" / "out" / "browser"
# Per canvas: how many pixels are drawn, how many in the robot's light link colour, and their box.
INK_JS = """(id) => {
  const canvas = document.getElementById(id);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0, light = 0, x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    ink++;
    if (data[i] > 220 && data[i + 1] > 220 && data[i + 2] > 220 && data[i + 3] > 200) light++;
    const p = i / 4, x = p % canvas.width, y = Math.floor(p / canvas.width);
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
  }
  return {ink, light, box: [x0, y0, x1, y1]};
}"""
EMBODIMENT_IS_JS = """(name) => {
  const robot = JSON.parse(document.getElementById('ego-config').textContent).robot;
  return robot !== null && robot.embodiment === name;
}"""


@pytest.fixture(scope="module")
def retargeted(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("robot_browser") / "root"
    return root, build_retargeted_root(root, shared_data)


@pytest.fixture(scope="module")
def server(retargeted: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    log = tmp_path_factory.mktemp("robot_browser_log") / "server.log"
    with app_server(retargeted[0], log_file=log) as url:
        yield url


@pytest.fixture
def page(server: str):  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        yield page
        browser.close()


def _save(locator, name: str) -> None:  # noqa: ANN001 (playwright Locator)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(OUT_DIR / name))


def _at_frame_40(page, embodiment: str):  # noqa: ANN001, ANN202 (playwright Page / Frame)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    frame = viewer_frame(page)
    frame.wait_for_function(EMBODIMENT_IS_JS, arg=embodiment, timeout=30_000)
    frame.wait_for_function("() => window.egoViewer.ready", timeout=60_000)
    frame.evaluate("() => egoViewer.seekFrame(40)")
    frame.wait_for_function("() => egoViewer.frame === 40 && !document.getElementById('video').seeking")
    time.sleep(0.3)  # one more composited frame, so the screenshot has the picture that was drawn for
    return frame


def _overlap(a: list[int], b: list[int]) -> float:
    """Intersection over the smaller box: the robot hands lie on the human hands, not beside them."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return max(0, w) * max(0, h) / max(1, smaller)


def test_robot_hand_is_drawn_on_the_human_hand(page, server: str, retargeted: tuple[Path, str]):  # noqa: ANN001
    page.goto(f"{server}/viewer?clip={retargeted[1]}")
    frame = _at_frame_40(page, "egocurate_hand22")
    robot, human = frame.evaluate(INK_JS, "robot-overlay"), frame.evaluate(INK_JS, "overlay")
    assert robot["light"] > 300, f"no robot links drawn in their colour: {robot}"
    assert _overlap(robot["box"], human["box"]) > 0.8, (robot["box"], human["box"])
    _save(frame.locator("#stage"), "robot-overlay-egodex-frame40.png")
    assert (OUT_DIR / "robot-overlay-egodex-frame40.png").stat().st_size > 10_000

    view3d = frame.evaluate(INK_JS, "view3d")
    chart = "() => document.querySelector('#below-charts canvas').toDataURL()"
    pixels_3d = "() => document.getElementById('view3d').toDataURL()"
    before_3d, before_chart = frame.evaluate(pixels_3d), frame.evaluate(chart)
    assert view3d["ink"] > 1000
    frame.evaluate("() => egoViewer.seekFrame(100)")
    frame.wait_for_function("() => egoViewer.frame === 100")
    assert frame.evaluate(pixels_3d) != before_3d, "the 3D view did not follow the playhead"
    assert frame.evaluate(chart) != before_chart, "the joint curves' playhead did not move"
    frame.evaluate("() => egoViewer.seekFrame(40)")
    frame.wait_for_function("() => egoViewer.frame === 40")
    frame.evaluate("() => egoViewer.robot.turn(0.6, -0.4)")  # a turned 3D view reads better in the panel shot
    _save(page.locator('iframe[title="st.iframe"]'), "robot-panel-egodex-frame40.png")

    frame.locator("#show-robot").uncheck()
    assert frame.evaluate("() => getComputedStyle(document.getElementById('robot-overlay')).visibility") == "hidden"
    assert frame.evaluate("() => getComputedStyle(document.getElementById('overlay')).visibility") == "visible"
    assert not page.errors


def test_g1_dex3_hand_is_drawn_on_the_human_hand(page, server: str, retargeted: tuple[Path, str]):  # noqa: ANN001
    page.goto(f"{server}/viewer?clip={retargeted[1]}")
    wait_idle(page)
    page.get_by_text("g1_dex3", exact=True).click()  # the "Robot hand" segmented control
    frame = _at_frame_40(page, "g1_dex3")
    robot, human = frame.evaluate(INK_JS, "robot-overlay"), frame.evaluate(INK_JS, "overlay")
    assert robot["light"] > 200, f"no robot links drawn in their colour: {robot}"
    assert _overlap(robot["box"], human["box"]) > 0.6, (robot["box"], human["box"])
    _save(frame.locator("#stage"), "robot-overlay-g1-dex3-frame40.png")
    frame.evaluate("() => egoViewer.robot.turn(0.6, -0.4)")
    _save(page.locator('iframe[title="st.iframe"]'), "robot-panel-g1-dex3-frame40.png")
    assert not page.errors

