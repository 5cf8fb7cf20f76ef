"""Start the Streamlit server on a data root with the settings of `streamlit_config.toml`.

The server runs as a child process; the launcher passes SIGTERM, SIGINT and SIGHUP on to it and
waits for it, so stopping `egocurate app` (kill, Ctrl-C, a closed terminal) stops the server too.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

from db import paths

APP_DIR = Path(__file__).resolve().parent
CONFIG_FILE = APP_DIR.parent / "streamlit_config.toml"
SERVE_SCRIPT = APP_DIR / "serve.py"


def config_flags(config_file: Path = CONFIG_FILE, **overrides: object) -> list[str]:
    """`--section.key=value` flags for every setting in the TOML file, then the overrides."""
    settings: dict[str, object] = {}
    if config_file.is_file():
        for section, values in tomllib.loads(config_file.read_text()).items():
            for key, value in values.items():
                settings[f"{section}.{key}"] = value
    settings.update(overrides)
    return [f"--{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in settings.items()]


def server_command(root: Path, port: int, host: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that serve the app for `root`."""
    overrides: dict[str, object] = {"server.port": port}
    if host:
        overrides["server.address"] = host
    command = [sys.executable, "-m", "streamlit", "run", str(SERVE_SCRIPT), *config_flags(**overrides)]
    env = {**os.environ, paths.ROOT_ENV: str(root)}
    return command, env


class BindRefused(RuntimeError):
    """The app cannot be served as asked: reachable from other machines while anyone reaching it acts as admin,
    or on a port that is in use."""


class PortInUse(BindRefused):
    """Something (often an earlier `egocurate app`) already listens on the port."""


def check_port(port: int, host: str | None) -> None:
    """Refuse a port another server holds, before printing a URL that would show that server's data."""
    with socket.socket(socket.AF_INET6 if ":" in (host or "") else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is fine
        try:
            probe.bind(((host or "127.0.0.1").strip("[]"), port))
        except OSError as exc:
            raise PortInUse(f"port {port} on {host or '127.0.0.1'} is in use ({exc.strerror}): another server, "
                            "perhaps an earlier `egocurate app`, is running there; stop it or pick --port") from exc


def is_loopback(host: str | None) -> bool:
    """Whether `host` only accepts connections from this machine (None: the config's 127.0.0.1)."""
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False


def check_bind(root: Path, host: str | None) -> None:
    """Refuse a non-loopback address while the store has no users (open local mode)."""
    from db.auth import has_users

    if not is_loopback(host) and not has_users(root):
        raise BindRefused(
            f"refusing to serve on {host}: the store at {root} has no users, so the app runs in open local mode "
            "where anyone who reaches it acts as admin. Add one first (egocurate user add NAME --role admin) or "
            "bind to 127.0.0.1.")


FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_WAIT_S = 15.0  # how long a stopped server may take to shut down before it is killed


def run_forwarding_signals(command: list[str], env: dict[str, str]) -> tuple[int, bool]:
    """Run `command` until it exits, passing the signals that would stop this process on to it.

    Returns its exit code and whether it was stopped by a forwarded signal.
    """
    # Its own process group: a terminal's Ctrl-C reaches this process only, which passes it on once.
    process = subprocess.Popen(command, env=env, process_group=0)
    stopped = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopped
        stopped = True
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in FORWARDED_SIGNALS}
    try:
        return process.wait(), stopped
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if process.poll() is None:  # this process is going down some other way: never leave the server behind
            process.terminate()
            try:
                process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def launch(root: Path, port: int = 8501, host: str | None = None) -> None:
    """Run the server in the foreground until it exits or is stopped; BindRefused for an open store on a public
    address. Exits with the server's code when it fails by itself (a port in use, say)."""
    check_bind(root, host)
    check_port(port, host)
    command, env = server_command(root, port, host)
    print(f"EgoCurate on {root}: http://{host or '127.0.0.1'}:{port}", flush=True)
    code, stopped = run_forwarding_signals(command, env)
    if code != 0 and not stopped:
        raise SystemExit(code)
