"""The Ray path of the executor seam, against a local Ray instance (as CI runs it)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from db.engine import QueryEngine
from db.queries.frames import clip_frames
from labeling.executor import RayExecutor
from labeling.pose.label import run_label
from labeling.sources.ingest import ingest
from tests.conftest import make_video

if os.environ.get("CI"):
    import ray  # required in CI: the Ray path must be tested there
else:
    ray = pytest.importorskip("ray")


def root_of(value: float) -> float:
    """A Python function (Ray refuses builtins), importable by the Ray workers."""
    return math.sqrt(value)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_executor_returns_values_and_errors(local_ray):
    executor = RayExecutor()
    outcomes = {o.item: o for o in executor.map_unordered(root_of, [4.0, -1.0, 9.0])}
    executor.close()
    assert ray.is_initialized(), "an instance the caller started is left running"
    assert outcomes[4.0].value == 2.0 and outcomes[9.0].value == 3.0
    assert isinstance(outcomes[-1.0].error, ValueError)


def test_label_stage_on_ray(local_ray, shared_data, root, tmp_path):
    inputs = [shared_data / "videos" / "dexretargeting_human_hand_video.mp4", make_video(tmp_path / "noise.mp4")]
    ingest(root, inputs, progress=False)
    report = run_label(root, stride=20, executor="ray", workers=2, progress=False)
    assert len(report.done) == 2 and not report.failures
    assert report.frames == 32 + 1  # frames 0, 20, ..., 620 of the dex clip; frame 0 of the 10-frame one
    engine = QueryEngine(root)
    by_rows = {len(clip_frames(engine, clip_id, "mediapipe")): clip_id for clip_id in report.done}
    dex = clip_frames(engine, by_rows[2 * 32], "mediapipe")
    assert dex.loc[dex["hand"] == "right", "present"].mean() >= 0.95
    first = dex.loc[dex["present"], "kp3d_m"].iloc[0]
    assert np.isfinite(np.array([np.asarray(p) for p in first])).all()
    assert not clip_frames(engine, by_rows[2], "mediapipe")["present"].any()
    again = run_label(root, executor="ray", progress=False)
    assert again.done == [] and sorted(again.skipped) == sorted(report.done)
