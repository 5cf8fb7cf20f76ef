"""Start the Streamlit server on a data root with the settings of `streamlit_config.toml`."""

from __future__ import annotations

import contextlib
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


def launch(root: Path, port: int = 8501, host: str | None = None) -> None:
    """Run the server in the foreground until interrupted."""
    command, env = server_command(root, port, host)
    print(f"EgoCurate on {root}: http://{host or '127.0.0.1'}:{port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(command, env=env, check=False)
