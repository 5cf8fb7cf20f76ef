"""Absent values and failures a user can act on, in the app and the CLI (issue 14).

Failures 3, 4 and 7 of the issue each have a regression test here (named `test_failure_<n>_...`);
they fail on the code before it.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from app.cli import main
from app.components import robot_overlay, viewer
from curation.noise import write_pose_clips
from db.engine import QueryEngine
from db.lake import Lake
from db.queries.clips import get_clip
from db.queries.door import absent_as_none, row_dict
from labeling.sources.base import frames_table
from labeling.sources.ingest import ingest
from tests.conftest import make_video
from tests.curation.conftest import pose_clip
from tests.factories import write_lerobot_v3

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"


def test_nulls_leave_the_door_as_none():
    con = duckdb.connect()
    frame = absent_as_none(con.execute("""SELECT * FROM (VALUES ('a', [1.0]::FLOAT[], 1, 1.5, true, '{}'::JSON),
                                          (NULL, NULL, NULL, NULL, NULL, NULL)) t(s, l, i, f, b, j)""").df())
    assert [frame[c].iloc[1] for c in ("s", "l", "i", "b", "j")] == [None] * 5
    assert np.isnan(frame["f"].iloc[1]) and frame["f"].dtype == np.float64  # numbers stay numeric
    assert row_dict(frame, 1) == dict.fromkeys("slifbj")
    assert frame["s"].iloc[0] == "a" and frame["i"].iloc[0] == 1


def test_a_clip_row_has_none_for_what_its_media_did_not_say(root, tmp_path):
    ingest(root, [make_video(tmp_path / "raw.mp4")], progress=False)
    engine = QueryEngine(root)
    clip_id = engine.cursor().execute("SELECT clip_id FROM clips").fetchone()[0]
    clip = get_clip(engine, clip_id)
    assert clip["task"] is None and clip["episode_index"] is None and clip["fx"] is None


def test_failure_3_joint_choices_with_frames_never_solved(root):
    write_pose_clips(root, [pose_clip("c", n_frames=4)])
    q = [[0.1] * 22, None, [0.2] * 22, None]  # frames where the hand was not found keep a NULL row
    table = pa.table({"clip_id": ["c"] * 4, "frame_index": np.arange(4, dtype=np.int32), "hand": ["right"] * 4,
                      "embodiment": ["egocurate_hand22"] * 4, "q_rad": pa.array(q, pa.list_(pa.float32())),
                      "wrist_pose": pa.array([[0.0] * 9 if v else None for v in q], pa.list_(pa.float32())),
                      "residual": pa.array([0.01, None, 0.01, None], pa.float32())})
    with Lake(root).batch() as batch:
        batch.write("retargets", table, {"embodiment": "egocurate_hand22"})
    choices = robot_overlay.joint_choices(QueryEngine(root), "c", "right", "egocurate_hand22")  # was: NAType len()
    assert len(choices["labels"]) == 22 and len(choices["default"]) == 6


def test_failure_4_dim_choices_of_a_robot_episode_without_state(root, tmp_path):
    dataset = write_lerobot_v3(tmp_path / "silent", lengths=(5,))
    info = json.loads((dataset / "meta" / "info.json").read_text())
    info["features"] = {k: v for k, v in info["features"].items() if k not in ("observation.state", "action")}
    (dataset / "meta" / "info.json").write_text(json.dumps(info))
    ingest(root, [dataset], progress=False)
    engine = QueryEngine(root)
    clip_id = engine.cursor().execute("SELECT clip_id FROM clips").fetchone()[0]
    assert viewer.robot_dim_choices(engine, clip_id) == {}  # was: float() argument must be ... not 'NAType'
    note = viewer.robot_vectors_note(get_clip(engine, clip_id))
    assert note.startswith("Video-only episode") and "--state-key" in note
    config = viewer.clip_viewer_config(engine, clip_id, dims={"state": [0], "action": [0]})
    assert config["series"] == []


def test_vector_labels_take_missing_or_broken_names():
    clip = {"extra": "not json", "state_names": None}
    assert viewer.vector_labels(clip, "state", 2) == ["state[0]", "state[1]"]
    assert viewer.robot_vectors_note({"kind": "robot", "extra": "{}", "state_key": None}) is None  # ingested before


def test_pages_show_no_tracebacks_by_configuration():
    config = tomllib.loads((APP.parents[1] / "streamlit_config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


def viewer_of(root: Path, clip_id: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("EGOCURATE_HOME", str(root))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["clip"] = clip_id
    at.switch_page("app_pages/viewer.py").run()
    return at


def test_failure_7_a_failing_part_of_a_page_is_one_clear_message_and_the_rest_works(root, monkeypatch, tmp_path):
    ingest(root, [make_video(tmp_path / "c.mp4", n_frames=4)], progress=False)
    clip_id = QueryEngine(root).cursor().execute("SELECT clip_id FROM clips").fetchone()[0]
    poses = pose_clip(clip_id, n_frames=4).poses
    with Lake(root).batch() as batch:
        batch.write("frames", frames_table(clip_id, 30.0, poses.kp2d_px, poses.kp3d_m, poses.present, poses.score,
                                           "synthetic"), {"source": "video", "pose_source": "synthetic"})
    rows = pa.table({"clip_id": [clip_id] * 4, "frame_index": np.arange(4, dtype=np.int32), "hand": ["right"] * 4,
                     "embodiment": ["egocurate_hand22"] * 4, "q_rad": [[0.1] * 22] * 4, "wrist_pose": [[0.0] * 9] * 4,
                     "residual": pa.array([0.01] * 4, pa.float32())})
    gone = {"right": {"urdf_path": str(tmp_path / "moved-away.urdf"), "add_dummy_free_joint": False,
                      "ignore_mimic_joint": False}}  # the robot model the retargets used is no longer there
    with Lake(root).batch(stage="retarget", embodiment="egocurate_hand22", sides=gone) as batch:
        batch.write("retargets", rows, {"embodiment": "egocurate_hand22"})
    at = viewer_of(root, clip_id, monkeypatch)
    assert not at.exception  # was: Streamlit's traceback with the server's file paths
    messages = [e.value for e in at.error]
    assert messages and all(f"`{clip_id}`" in m and "server log" in m for m in messages)
    assert any("draw the egocurate_hand22 hand" in m for m in messages)
    assert len(at.get("iframe")) == 1  # the clip still plays, with its poses


def test_a_page_that_cannot_run_at_all_shows_one_message(root, monkeypatch):
    write_pose_clips(root, [pose_clip("broken", n_frames=4)])
    Lake(root).files("frames")[0].write_bytes(b"not parquet any more")  # as a crash or a full disk leaves it
    at = viewer_of(root, "broken", monkeypatch)
    assert not at.exception
    messages = [e.value for e in at.error]
    assert len(messages) == 1 and "`broken`" in messages[0] and "No magic bytes" in messages[0]


def test_cli_failures_are_one_line_without_a_traceback(root):
    write_pose_clips(root, [pose_clip("broken", n_frames=4)])
    Lake(root).files("frames")[0].write_bytes(b"not parquet any more")
    run = CliRunner().invoke(main, ["--root", str(root), "score", "--quiet"])
    assert run.exit_code == 1
    assert "Traceback" not in run.output and "score: InvalidInputException" in run.output
    assert len(run.output.strip().splitlines()) == 1 and ".parquet'" in run.output  # names the file
    assert "--verbose" in run.output
    verbose = CliRunner().invoke(main, ["--root", str(root), "--verbose", "score", "--quiet"])
    assert "Traceback" in verbose.output


@pytest.fixture
def raw_root(root: Path, tmp_path: Path) -> tuple[Path, str]:
    ingest(root, [make_video(tmp_path / "raw.mp4")], progress=False)
    return root, QueryEngine(root).cursor().execute("SELECT clip_id FROM clips").fetchone()[0]


def test_task_commands(raw_root, tmp_path):
    root, clip_id = raw_root
    runner = CliRunner()
    missing = runner.invoke(main, ["--root", str(root), "task", "list", "--missing", "--csv"])
    assert missing.exit_code == 0 and missing.output.splitlines()[1].startswith(f"{clip_id},,human,video")
    done = runner.invoke(main, ["--root", str(root), "task", "set", clip_id, "wave 👋", "--author", "ann"])
    assert done.exit_code == 0 and "wave 👋" in done.output
    listed = runner.invoke(main, ["--root", str(root), "task", "list", "--missing"])
    assert "every clip has task text" in listed.output
    unknown = runner.invoke(main, ["--root", str(root), "task", "set", "nope", "x"])
    assert unknown.exit_code == 1 and "no clip with id 'nope'" in unknown.output
    csv = tmp_path / "tasks.csv"
    csv.write_text(f"clip_id,task\n{clip_id},pour water\n", encoding="utf-8")
    imported = runner.invoke(main, ["--root", str(root), "task", "import", str(csv)])
    assert imported.exit_code == 0 and "1 clips given their task, 0 rows failed" in imported.output
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\nx,y\n")
    refused = runner.invoke(main, ["--root", str(root), "task", "import", str(bad)])
    assert refused.exit_code == 1 and "clip_id, task" in refused.output


def test_ingest_task_reaches_a_video_catalogued_before(raw_root):
    root, clip_id = raw_root
    path = QueryEngine(root).cursor().execute("SELECT path FROM clips").fetchone()[0]
    run = CliRunner().invoke(main, ["--root", str(root), "ingest", "--quiet", "--task", "stir the soup", path])
    assert run.exit_code == 0 and "1 clips catalogued before had no task text and now have it" in run.output
    from curation.labels import task_label

    assert task_label(root, clip_id).text == "stir the soup"
