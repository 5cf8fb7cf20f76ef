"""Label page: starts a real background labelling job and shows its live progress."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.components.label_jobs import fraction_done, job_row, label_choices
from db.engine import query_engine
from labeling.pose.label_jobs import job_status
from labeling.sources.ingest import ingest
from tests.conftest import make_video

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"


@pytest.fixture
def label_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    ingest(root, [make_video(tmp_path / "media" / f"noise{i}.mp4", n_frames=6, seed=i) for i in range(2)],
           progress=False)
    return root


def test_label_page_starts_a_job_that_finishes_in_the_background(label_root, monkeypatch):
    monkeypatch.setenv("EGOCURATE_HOME", str(label_root))
    choices = label_choices(query_engine(label_root))
    assert choices.human_clips == 2 and choices.labelled == 0 and len(choices.unlabelled_ids) == 2
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.switch_page("app_pages/label.py").run()
    assert not app.exception and app.title[0].value == "Label"
    assert [m.value for m in app.metric] == ["2", "0", "2"]
    app.session_state["label.workers"] = 1
    app.button[0].click().run()  # the form's submit button
    assert not app.exception
    job_id = app.session_state["label.job_id"]
    assert isinstance(job_id, int)
    deadline = time.monotonic() + 180
    while (progress := job_status(label_root, job_id)).state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert progress.state == "done", progress
    assert progress.n_done == 2 and fraction_done(progress) == 1.0
    assert job_row(progress)["clips"] == "2/2"
    assert label_choices(query_engine(label_root)).labelled == 2  # noise clips: labelled, no hands present
