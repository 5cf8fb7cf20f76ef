"""A data root with the real fixtures ingested (EgoDex pairs, a plain video, a GR00T LeRobot set)."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.engine import query_engine
from db.queries.views import list_clips
from db.view_spec import ViewSpec


@pytest.fixture(scope="session")
def app_root(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    from labeling.sources.ingest import ingest

    root = tmp_path_factory.mktemp("app") / "root"
    report = ingest(root, [shared_data / "egodex_sample", shared_data / "videos",
                           shared_data / "lerobot" / "gr00t_robot_sim.PickNPlace"], progress=False)
    assert report.ok and not report.failures
    return root


def first_clip(root: Path, **filters: object) -> dict:
    rows = list_clips(query_engine(root), ViewSpec(**filters), limit=1)
    assert not rows.empty, f"no clip matches {filters}"
    return rows.iloc[0].to_dict()


@pytest.fixture(scope="session")
def egodex_clip(app_root: Path) -> dict:
    """The EgoDex 'basic_pick_and_place/0' clip (MPEG-4 Part 2, 1920x1080, 126 frames)."""
    return first_clip(app_root, sources=("egodex",), task_contains="stapler")


@pytest.fixture(scope="session")
def robot_clip(app_root: Path) -> dict:
    return first_clip(app_root, kinds=("robot",))
