"""Page latency with several curators at once: K browser sessions cycling through the app's pages
while writer processes keep deciding flags.

    .venv/bin/python bench/bench_browser_load.py [--sessions 6] [--rounds 4] [--writers 2] [--store sqlite]

Builds a small demo set (`app.demo.build_demo`) with rule flags on every human clip, serves
the app on it (`tests/browser/harness.py`, as `egocurate app` does) and opens `--sessions` browser
contexts in one headless Chromium at once. Each session, `--rounds` times, opens Overview, Clips,
Clip viewer (a different clip each round) and Review, timing from navigation to the page's own
element drawn and the Streamlit run finished (Overview: a chart; Clips: the pager; viewer: the
player ready; Review: the queue). Meanwhile `--writers` processes confirm, dismiss and re-open the
flags (each on the version it read, ~20 writes/s each), so pages keep reloading the store.
`--store postgresql` puts the annotation store on a throwaway local PostgreSQL (`tests/postgres.py`).
One warm-up pass is not counted. Prints p50/p95 per page; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.paths import DB_URL_ENV  # noqa: E402
from tests.browser.harness import CHROMIUM_ARGS, VIEWPORT, app_server, chromium_path  # noqa: E402

DEMO = {"n_human": 6, "n_robot": 2, "width": 320, "height": 240}
WRITE_PAUSE_S = 0.05  # between one writer's decisions
PAGE_TIMEOUT_MS = 120_000
IDLE_JS = """() => { const app = document.querySelector('[data-testid="stApp"]');
                     return app && app.getAttribute('data-test-script-state') === 'notRunning'; }"""
# Each page's own element, visible once the page has drawn its data.
READY = {
    "Overview": """() => !!document.querySelector('[data-testid="stPlotlyChart"] .main-svg')""",
    "Clips": """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
                       .some(e => e.innerText.includes('clips match'))""",
    "Clip viewer": """() => { const f = document.querySelector('iframe[title="st.iframe"]');
                              const w = f && f.contentWindow; return !!(w && w.egoViewer && w.egoViewer.ready); }""",
    "Review": """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
                        .some(e => /Flag \\d+ of|Nothing to review/.test(e.innerText))""",
}


def build_root(root: Path) -> tuple[list[str], list[int]]:
    """The demo set with one rule flag per human clip; returns (human clip ids, flag ids)."""
    from app.demo import build_demo
    from curation.flags import create_flag
    from db.engine import query_engine
    from db.queries.views import list_clips
    from db.view_spec import ViewSpec

    build_demo(root, seed=0, progress=False, **DEMO)
    clips = list(list_clips(query_engine(root), ViewSpec(kinds=("human",)), limit=100)["clip_id"])
    flags = [create_flag(root, c, "hands leave the frame", "rules", severity="error", origin="rule",
                         rule="presence").id for c in clips]
    return clips, flags


def flag_writer(root: str, url: str | None, name: str, flag_ids: list[int], stop, counts) -> None:  # noqa: ANN001
    """A CLI-like writer: decide flags on the version read, until `stop`; puts (writes, refused)."""
    if url:
        os.environ[DB_URL_ENV] = url
    from curation.flags import StaleUpdateError, get_flag, set_flag_state

    rng, writes, refused = random.Random(name), 0, 0
    while not stop.is_set():
        flag = get_flag(Path(root), rng.choice(flag_ids))
        target = rng.choice([s for s in ("confirmed", "dismissed", "proposed") if s != flag.state])
        try:
            set_flag_state(Path(root), flag.id, target, name, expected_version=flag.version)
            writes += 1
        except StaleUpdateError:
            refused += 1
        time.sleep(WRITE_PAUSE_S)
    counts.put((writes, refused))


async def timed_open(page, url: str, name: str) -> float:  # noqa: ANN001 (playwright async Page)
    started = time.perf_counter()
    await page.goto(url)
    await page.wait_for_function(READY[name], timeout=PAGE_TIMEOUT_MS)
    await page.wait_for_function(IDLE_JS, timeout=PAGE_TIMEOUT_MS)
    return time.perf_counter() - started


async def session(browser, base: str, clips: list[str], rounds: int, offset: int,  # noqa: ANN001
                  timings: dict[str, list[float]], problems: list[str]) -> None:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    for k in range(rounds):
        urls = {"Overview": f"{base}/", "Clips": f"{base}/clips",
                "Clip viewer": f"{base}/viewer?clip={clips[(offset + k) % len(clips)]}", "Review": f"{base}/review"}
        for name, url in urls.items():
            try:
                timings[name].append(await timed_open(page, url, name))
            except Exception as exc:  # noqa: BLE001 (a bench reports every failure and goes on)
                problems.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            if await page.locator('[data-testid="stException"]').count():
                problems.append(f"{name}: the page shows an exception")
    await context.close()


async def browse(base: str, clips: list[str], sessions: int, rounds: int) -> tuple[dict, list[str], float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        warm: dict[str, list[float]] = {name: [] for name in READY}
        await session(browser, base, clips, 1, 0, warm, [])  # imports, caches, plotly bundle: not counted
        timings: dict[str, list[float]] = {name: [] for name in READY}
        problems: list[str] = []
        started = time.perf_counter()
        await asyncio.gather(*(session(browser, base, clips, rounds, k, timings, problems) for k in range(sessions)))
        elapsed = time.perf_counter() - started
        await browser.close()
    return timings, problems, elapsed


@contextlib.contextmanager
def annotation_store(kind: str) -> Iterator[str | None]:
    """Sets `EGOCURATE_DB_URL` for PostgreSQL (the app server and the writers inherit it); yields the URL."""
    if kind == "sqlite":
        os.environ.pop(DB_URL_ENV, None)
        yield None
        return
    from tests.postgres import postgres_server

    with postgres_server() as server:
        url = server.url(server.create_database("browser"))
        os.environ[DB_URL_ENV] = url
        try:
            yield url
        finally:
            os.environ.pop(DB_URL_ENV, None)


def ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=6, help="simultaneous browser sessions")
    parser.add_argument("--rounds", type=int, default=4, help="passes over the four pages per session")
    parser.add_argument("--writers", type=int, default=2, help="flag-writing processes meanwhile")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-browser-load-") as tmp, annotation_store(args.store) as url:
        root = Path(tmp) / "root"
        clips, flags = build_root(root)
        with app_server(root, log_file=Path(tmp) / "server.log") as base:
            stop, counts = context.Event(), context.Queue()
            writers = [context.Process(target=flag_writer, args=(str(root), url, f"cli{k}", flags, stop, counts))
                       for k in range(args.writers)]
            for writer in writers:
                writer.start()
            try:
                timings, problems, elapsed = asyncio.run(browse(base, clips, args.sessions, args.rounds))
            finally:
                stop.set()
            written = [counts.get(timeout=60) for _ in writers]
            for writer in writers:
                writer.join(timeout=30)
    writes, refused = sum(w for w, _ in written), sum(r for _, r in written)
    loads = sum(len(v) for v in timings.values())
    print(f"{args.sessions} browser sessions x {args.rounds} rounds x 4 pages on a demo set of {len(clips)} human "
          f"clips ({args.store} store), {args.writers} flag writers meanwhile: {writes} writes, {refused} stale "
          f"refused; {loads} page loads in {elapsed:.0f} s; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")
    print("| page | loads | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, values in timings.items():
        top = max(values) * 1000 if values else float("nan")
        print(f"| {name} | {len(values)} | {ms(values, 50):.0f} | {ms(values, 95):.0f} | {top:.0f} |")
    print(f"problems: {len(problems)}")
    for problem in problems[:20]:
        print(f"  {problem}")


if __name__ == "__main__":
    main()
