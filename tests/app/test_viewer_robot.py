"""The retargeted robot hand in the clip viewer: the plain functions behind it on a real EgoDex clip
retargeted to the built-in 22-DoF hand and to G1 Dex3, and the page driven by AppTest."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app import state
from app.components import robot3d, robot_overlay, viewer
from db.engine import query_engine
from db.queries.frames import clip_pose_track

APP = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
TIMEOUT_S = 120  # the first run imports torch for the robot's kinematics
EMBODIMENTS = ("egocurate_hand22", "g1_dex3")


def build_retargeted_root(root: Path, shared_data: Path) -> str:
    """Ingest EgoDex `basic_pick_and_place/0` into `root` and retarget it to both hands; its clip id."""
    from labeling.retarget.stage import run_retarget
    from labeling.sources.ingest import ingest

    report = ingest(root, [shared_data / "egodex_sample" / "basic_pick_and_place"], progress=False)
    assert report.ok and len(report.added) == 1
    assert run_retarget(root, "egocurate_hand22", progress=False).ok
    g1 = run_retarget(root, "g1_dex3", progress=False, config_dir=shared_data / "retargeting_configs",
                      urdf_dir=shared_data / "urdf")
    assert g1.ok and not g1.failures
    return report.added[0]


@pytest.fixture(scope="session")
def robot_root(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("robot_viewer") / "root"
    return root, build_retargeted_root(root, shared_data)


def test_project_points_is_the_pinhole_model():
    xyz = np.array([[[0.1, -0.05, 0.5], [0.0, 0.0, -0.2], [np.nan, 0.0, 1.0]]])
    uv = robot_overlay.project_points(xyz, fx=700.0, fy=710.0, cx=960.0, cy=540.0)
    np.testing.assert_allclose(uv[0, 0], [700.0 * 0.1 / 0.5 + 960.0, 710.0 * -0.05 / 0.5 + 540.0])
    assert np.isnan(uv[0, 1:]).all()  # behind the camera, and unknown


def test_frame_lists_put_rows_on_their_frames():
    points = np.array([[[1.04, 2.0]], [[np.nan, 5.0]], [[np.nan, np.nan]]])
    assert robot_overlay.frame_lists(points, np.array([2, 0, 1]), n_frames=4) == [[None, 5.0], None, [1.0, 2.0], None]


def test_raw_video_without_intrinsics_gets_the_assumed_camera(tmp_path: Path):
    clip = {"clip_id": "raw", "width": 640, "height": 480, "fx": None, "fy": math.nan, "cx": None, "cy": None}
    camera = robot_overlay.clip_intrinsics(tmp_path, clip)
    assert camera.source == "assumed" and camera.hfov_deg == 90.0
    assert camera.fx_px == pytest.approx(320.0) and (camera.cx_px, camera.cy_px) == (320.0, 240.0)


def test_joint_labels_and_defaults():
    assert robot_overlay.short_joint_label("right_hand_index_0_joint", "right") == "index_0"
    assert robot_overlay.short_joint_label("left_thumb_CMC_FE", "left") == "thumb_CMC_FE"
    q = np.zeros((5, 4))
    q[:, 0] = np.arange(5) * 9.0  # a wrist translation moves most, but is not a finger joint
    q[:, 3] = np.arange(5)
    assert robot_overlay.busiest_joints(q, ["dummy_x", "a", "b", "c"], count=2) == [1, 3]


@pytest.mark.parametrize("embodiment", EMBODIMENTS)
def test_robot_wrist_lands_on_the_human_wrist(robot_root: tuple[Path, str], embodiment: str):
    root, clip_id = robot_root
    engine = query_engine(root)
    layer = robot_overlay.clip_robot_layer(engine, clip_id, embodiment, "right", "egodex", (0, 1))
    assert layer is not None and [h["hand"] for h in layer["robot"]["hands"]] == ["left", "right"]
    human = clip_pose_track(engine, clip_id, ["egodex"])
    for hand in layer["robot"]["hands"]:
        assert len(hand["uv"]) == 126 and all(max(a, b) < len(hand["links"]) for a, b in hand["edges"])
        rows = human[human.hand == hand["hand"]]
        for frame, kp in zip(rows.frame_index, rows.kp, strict=True):
            assert np.hypot(kp[0] - hand["uv"][frame][0], kp[1] - hand["uv"][frame][1]) <= 0.15
    view3d = layer["robot"]["view3d"]
    assert view3d["hand"] == "right" and len(view3d["xyz"]) == 126 and len(view3d["human"][40]) == 63
    centroid = np.asarray(view3d["xyz"][40], dtype=float).reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(centroid, 0.0, atol=0.1)  # mm, rounding of each coordinate
    (series,) = layer["series"]
    assert len(series["values"]) == 2 and len(series["values"][0]) == 126 and "rad" in series["title"]


def test_built_in_hand_follows_the_human_fingertips(robot_root: tuple[Path, str]):
    root, clip_id = robot_root
    engine = query_engine(root)
    layer = robot_overlay.clip_robot_layer(engine, clip_id, "egocurate_hand22", "left")
    human = clip_pose_track(engine, clip_id, ["egodex"])
    (left,) = [h for h in layer["robot"]["hands"] if h["hand"] == "left"]
    gaps = [np.hypot(kp[2 * j] - left["uv"][f][2 * j], kp[2 * j + 1] - left["uv"][f][2 * j + 1])
            for f, kp in zip(human[human.hand == "left"].frame_index, human[human.hand == "left"].kp, strict=True)
            for j in (4, 8, 12, 16, 20)]
    assert np.median(gaps) < 25.0  # px at 1920x1080: the same hand shape, so its tips sit on the human's


def test_joint_choices_name_the_robot_joints(robot_root: tuple[Path, str]):
    root, clip_id = robot_root
    engine = query_engine(root)
    assert robot_overlay.robot_choices(engine, clip_id) == {name: ["left", "right"] for name in EMBODIMENTS}
    hand22 = robot_overlay.joint_choices(engine, clip_id, "right", "egocurate_hand22")
    assert len(hand22["labels"]) == 22 and "thumb_CMC_FE" in hand22["labels"] and len(hand22["default"]) == 6
    g1 = robot_overlay.joint_choices(engine, clip_id, "left", "g1_dex3")
    assert len(g1["labels"]) == 7 and "thumb_0" in g1["labels"]
    assert robot_overlay.clip_robot_layer(engine, clip_id, "allegro") is None


def test_config_html_and_figure(robot_root: tuple[Path, str]):
    root, clip_id = robot_root
    engine = query_engine(root)
    base = viewer.clip_viewer_config(engine, clip_id, ("egodex",))
    layer = robot_overlay.clip_robot_layer(engine, clip_id, "g1_dex3", "right", "egodex", (0,))
    config = viewer.with_robot(base, layer)
    assert base["robot"] is None and config["robot"]["embodiment"] == "g1_dex3"
    assert viewer.viewer_height(config) == viewer.viewer_height(base) + viewer.ROBOT_PANEL_HEIGHT_PX + 8
    page = viewer.viewer_html(config)
    assert page.count("</script>") == 2 and "window.egoParts.robot" in page
    data = json.loads(page.split('id="ego-config">')[1].split("</script>")[0])
    assert data["robot"]["hands"][1]["uv"][40] == layer["robot"]["hands"][1]["uv"][40]
    figure = robot3d.robot_figure(layer["robot"]["view3d"], 40, "g1_dex3")
    assert [t.name for t in figure.data] == ["human keypoints", "robot links", "robot link origins"]
    assert figure.layout.scene.aspectmode == "data" and len(figure.data[2].x) == 15


@pytest.fixture
def app(robot_root: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("EGOCURATE_HOME", str(robot_root[0]))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.query_params["clip"] = robot_root[1]
    return at


def _player_config(at: AppTest) -> dict:
    (frame,) = at.get("iframe")
    return json.loads(frame.proto.srcdoc.split('id="ego-config">')[1].split("</script>")[0])


def test_viewer_draws_the_robot_hand(app: AppTest):
    app.switch_page("app_pages/viewer.py").run()
    assert not app.exception
    picker = app.segmented_control(key=state.VIEWER_ROBOT)
    assert list(picker.options) == [*EMBODIMENTS, robot_overlay.ROBOT_NONE] and picker.value == "egocurate_hand22"
    config = _player_config(app)
    assert config["robot"]["embodiment"] == "egocurate_hand22" and config["robot"]["view3d"]["hand"] == "right"
    assert len(config["series"][0]["names"]) == 6 and config["tracks"]  # the skeleton is still drawn
    assert any("Robot hand: egocurate_hand22" in c.value for c in app.caption)
    assert app.slider(key=state.VIEWER_ROBOT_FRAME).value == 62  # the plotly view opens on the middle frame


def test_viewer_switches_robot_hand_side_and_joints(app: AppTest):
    app.switch_page("app_pages/viewer.py").run()
    app.segmented_control(key=state.VIEWER_ROBOT).set_value("g1_dex3").run()
    assert not app.exception
    joints = app.multiselect(key=state.VIEWER_JOINT_DIMS)
    assert len(joints.options) == 7 and len(joints.value) == 6
    app.segmented_control(key=state.VIEWER_ROBOT_HAND).set_value("left").run()
    app.multiselect(key=state.VIEWER_JOINT_DIMS).set_value([0, 6]).run()
    assert not app.exception
    config = _player_config(app)
    assert config["robot"]["embodiment"] == "g1_dex3" and config["robot"]["view3d"]["hand"] == "left"
    assert config["series"][0]["names"] == ["index_0", "thumb_2"]
    app.segmented_control(key=state.VIEWER_ROBOT).set_value(robot_overlay.ROBOT_NONE).run()
    assert not app.exception and _player_config(app)["robot"] is None and not _player_config(app)["series"]
