"""`egocurate app` as a user runs it: stopping the command stops the server it started; a busy port is refused."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.harness import free_port

START_TIMEOUT_S = 60.0


def _answers(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
        return response.status == 200
    return False


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


@contextlib.contextmanager
def app_command(root: Path, port: int):
    """`egocurate --root ROOT app --port PORT` in the background; yields the process once the server answers."""
    command = [sys.executable, "-m", "app.cli", "--root", str(root), "app", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    started = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(f"http://127.0.0.1:{port}"):
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.3)
        started = _children(process.pid)
        yield process
    finally:
        for pid in [process.pid, *started]:  # whatever the outcome, leave nothing running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_command_stops_the_server(tmp_path, signum):
    port = free_port()
    with app_command(tmp_path / "root", port) as process:
        server = _children(process.pid)
        assert server, "the launcher runs the server as its child"
        process.send_signal(signum)
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _answers(f"http://127.0.0.1:{port}") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _answers(f"http://127.0.0.1:{port}"), "the server outlived the command"
        assert not any(Path(f"/proc/{pid}").exists() for pid in server)


def test_a_port_in_use_is_refused_before_a_url_is_printed(tmp_path):
    port = free_port()
    with app_command(tmp_path / "first", port):
        result = subprocess.run([sys.executable, "-m", "app.cli", "--root", str(tmp_path / "second"), "app",
                                 "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr and "http://" not in result.stdout
