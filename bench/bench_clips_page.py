"""Clips page latency at 100k clips, measured in real headless Chromium.

    .venv/bin/python bench/bench_clips_page.py [--clips 100000] [--runs 5]

Writes a generated catalog of `--clips` rows (CLIPS schema, through `db.lake.Lake(root).batch()`,
pointing at a few small generated H.264 videos so thumbnails are real), serves the app on it and,
in a new browser context per run, times from the user's action to the finished Streamlit run:

- first page: navigation to `/clips` -> the first page of cards drawn (count and pager shown);
- thumbnails: navigation -> every card's thumbnail loaded (made lazily by our route on first view);
- filter: typing a task word + Enter -> the filtered first page drawn (a different word per run,
  so neither DuckDB nor Streamlit's cache has seen it);
- next page: clicking Next -> page 2 of that filter drawn;
- sort: flipping Descending -> the re-sorted page drawn.

It also prints the DuckDB query times of the same page requests, called directly. Figures are
printed, nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from db.lake import Lake  # noqa: E402
from db.schemas import CLIPS  # noqa: E402
from labeling.media.video import write_h264  # noqa: E402
from tests.browser.harness import THUMBS_LOADED_JS, VIEWPORT, app_server, launch_chromium, wait_idle  # noqa: E402

VERBS = ("pick up", "place", "open", "close", "stack", "wipe", "pour", "fold", "insert", "rotate")
OBJECTS = ("cube", "cup", "lid", "drawer", "sponge", "towel", "bottle", "box", "spoon", "plate", "marker", "block")
PLACES = ("on the shelf", "into the bin", "on the mat", "in the sink", "onto the tray", "next to the lamp")
SOURCES = (("egodex", "human"), ("video", "human"), ("synthetic", "human"), ("lerobot", "robot"))
FILTER_WORDS = ("cube", "sponge", "drawer", "towel", "bottle", "marker", "spoon", "plate", "lid", "block")
N_VIDEOS = 8
PAGER_JS = """() => { const el = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
                        .find(e => e.innerText.includes('clips match')); return el ? el.innerText : null; }"""


def make_videos(folder: Path) -> list[str]:
    """A few small, visibly different H.264 clips for the thumbnails."""
    rng = np.random.default_rng(0)
    paths = []
    for k in range(N_VIDEOS):
        base = rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
        base[..., k % 3] = 200
        paths.append(str(write_h264(folder / f"video_{k}.mp4", (np.roll(base, i, axis=1) for i in range(30)), 30.0)))
    return paths


def write_catalog(root: Path, n: int, videos: list[str], seed: int = 0) -> None:
    """`n` generated clip rows, committed as one lake batch, one file per source."""
    rng = np.random.default_rng(seed)
    source_of = rng.integers(0, len(SOURCES), n)
    duration = np.round(np.clip(rng.lognormal(2.3, 0.8, n), 1.0, 180.0), 2)
    tasks = [f"{VERBS[a]} the {OBJECTS[b]} {PLACES[c]}" for a, b, c in
             zip(rng.integers(0, len(VERBS), n), rng.integers(0, len(OBJECTS), n), rng.integers(0, len(PLACES), n),
                 strict=True)]
    columns = {field.name: [None] * n for field in CLIPS}
    columns.update({
        "clip_id": [f"{i:016x}" for i in rng.permutation(n * 7)[:n]],
        "kind": [SOURCES[s][1] for s in source_of], "source": [SOURCES[s][0] for s in source_of],
        "path": [videos[i % len(videos)] for i in range(n)], "fps": [30.0] * n,
        "n_frames": (duration * 30).astype(np.int64).tolist(), "duration_s": duration.tolist(),
        "width": [160] * n, "height": [120] * n, "codec": ["h264"] * n, "task": tasks,
        "task_slug": [f"task_{i % 60:02d}" for i in range(n)], "video_from_s": [0.0] * n,
        "video_to_s": [30 / 30.0] * n,
    })
    table = pa.Table.from_pydict(columns, schema=CLIPS)
    with Lake(root).batch(stage="clips", generated=n) as batch:
        for source, _ in SOURCES:
            batch.write("clips", table.filter(pa.compute.equal(table["source"], source)), {"source": source})


def pager_text(page) -> str | None:  # noqa: ANN001 (playwright Page)
    return page.evaluate(PAGER_JS)


def after(page, action, changed_from: str | None) -> float:  # noqa: ANN001
    """Seconds from `action()` until the pager text differs from `changed_from` and the run is over."""
    started = time.perf_counter()
    action()
    changed = f"() => {{ const t = ({PAGER_JS})(); return t !== null && t !== {json.dumps(changed_from)}; }}"
    page.wait_for_function(changed, timeout=60_000)
    wait_idle(page, timeout_ms=60_000)
    return time.perf_counter() - started


def one_run(browser, url: str, word: str) -> dict[str, float]:  # noqa: ANN001 (playwright Browser)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        started = time.perf_counter()
        first = after(page, lambda: page.goto(f"{url}/clips"), None)
        page.wait_for_function(THUMBS_LOADED_JS, timeout=60_000)
        thumbs = time.perf_counter() - started
        box = page.get_by_label("Task contains")
        filtered = after(page, lambda: (box.fill(word), box.press("Enter")), pager_text(page))
        next_page = after(page, lambda: page.get_by_role("button", name="Next").click(), pager_text(page))
        before = page.locator('img[src*="/thumbs/"]').first.get_attribute("src")
        started = time.perf_counter()
        page.get_by_text("Descending").click()
        page.wait_for_function(f"""() => {{ const img = document.querySelector('img[src*="/thumbs/"]');
                                    return img && img.getAttribute('src') !== {json.dumps(before)}; }}""",
                               timeout=60_000)
        wait_idle(page, timeout_ms=60_000)
        resorted = time.perf_counter() - started
        return {"first": first, "thumbs": thumbs, "filter": filtered, "next": next_page, "sort": resorted}
    finally:
        context.close()


def duckdb_times(root: Path, words: list[str]) -> dict[str, float]:
    """Median seconds of the page's queries, called directly (no Streamlit, no cache)."""
    from db.engine import query_engine
    from db.queries.clips import clip_facets
    from db.queries.views import clip_page
    from db.view_spec import ViewSpec

    engine = query_engine(root)
    clip_page(engine)  # views defined, files opened
    timed: dict[str, list[float]] = {"facets": [], "first page": [], "filter": [], "page 2": [], "sort desc": []}
    for word in words:
        for name, call in (("facets", lambda: clip_facets(engine)), ("first page", lambda: clip_page(engine)),
                           ("filter", lambda w=word: clip_page(engine, ViewSpec(task_contains=w))),
                           ("page 2", lambda w=word: clip_page(engine, ViewSpec(task_contains=w), page=1)),
                           ("sort desc", lambda w=word: clip_page(engine, ViewSpec(task_contains=w, descending=True),
                                                                  page=1))):
            started = time.perf_counter()
            call()
            timed[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timed.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100_000, help="clips in the generated catalog")
    parser.add_argument("--runs", type=int, default=5, help="browser sessions measured")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-clips-") as tmp:
        root = Path(tmp) / "root"
        started = time.perf_counter()
        write_catalog(root, args.clips, make_videos(Path(tmp) / "media"))
        print(f"catalog: {args.clips:,} clips written in {time.perf_counter() - started:.1f} s")
        words = [FILTER_WORDS[i % len(FILTER_WORDS)] for i in range(args.runs + 1)]
        with app_server(root) as url, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            one_run(browser, url, words[-1])  # warms the server (imports, views, plotly), not counted
            runs = [one_run(browser, url, word) for word in words[:-1]]
            browser.close()
        direct = duckdb_times(root, words[:-1])
    print(f"Clips page at {args.clips:,} clips, headless Chromium, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; median (min-max) of {args.runs} sessions, ms")
    print("| step | browser, action to page drawn | DuckDB alone |")
    print("|---|---|---|")
    rows = (("first page", "first", "first page"), ("thumbnails loaded", "thumbs", None),
            ("filter by task text", "filter", "filter"), ("next page", "next", "page 2"),
            ("sort descending", "sort", "sort desc"))
    for label, key, query in rows:
        values = [r[key] * 1000 for r in runs]
        alone = f"{direct[query] * 1000:.0f}" if query else "-"
        print(f"| {label} | {statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f}) | {alone} |")
    print(f"| (facets: kinds, sources, longest clip) | - | {direct['facets'] * 1000:.0f} |")


if __name__ == "__main__":
    main()
