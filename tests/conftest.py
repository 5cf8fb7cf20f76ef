"""Shared fixtures: real tiny data (generated here, or ../shared/data beside the checkout)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from db import paths
from db.store import dispose_engine
from labeling.media.video import write_h264
from tests.postgres import PostgresServer, postgres_bin, postgres_server

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EGOCURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`: always present in CI; a test may skip for its absence only outside CI."""
    if not (SHARED_DATA / "SOURCES.md").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"shared test data missing at {SHARED_DATA} (required in CI)")
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real local PostgreSQL for the session: required in CI, skipped elsewhere when not installed."""
    if postgres_bin() is None:
        reason = "PostgreSQL binaries not found (Debian package `postgresql`; make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required in CI)")
        pytest.skip(reason)
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test on each annotation store: the root's SQLite file, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        monkeypatch.delenv(paths.DB_URL_ENV, raising=False)
        yield "sqlite"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = server.create_database()
    url = server.url(name)
    monkeypatch.setenv(paths.DB_URL_ENV, url)  # spawned worker processes inherit it
    yield "postgresql"
    dispose_engine(url)
    server.drop_database(name)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fresh, empty data root."""
    return tmp_path / "root"


def make_video(path: Path, n_frames: int = 10, width: int = 64, height: int = 48, fps: float = 30.0,
               seed: int = 0) -> Path:
    """A real tiny H.264 clip with different content per seed (so content ids differ)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    frames = (np.roll(base, shift=i * 3, axis=1) for i in range(n_frames))
    return write_h264(path, frames, fps)


@pytest.fixture
def tiny_video(tmp_path: Path) -> Path:
    return make_video(tmp_path / "media" / "tiny.mp4")


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Streamlit's AppTest leaves `sys.modules['__main__']` pointing at the last page it ran; a spawn
    process pool started later (labelling workers) would then re-run that page as its main module and
    die. Put the real one back after every test."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def messy_catalog(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 (MessyCatalog)
    """The messy catalog (tests/messy_catalog.py) after every CLI stage ran over it: built once per session
    (~3 min on 2 cores). Read it, never write to it: other tests share it."""
    from tests.messy_catalog import build_messy_inputs, run_messy_stages

    work = tmp_path_factory.mktemp("messy")
    return run_messy_stages(work / "root", build_messy_inputs(work / "inputs", shared_data))
