"""End to end in headless Chromium: every page on a real data root, and the viewer playing a clip
with its skeleton overlay drawn and following the video.

Screenshots land in the test's tmp dir and in `bench/out/browser/` (gitignored) for a human look;
`viewer-egodex-frame40.png` must show the skeleton on the hands.
"""

from __future__ import annotations

import inspect
import shutil
import time
from pathlib import Path

import pytest

from tests.browser.harness import (
    THUMBS_LOADED_JS,
    VIEWPORT,
    app_server,
    chromium_path,
    launch_chromium,
    overlay_ink,
    viewer_frame,
    wait_idle,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_path() is None, reason="no chromium on this machine (make chromium)")]

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "bench" / "out" / "browser"
PAGES = [("", "Overview"), ("clips", "Clips"), ("viewer", "Clip viewer"), ("sql", "SQL")]
RAMP_FRAMES, RAMP_FPS, RAMP_STEP = 20, 10, 12  # the grey-ramp clip: frame i is grey at 12 * i (codecs: +-4)
# The variable-frame-rate ramp's frame times (ms): bursts and long gaps, so f / fps would be far off.
VFR_PTS_MS = (0, 100, 200, 600, 700, 800, 1500, 1600, 1700, 1800, 2600, 2700, 2800, 3500, 3600, 3700, 3800, 3900,
              4600, 4700)
# In a requestVideoFrameCallback registered after the player's: the frame the player has just
# drawn for, and the grey level of the picture being presented (read back from the video itself).
SAMPLE_PICTURES_JS = """(count) => new Promise((resolve) => {
  const video = document.getElementById('video'), samples = [];
  const canvas = document.createElement('canvas'); canvas.width = 8; canvas.height = 8;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const grey = () => { ctx.drawImage(video, 0, 0, 8, 8); const d = ctx.getImageData(0, 0, 8, 8).data;
                       let sum = 0; for (let i = 0; i < d.length; i += 4) sum += d[i]; return sum / 64; };
  if (count === 0) { resolve([[egoViewer.frame, grey()]]); return; }
  const onFrame = (now, meta) => {
    samples.push([egoViewer.frameAt(meta.mediaTime), egoViewer.frame, grey()]);
    if (samples.length >= count || video.paused) resolve(samples); else video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
})"""
PLOTS_DRAWN = """() => { const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
                         return charts.length >= 3 && charts.every(c => c.querySelector('.main-svg')); }"""
SMALL_DEMO = {"n_human": 2, "n_robot": 1, "width": 320, "height": 240}  # a few seconds to build


def write_grey_ramp(path: Path, n_frames: int = RAMP_FRAMES, fps: int = RAMP_FPS) -> Path:
    """An MPEG-4 Part 2 clip (so it plays through a proxy) whose frame i is grey at RAMP_STEP * i."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"qscale": "2"}
        for i in range(n_frames):
            rgb = np.full((48, 64, 3), RAMP_STEP * i, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def write_vfr_grey_ramp(path: Path) -> Path:
    """An H.264 clip (played as it is) with irregular frame times; frame i is grey at RAMP_STEP * i."""
    from fractions import Fraction

    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=RAMP_FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"crf": "1"}
        for i, pts_ms in enumerate(VFR_PTS_MS):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), RAMP_STEP * i, dtype=np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts_ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _ingest(root: Path, shared_data: Path) -> None:
    from labeling.sources.ingest import ingest
    from tests.factories import write_lerobot_v3

    v3 = write_lerobot_v3(root.parent / "v3_dataset", lengths=(12, 8), fps=10.0)  # both episodes in one file
    ramp = write_grey_ramp(root.parent / "ramp" / "grey_ramp.mp4")
    vfr = write_vfr_grey_ramp(root.parent / "vfr_ramp" / "vfr_grey_ramp.mp4")
    report = ingest(root, [shared_data / "egodex_sample" / "basic_pick_and_place",
                           shared_data / "lerobot" / "gr00t_robot_sim.PickNPlace", v3, ramp, vfr], progress=False)
    assert report.ok and not report.failures
    try:
        from labeling.synthetic.demo import generate_demo
    except ImportError:
        return  # the synthetic demo generator is not in this checkout yet
    from app.demo import build_demo

    accepted = inspect.signature(generate_demo).parameters
    build_demo(root, seed=0, progress=False, **{k: v for k, v in SMALL_DEMO.items() if k in accepted})


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    root = tmp_path_factory.mktemp("browser") / "root"
    _ingest(root, shared_data)
    return root


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


def _save(page_or_locator, name: str, artifacts: Path) -> Path:  # noqa: ANN001 (playwright Page/Locator)
    path = artifacts / name
    page_or_locator.screenshot(path=str(path))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, OUT_DIR / name)
    return path


@pytest.fixture(scope="module")
def server(root: Path, artifacts: Path):  # noqa: ANN201
    with app_server(root, log_file=artifacts / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def _clip_id(root: Path, **filters: object) -> str:
    from db.engine import query_engine
    from db.queries.views import list_clips
    from db.view_spec import ViewSpec

    return str(list_clips(query_engine(root), ViewSpec(**filters), limit=1)["clip_id"].iloc[0])


def _open(page, url: str) -> None:  # noqa: ANN001
    page.goto(url)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0, f"{url} shows an exception"


def test_every_page_renders(page, server: str, artifacts: Path):  # noqa: ANN001
    for path, heading in PAGES:
        _open(page, f"{server}/{path}")
        page.get_by_role("heading", name=heading).first.wait_for()
        if path == "":  # plotly draws after the run, from its lazily loaded bundle
            page.wait_for_function(PLOTS_DRAWN)
        if path == "clips":  # thumbnails come from our own route, lazily
            page.wait_for_function(THUMBS_LOADED_JS)
        _save(page, f"page-{path or 'overview'}.png", artifacts)
    assert not page.errors


def test_clips_page_opens_the_viewer(page, server: str):  # noqa: ANN001
    _open(page, f"{server}/clips")
    page.get_by_role("link", name="Open").first.click()
    page.wait_for_url("**/viewer?clip=*")
    frame = viewer_frame(page)
    frame.wait_for_function("() => window.egoViewer.ready", timeout=30_000)


def _frame_state(frame) -> dict:  # noqa: ANN001
    return frame.evaluate("() => ({frame: egoViewer.frame, presented: egoViewer.presented, error: egoViewer.error,"
                          " paused: document.getElementById('video').paused})")


def test_viewer_plays_egodex_clip_with_skeleton(page, server: str, root: Path, artifacts: Path):  # noqa: ANN001
    _open(page, f"{server}/viewer?clip={_clip_id(root, sources=('egodex',))}")
    frame = viewer_frame(page)
    frame.wait_for_function("() => window.egoViewer.ready && window.egoViewer.frame === 0", timeout=30_000)
    assert overlay_ink(frame) > 500, "no skeleton drawn on the first frame"

    frame.evaluate("() => egoViewer.togglePlay()")
    seen, inks = [], set()
    for _ in range(6):
        time.sleep(0.25)
        seen.append(_frame_state(frame)["frame"])
        inks.add(overlay_ink(frame))
    state = _frame_state(frame)
    assert state["error"] is None
    assert seen == sorted(seen) and seen[-1] > seen[0] + 5, f"the overlay did not follow playback: {seen}"
    assert len(inks) > 1, "the drawing did not change while playing"

    frame.evaluate("() => egoViewer.togglePlay()")
    frame.wait_for_function("() => document.getElementById('video').paused")
    frame.evaluate("() => egoViewer.seekFrame(40)")
    frame.wait_for_function("() => egoViewer.frame === 40")
    page.keyboard.press("ArrowRight")  # the page has the focus, not the player: its keys count too
    frame.wait_for_function("() => egoViewer.frame === 41")
    frame.locator("#stage").focus()
    page.keyboard.press("Shift+ArrowLeft")
    frame.wait_for_function("() => egoViewer.frame === 31")
    frame.evaluate("() => egoViewer.seekFrame(40)")
    frame.wait_for_function("() => egoViewer.frame === 40")
    time.sleep(0.2)  # one more composited frame, so the screenshot has the picture that was drawn for
    _save(frame.locator("#stage"), "viewer-egodex-frame40.png", artifacts)
    _save(page, "page-viewer-egodex.png", artifacts)
    assert not page.errors


def test_viewer_robot_episode_curves_follow_the_video(page, server: str, root: Path, artifacts: Path):  # noqa: ANN001
    _open(page, f"{server}/viewer?clip={_clip_id(root, kinds=('robot',), task_contains='sweet potato')}")
    frame = viewer_frame(page)
    frame.wait_for_function("() => window.egoViewer.ready", timeout=30_000)
    chart_pixels = "() => document.querySelector('#charts canvas').toDataURL()"
    before = frame.evaluate(chart_pixels)
    frame.evaluate("() => egoViewer.togglePlay()")
    frame.wait_for_function("() => egoViewer.frame > 10", timeout=10_000)
    assert frame.evaluate(chart_pixels) != before, "the playhead on the curves did not move"
    frame.evaluate("() => egoViewer.togglePlay()")
    _save(page, "page-viewer-robot.png", artifacts)
    assert not page.errors


def test_viewer_synthetic_clip_draws_poses(page, server: str, root: Path, artifacts: Path):  # noqa: ANN001
    from db.engine import query_engine
    from db.queries.views import count_view
    from db.view_spec import ViewSpec

    if count_view(query_engine(root), ViewSpec(sources=("synthetic",))) == 0:
        pytest.skip("no synthetic demo set in this checkout")
    _open(page, f"{server}/viewer?clip={_clip_id(root, sources=('synthetic',), kinds=('human',))}")
    frame = viewer_frame(page)
    frame.wait_for_function("() => window.egoViewer.ready", timeout=30_000)
    frame.evaluate("() => egoViewer.seekFrame(10)")
    frame.wait_for_function("() => egoViewer.frame === 10")
    assert overlay_ink(frame) > 200
    _save(frame.locator("#stage"), "viewer-synthetic-frame10.png", artifacts)


def test_viewer_plays_only_its_range_of_a_lerobot_v3_file(page, server: str, root: Path):  # noqa: ANN001
    from db.engine import query_engine
    from db.queries.views import list_clips
    from db.view_spec import ViewSpec

    episodes = list_clips(query_engine(root), ViewSpec(task_contains="stack the cups")).iloc[0]
    assert episodes["video_from_s"] == 0.0 and episodes["video_to_s"] == pytest.approx(1.2)
    _open(page, f"{server}/viewer?clip={episodes['clip_id']}")
    frame = viewer_frame(page)
    frame.wait_for_function("() => window.egoViewer.ready", timeout=30_000)
    frame.evaluate("() => egoViewer.togglePlay()")
    frame.wait_for_function("() => document.getElementById('video').paused && egoViewer.frame === 11", timeout=10_000)
    time.sleep(0.3)
    assert frame.evaluate("() => document.getElementById('video').currentTime") < 1.2  # not into episode 1

    second = list_clips(query_engine(root), ViewSpec(task_contains="open the box")).iloc[0]
    _open(page, f"{server}/viewer?clip={second['clip_id']}")
    frame = viewer_frame(page)
    frame.wait_for_function("() => window.egoViewer.ready && egoViewer.frame === 0", timeout=30_000)
    assert frame.evaluate("() => document.getElementById('video').currentTime") == pytest.approx(1.21, abs=0.02)
    frame.evaluate("() => egoViewer.seekFrame(7)")
    frame.wait_for_function("() => egoViewer.frame === 7")


def assert_playing_frames_match_pictures(frame, count: int) -> None:  # noqa: ANN001
    """While playing, each presented picture gets its own frame drawn over it (grey ramp clips)."""
    samples = frame.evaluate(SAMPLE_PICTURES_JS, count)
    assert len(samples) >= count * 2 // 3
    for expected, drawn, grey in samples:
        assert drawn == expected, f"the player drew frame {drawn} for the picture of frame {expected}"
        assert abs(grey / RAMP_STEP - drawn) < 0.5, f"frame {drawn} is drawn over the picture of {grey / RAMP_STEP:.2f}"


def assert_seeks_land_on_their_pictures(frame, targets: tuple[int, ...]) -> None:  # noqa: ANN001
    for target in targets:
        frame.evaluate(f"() => egoViewer.seekFrame({target})")
        frame.wait_for_function(f"() => egoViewer.frame === {target} && !document.getElementById('video').seeking")
        [(_, grey)] = frame.evaluate(SAMPLE_PICTURES_JS, 0)
        assert abs(grey / RAMP_STEP - target) < 0.5, f"after seeking to {target} the picture is {grey / RAMP_STEP:.2f}"


def test_overlay_frame_matches_the_picture_while_playing_and_seeking(page, server: str, root: Path):  # noqa: ANN001
    _open(page, f"{server}/viewer?clip={_clip_id(root, task_contains='grey_ramp')}")
    frame = viewer_frame(page)
    frame.wait_for_function("() => window.egoViewer.ready", timeout=30_000)
    frame.evaluate("() => egoViewer.togglePlay()")
    assert_playing_frames_match_pictures(frame, 15)
    frame.evaluate("() => { const v = document.getElementById('video'); if (!v.paused) v.pause(); }")
    assert_seeks_land_on_their_pictures(frame, (3, 17, 4, 19, 0))


def test_variable_frame_rate_clip_draws_the_frame_on_screen(page, server: str, root: Path):  # noqa: ANN001
    """The player maps time to frame through the clip's real frame times (f / fps is up to 2 s off here)."""
    _open(page, f"{server}/viewer?clip={_clip_id(root, task_contains='vfr_grey_ramp')}")
    frame = viewer_frame(page)
    frame.wait_for_function("() => window.egoViewer.ready", timeout=30_000)
    assert_seeks_land_on_their_pictures(frame, (3, 12, 6, 19, 15, 0))
    frame.evaluate("() => egoViewer.togglePlay()")
    assert_playing_frames_match_pictures(frame, 12)
