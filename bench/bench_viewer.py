"""Clip viewer latency for a 1080p clip, measured in real headless Chromium.

    .venv/bin/python bench/bench_viewer.py [--runs 5]

Ingests copies of the EgoDex fixture `basic_pick_and_place/0` (1920x1080 MPEG-4 Part 2, 126
frames, ground-truth hand poses; each copy one more MP4 `free` box, so a clip of its own) the way
`egocurate ingest` does, which starts the job making their H.264 proxies, and waits for it. Then it
serves the app (the same command as `egocurate app`) and opens `/viewer?clip=<id>` in a new browser
context per run (no HTTP cache), reporting, from the navigation start of the page:

- player page starts: Streamlit has run the page and the player's iframe begins loading;
- time to first frame: the first video frame on screen with its skeleton drawn (the first
  requestVideoFrameCallback of the player, or its `loadeddata` when that comes first);
- time to interactive: the player has answered a frame step: ArrowRight is pressed as soon as
  the player is ready, and the clock stops when frame 1 has been drawn;
- step latency: ArrowRight pressed -> the next frame drawn, on a warm page;
- playback: frames presented (and skeletons drawn) in 2 s of playing, against the clip's 30 fps.

"Never viewed" runs open a clip the server has not shown before (its proxy made at ingest, checked
untouched); "warm" runs open the same clip again. Streamlit's own shell is timed in the same run,
two ways: the SQL page (no data; its column reference is an interactive grid) and the viewer page
with no clip (a message and a text box); the targets are first frame <= shell + 300 ms warm and
<= shell + 1 s never viewed. Figures are printed, nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import struct
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


def fixture_copies(folder: Path, n: int) -> Path:
    """`n` EgoDex pairs `basic_pick_and_place/<k>.mp4/.hdf5`, each video the fixture plus one `free` box."""
    task = folder / FIXTURE.name
    task.mkdir(parents=True)
    for k in range(n):
        note = f"egocurate bench copy {k}".encode()
        video = task / f"{k}.mp4"
        shutil.copyfile(FIXTURE / "0.mp4", video)
        with open(video, "ab") as handle:  # a top-level box players skip; the content hash changes
            handle.write(struct.pack(">I", 8 + len(note)) + b"free" + note)
        shutil.copyfile(FIXTURE / "0.hdf5", task / f"{k}.hdf5")
    return folder


def ingest_fixture(root: Path, folder: Path) -> list[dict]:
    """Ingest the copies as `egocurate ingest` does and wait for their proxies; the clip rows, by path."""
    from db.engine import query_engine
    from db.queries.views import list_clips
    from db.view_spec import ViewSpec
    from labeling.media.proxy_jobs import proxy_jobs
    from labeling.sources.ingest import ingest

    started = time.perf_counter()
    report = ingest(root, [folder], progress=False, make_proxies=True)
    if not report.ok or report.proxy_job_id is None:
        raise SystemExit(f"cannot ingest {folder}: {report.failures}")
    while (job := proxy_jobs(root)[0]).state in ("queued", "running"):
        time.sleep(0.2)
    print(f"ingest + proxy job: {len(report.added)} clips catalogued and {job.n_done} proxies made "
          f"({job.state}) in {time.perf_counter() - started:.1f} s, in the background of the ingest")
    clips = list_clips(query_engine(root), ViewSpec(sources=("egodex",)), limit=None)
    return sorted(clips.to_dict("records"), key=lambda clip: clip["path"])


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

    return (f"| {label:<12} | {len(runs)} | {cell('player_ms', '{:.0f}')} | {cell('first_frame_ms', '{:.0f}')} "
            f"| {cell('interactive_ms', '{:.0f}')} "
            f"| {cell('step_ms', '{:.0f}')} | {cell('frames_in_2s', '{:.0f}')} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="page loads per condition")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-viewer-") as tmp:
        root = Path(tmp) / "root"
        clips = ingest_fixture(root, fixture_copies(Path(tmp) / "egodex", args.runs + 1))
        proxies = {c["clip_id"]: paths.proxy_path(root, c["clip_id"]) for c in clips}
        made_at = {clip_id: proxy.stat().st_mtime_ns for clip_id, proxy in proxies.items()}
        with app_server(root) as base, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            one_run(browser, f"{base}/viewer?clip={clips[0]['clip_id']}")  # warms the server process, not counted
            shell_run(browser, f"{base}/sql")
            results: dict[str, list[dict[str, float]]] = {"never viewed": [], "warm": []}
            shells: dict[str, list[float]] = {"the SQL page": [], "the viewer with no clip": []}
            for clip in clips[1:]:
                url = f"{base}/viewer?clip={clip['clip_id']}"
                results["never viewed"].append(one_run(browser, url))
                results["warm"].append(one_run(browser, url))
                shells["the SQL page"].append(shell_run(browser, f"{base}/sql"))
                shells["the viewer with no clip"].append(shell_run(browser, f"{base}/viewer"))
            browser.close()
        remade = [c for c, proxy in proxies.items() if proxy.stat().st_mtime_ns != made_at[c]]
    clip = clips[0]
    print(f"Clip viewer, {clip['width']}x{clip['height']} {clip['codec']} clip, {clip['n_frames']} frames at "
          f"{clip['fps']:g} fps, headless Chromium, median (min-max) of {args.runs} runs")
    print("never viewed = a clip the server has not shown, its proxy made at ingest; warm = the same clip again; "
          "times from navigation start, ms")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"
          f"{'; proxies remade by the viewer: ' + str(len(remade)) if remade else ''}")
    print("| clip | runs | player page starts ms | first frame ms | interactive ms | frame step ms "
          "| frames shown in 2 s |")
    print("|---|---|---|---|---|---|---|")
    for label, runs in results.items():
        print(summarize(label, runs))
    for shell_name, shell in shells.items():
        shell_ms = statistics.median(shell)
        print(f"Streamlit's own shell, {shell_name}: drawn {shell_ms:.0f} ms ({min(shell):.0f}-{max(shell):.0f}) "
              "after navigation start, in the same run")
        for label, budget in (("warm", 300), ("never viewed", 1000)):
            first = statistics.median(r["first_frame_ms"] for r in results[label])
            verdict = "within" if first - shell_ms <= budget else "OVER"
            print(f"  first frame, {label}: shell + {first - shell_ms:.0f} ms "
                  f"({verdict} the shell + {budget} ms target)")


if __name__ == "__main__":
    main()
