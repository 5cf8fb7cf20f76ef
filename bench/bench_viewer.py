"""Clip viewer latency for a 1080p clip, measured in real headless Chromium.

    .venv/bin/python bench/bench_viewer.py [--runs 5]

Serves the app (the same command as `egocurate app`) on a fresh data root with the EgoDex fixture
`basic_pick_and_place/0` (1920x1080 MPEG-4 Part 2, 126 frames, ground-truth hand poses), then opens
`/viewer?clip=<id>` in a new browser context per run (no HTTP cache) and reports, from the
navigation start of the page:

- player page starts: Streamlit has run the page and the player's iframe begins loading;
- time to first frame: the first video frame on screen with its skeleton drawn (the first
  requestVideoFrameCallback of the player, or its `loadeddata` when that comes first);
- time to interactive: the player has answered a frame step: ArrowRight is pressed as soon as
  the player is ready, and the clock stops when frame 1 has been drawn;
- step latency: ArrowRight pressed -> the next frame drawn, on a warm page;
- playback: frames presented (and skeletons drawn) in 2 s of playing, against the clip's 30 fps.

"Cold" runs delete the cached H.264 proxy first (so they include transcoding the MPEG-4 source);
"warm" runs find it cached. Figures are printed, nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from db import paths  # noqa: E402
from tests.browser.harness import VIEWPORT, app_server, launch_chromium, viewer_frame, wait_idle  # noqa: E402

FIXTURE = REPO.parent / "shared" / "data" / "egodex_sample" / "basic_pick_and_place"
PLAY_S = 2.0


def ingest_fixture(root: Path) -> tuple[str, dict]:
    from db.engine import query_engine
    from db.queries.views import list_clips
    from db.view_spec import ViewSpec
    from labeling.sources.ingest import ingest

    report = ingest(root, [FIXTURE], progress=False)
    if not report.ok:
        raise SystemExit(f"cannot ingest {FIXTURE}: {report.failures}")
    clip = list_clips(query_engine(root), ViewSpec(sources=("egodex",)), limit=1).iloc[0].to_dict()
    return clip["clip_id"], clip


def one_run(browser, url: str) -> dict[str, float]:  # noqa: ANN001 (playwright Browser)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(url, wait_until="commit")
        origin = page.evaluate("performance.timeOrigin")
        frame = viewer_frame(page, timeout_ms=120_000)
        frame.wait_for_function("() => egoViewer.ready", timeout=120_000)
        frame.locator("#stage").focus()
        page.keyboard.press("ArrowRight")
        frame.wait_for_function("() => egoViewer.frame === 1")
        timing = frame.evaluate("() => ({first: egoViewer.firstFrameEpochMs, ready: egoViewer.readyEpochMs,"
                                " stepped: egoViewer.renderEpochMs, start: performance.timeOrigin})")
        first = min(t for t in (timing["first"], timing["ready"]) if t is not None)
        steps = []
        for target in range(2, 7):
            started = frame.evaluate("() => performance.timeOrigin + performance.now()")
            page.keyboard.press("ArrowRight")
            frame.wait_for_function(f"() => egoViewer.frame === {target}")
            steps.append(frame.evaluate("() => egoViewer.renderEpochMs") - started)
        presented = frame.evaluate("() => egoViewer.presented")
        frame.evaluate("() => egoViewer.togglePlay()")
        time.sleep(PLAY_S)
        played = frame.evaluate("() => egoViewer.presented") - presented
        return {"player_ms": timing["start"] - origin, "first_frame_ms": first - origin,
                "interactive_ms": timing["stepped"] - origin,
                "step_ms": statistics.median(steps), "frames_in_2s": played}
    finally:
        context.close()


def shell_run(browser, url: str) -> float:  # noqa: ANN001 (playwright Browser)
    """Navigation start -> the SQL page (no data work) drawn: what Streamlit itself costs."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(url, wait_until="commit")
        wait_idle(page, timeout_ms=60_000)
        return page.evaluate("performance.now()")
    finally:
        context.close()


def summarize(label: str, runs: list[dict[str, float]]) -> str:
    def cell(key: str, fmt: str) -> str:
        values = [r[key] for r in runs]
        return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"

    return (f"| {label:<5} | {len(runs)} | {cell('player_ms', '{:.0f}')} | {cell('first_frame_ms', '{:.0f}')} "
            f"| {cell('interactive_ms', '{:.0f}')} "
            f"| {cell('step_ms', '{:.0f}')} | {cell('frames_in_2s', '{:.0f}')} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="page loads per condition")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-viewer-") as tmp:
        root = Path(tmp) / "root"
        clip_id, clip = ingest_fixture(root)
        proxy = paths.proxy_path(root, clip_id)
        with app_server(root) as base, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            url = f"{base}/viewer?clip={clip_id}"
            one_run(browser, url)  # warms the server process (imports, caches), not counted
            results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
            shell = []
            for _ in range(args.runs):
                proxy.unlink(missing_ok=True)
                results["cold"].append(one_run(browser, url))
                results["warm"].append(one_run(browser, url))
                shell.append(shell_run(browser, f"{base}/sql"))
            browser.close()
    print(f"Clip viewer, {clip['width']}x{clip['height']} {clip['codec']} clip, {clip['n_frames']} frames at "
          f"{clip['fps']:g} fps, headless Chromium, median (min-max) of {args.runs} runs")
    print("cold = H.264 proxy made on this load; warm = proxy cached; times from navigation start, ms")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    print("| proxy | runs | player page starts ms | first frame ms | interactive ms | frame step ms "
          "| frames shown in 2 s |")
    print("|---|---|---|---|---|---|---|")
    for label, runs in results.items():
        print(summarize(label, runs))
    print(f"for scale: Streamlit's own shell (the SQL page, no data) is drawn {statistics.median(shell):.0f} ms "
          f"({min(shell):.0f}-{max(shell):.0f}) after navigation start")


if __name__ == "__main__":
    main()
