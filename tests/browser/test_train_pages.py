"""End to end in headless Chromium: the Train and Scaling pages on a root with a finished run and a finished
scaling run.

Screenshots land in the test's tmp dir and in `bench/out/browser/` (gitignored) for a human look:
`page-train.png` must show the runs table, four curve panels and the checkpoints; `page-scaling.png`
a, b (with its interval), R² and r, the fit (each seed, the seed means with their spread and the line on a
log-hours axis), the transfer plot (robot loss against human loss) and the table of runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser.harness import VIEWPORT, app_server, chromium_path, launch_chromium, wait_idle
from tests.trainer.trained_root import trained_root
from trainer.runs import list_runs
from trainer.scaling import read_scaling

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_path() is None, reason="no chromium on this machine (make chromium)")]

OUT_DIR = Path(__file__).resolve().parents[2] / "bench" / "out" / "browser"
TALL_PX = 1900  # the whole page in one screenshot (Streamlit scrolls its own container, not the document)
# Plotly has drawn a chart when its SVG holds traces: `n` charts, each with at least `points` markers or a line.
CHARTS_DRAWN = """([n, points]) => { const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  return charts.length >= n && charts.every(c => c.querySelectorAll('.scatterlayer .trace').length > 0
                                                && c.querySelectorAll('.point, path.js-line').length >= points); }"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_root(tmp_path_factory.getbasetemp())


def _save(page, name: str, tmp_path: Path) -> None:  # noqa: ANN001 (playwright Page)
    page.screenshot(path=str(tmp_path / name))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / name, OUT_DIR / name)


def test_train_and_scaling_pages_draw_their_charts(root: Path, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    result = read_scaling(list_runs(root, "scaling")[0].out_dir)
    with app_server(root, log_file=tmp_path / "server.log") as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT | {"height": TALL_PX})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        page.goto(f"{url}/train")
        wait_idle(page, timeout_ms=90_000)  # the first visit imports torch to name the device
        page.get_by_role("heading", name="Train").first.wait_for()
        page.wait_for_function(CHARTS_DRAWN, arg=[1, 3])
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator('[data-testid="stDataFrame"]').count() == 2  # the runs, the checkpoints
        page.locator(".gtitle, .annotation-text").filter(has_text="validation MSE per embodiment").first.wait_for()
        _save(page, "page-train.png", tmp_path)

        page.goto(f"{url}/scaling")
        wait_idle(page, timeout_ms=90_000)
        page.get_by_role("heading", name="Scaling").first.wait_for()
        page.wait_for_function(CHARTS_DRAWN, arg=[2, 3])  # the fit and the transfer plot
        assert page.locator('[data-testid="stException"]').count() == 0
        metrics = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
        fit = result.fit
        assert metrics[:4] == [f"{fit.a:.4f}", f"{fit.b:.4f}", f"[{fit.b_low:.3f}, {fit.b_high:.3f}]", f"{fit.r2:.4f}"]
        assert page.locator(".legendtext").filter(has_text="R² =").count() == 1  # the fitted line's legend
        assert page.locator(".legendtext").filter(has_text="r = ").count() == 1  # the transfer line's legend
        _save(page, "page-scaling.png", tmp_path)
        browser.close()
    assert not errors, errors
