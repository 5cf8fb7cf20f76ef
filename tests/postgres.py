"""A throwaway local PostgreSQL server (Debian's binaries) for the store tests and the load bench.

    with postgres_server() as server:
        url = server.url(server.create_database())   # postgresql+psycopg://postgres@127.0.0.1:PORT/NAME

The cluster lives in a fresh temp dir (data, unix socket, log) and is removed on exit. initdb
refuses to run as root, so under root the server runs as the `postgres` system user that Debian's
package creates; clients connect over TCP on 127.0.0.1 with trust auth. `make test` installs the
package; `postgres_bin()` is None where it is absent.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

PG_BIN_ENV = "EGOCURATE_PG_BIN"  # a folder holding initdb and pg_ctl, to use instead of Debian's
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"  # the unprivileged account that runs the server when we are root
START_TIMEOUT_S = 60
MAX_CONNECTIONS = 200  # each test database's engine pools a few, and load runs add one per process


def postgres_bin() -> Path | None:
    """The folder with `initdb` and `pg_ctl`: `$EGOCURATE_PG_BIN`, else Debian's newest, else PATH's."""
    candidates = [Path(p) for p in [os.environ.get(PG_BIN_ENV)] if p]
    debian = sorted(Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/")), key=lambda p: int(p.parent.name)
                    if p.parent.name.isdigit() else 0, reverse=True)
    candidates += debian
    if found := shutil.which("pg_ctl"):
        candidates.append(Path(found).parent)
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


@dataclass
class PostgresServer:
    """A running server; `url(name)` is what `EGOCURATE_DB_URL` takes."""

    port: int
    folder: Path
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        return psycopg.connect(host="127.0.0.1", port=self.port, user=SERVER_USER, dbname="postgres",
                               autocommit=True)

    def create_database(self, prefix: str = "store") -> str:
        """A new empty database, named uniquely for this server's lifetime; returns its name."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any session still connected to it."""
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(_as_server_user(command), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"PostgreSQL {what} failed ({result.returncode}): {result.stderr or result.stdout}")


@contextlib.contextmanager
def postgres_server(durable: bool = False) -> Iterator[PostgresServer]:
    """Start a fresh cluster on a free port; stop it and delete its files on exit.

    Args:
        durable: keep PostgreSQL's default fsync-on-commit. Off (the default, for tests), commits
            skip fsync, as SQLite's WAL with `synchronous=NORMAL` does: safe against a process
            crash, not against a power cut.
    """
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise FileNotFoundError(f"no PostgreSQL binaries (initdb, pg_ctl) under {DEBIAN_BIN_GLOB} or on PATH; "
                                "install Debian's `postgresql` package (make test does)")
    folder = Path(tempfile.mkdtemp(prefix="egocurate-pg-"))
    data, port = folder / "data", free_port()
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_USER)
        os.chown(folder, account.pw_uid, account.pw_gid)
    options = [f"-p {port}", f"-k {folder}", "-c listen_addresses=127.0.0.1",
               f"-c max_connections={MAX_CONNECTIONS}"]
    if not durable:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SERVER_USER, "--auth=trust", "-E", "UTF8",
              "--no-sync", "--no-instructions"], "initdb")
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", " ".join(options),
              "-w", "-t", str(START_TIMEOUT_S), "start"], "start")
        try:
            yield PostgresServer(port, folder)
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
