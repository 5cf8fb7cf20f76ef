"""Start the Streamlit server on a data root with the settings of `streamlit_config.toml`."""

from __future__ import annotations

import contextlib
import ipaddress
import os
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
    """The app would be reachable from other machines while anyone reaching it acts as admin."""


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


def launch(root: Path, port: int = 8501, host: str | None = None) -> None:
    """Run the server in the foreground until interrupted; BindRefused for an open store on a public address."""
    check_bind(root, host)
    command, env = server_command(root, port, host)
    print(f"EgoCurate on {root}: http://{host or '127.0.0.1'}:{port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(command, env=env, check=False)
