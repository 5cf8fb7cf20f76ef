"""Drive the real app in headless Chromium: start the server, open pages, reach the viewer's iframe.

Used by the browser tests and by `bench/bench_viewer.py` / `bench/bench_clips_page.py`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from app.launch import server_command

CHROMIUM = os.environ.get("EGOCURATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]
SERVER_START_TIMEOUT_S = 40.0
VIEWPORT = {"width": 1440, "height": 1000}


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when there is none on this machine."""
    found = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def app_server(root: Path, log_file: Path | None = None) -> Iterator[str]:
    """Serve the app on `root` (the same command as `egocurate app`); yields its base URL."""
    port = free_port()
    command, env = server_command(root, port)
    log = open(log_file, "w") if log_file else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    # Its own session, so stopping it stops uvicorn and anything it started, and nothing else.
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        if log_file:
            log.close()


def _wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app server exited with code {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the app server did not answer on {url} within {SERVER_START_TIMEOUT_S:g} s")


def launch_chromium(playwright):  # noqa: ANN001, ANN201 (playwright's sync API objects)
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)


def wait_idle(page, timeout_ms: float = 30_000) -> None:  # noqa: ANN001
    """Wait until Streamlit has finished the current run (the app is drawn and not running)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(
        """() => { const app = document.querySelector('[data-testid="stApp"]');
                   return app && app.getAttribute('data-test-script-state') === 'notRunning'; }""",
        timeout=timeout_ms)


def viewer_frame(page, timeout_ms: float = 30_000):  # noqa: ANN001, ANN201
    """The viewer component's iframe (a playwright Frame) once its player script has started."""
    handle = page.wait_for_selector('iframe[title="st.iframe"]', timeout=timeout_ms)
    frame = handle.content_frame()
    frame.wait_for_function("() => window.egoViewer !== undefined", timeout=timeout_ms)
    return frame


THUMBS_LOADED_JS = """() => { const imgs = [...document.querySelectorAll('img[src*="/thumbs/"]')];
                               return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }"""
OVERLAY_INK_JS = """() => {
  const canvas = document.getElementById('overlay');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
  return ink;
}"""


def overlay_ink(frame) -> int:  # noqa: ANN001
    """Pixels of the overlay canvas that something was drawn on."""
    return int(frame.evaluate(OVERLAY_INK_JS))
