"""Pages with a real robot embodiment (issue 15, AppTest): the Embodiments page proposes a spec from the names
and a curator confirms it; the viewer draws a robot episode's own hand from its state; the Pairs page draws
both hands along the DTW path, or says why a pair has no cost; the Export page previews per embodiment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from app import state
from app.cli import main
from app.components.viewer import robot_dim_choices
from db.engine import query_engine
from db.queries.annotations import pair_rows
from db.queries.clips import pairing_clips
from db.queries.embodiments import embodiment_table
from tests.app.test_quality_page import page
from tests.curation.g1_inspire import g1_root

APP_DIR = Path(__file__).resolve().parents[2] / "app"
PAGES = APP_DIR / "app_pages"
TIMEOUT_S = 120


def cli(root: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--root", str(root), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def g1(tmp_path_factory, shared_data) -> dict:
    """EgoDex retargeted to Inspire (and the 62-D hand); the v2.1 robot dataset ingested *without* a spec."""
    folder = tmp_path_factory.mktemp("g1-pages")
    root, spec_file, datasets, _ = g1_root(folder, shared_data)
    cli(root, "ingest", str(datasets[0]), "--quiet")
    cli(root, "retarget", "--hand", "egocurate_hand22", "--device", "cpu", "--quiet")
    cli(root, "pair", "--quiet")
    return {"root": root, "spec": spec_file, "dataset": datasets[0], "shared": shared_data}


def test_without_a_spec_the_pairs_page_says_why_there_is_no_cost(g1, monkeypatch):
    at = page(g1["root"], monkeypatch, PAGES / "pairs.py")
    at.session_state["pairs.states"] = []
    at.run()
    assert not at.exception
    assert any("No cost: the robot episode has a 26-D state and no embodiment spec" in i.value for i in at.info)


def test_the_embodiments_page_proposes_a_spec_and_a_curator_confirms_it(g1, monkeypatch):
    teleop = g1["shared"] / "retargeting_configs" / "dex-retargeting" / "teleop"
    at = page(g1["root"], monkeypatch, PAGES / "embodiments.py")
    at.session_state[state.EMBODIMENTS_HAND] = str(teleop / "inspire_hand_right.yml")
    at.session_state[state.EMBODIMENTS_URDF_DIR] = str(g1["shared"] / "urdf" / "dex-urdf" / "hands")
    at.session_state[state.EMBODIMENTS_NAME] = "g1_inspire"
    at.run()
    assert not at.exception and at.title[0].value == "Embodiments"
    at.button[0].click().run()  # Propose
    assert not at.exception
    proposal = at.session_state[state.EMBODIMENTS_PROPOSAL]
    table = proposal["table"].set_index(["side", "joint"])
    assert table.loc[("right", "pinky_proximal_joint"), "dimension"] == "kRightHandPinky"
    assert table.loc[("left", "thumb_proximal_yaw_joint"), "dimension"] == "kLeftHandThumbRotation"
    assert (table["unit"] == "normalized").all()
    assert any("checks against the URDF" in s.value for s in at.success)
    confirm = next(b for b in at.button if b.label == "Confirm for every episode")
    assert confirm.disabled  # no curator name yet (open local mode)
    at.text_input(key=state.EMBODIMENTS_AUTHOR).input("ann").run()
    next(b for b in at.button if b.label == "Confirm for every episode").click().run()
    assert not at.exception and any("3 episodes follow it" in s.value for s in at.success)
    stored = embodiment_table(query_engine(g1["root"]))
    assert stored["name"].tolist() == ["g1_inspire"] and stored["episodes"].tolist() == [3]


@pytest.fixture(scope="module")
def specced(g1) -> Path:
    """The curator's spec replaced by the file's (invert: true), the humans retargeted to it, pairs re-aligned."""
    root = g1["root"]
    cli(root, "embodiment", "set", str(g1["spec"]), "--dataset", str(g1["dataset"]))
    cli(root, "retarget", "--embodiment", "g1_inspire", "--device", "cpu", "--quiet")
    cli(root, "pair", "--quiet")
    return root


def _player(at: AppTest) -> str:
    return str(at.get("iframe")[0].proto.srcdoc)


def test_the_pairs_page_draws_both_hands_stepping_along_the_path(specced, monkeypatch):
    at = page(specced, monkeypatch, PAGES / "pairs.py")
    at.session_state["pairs.states"] = []
    at.run()
    assert not at.exception and not at.info
    header = next(m.value for m in at.markdown if "DTW cost" in m.value)
    assert "(both)" in header and "rad per joint" in header  # both clips' task, said once when it is the same
    player = _player(at)
    assert "hand-robot" in player and "hand-human" in player and "window.drawHands(r, h)" in player
    hands = json.loads(player.split("const H = ")[1].split(";\n")[0])
    assert {layer["side"] for layer in hands["robot"]} == {"left", "right"}
    assert "Joint angles (rad)" in at.get("plotly_chart")[1].proto.spec


def test_the_viewer_draws_a_robot_episode_hand_from_its_state(specced, monkeypatch):
    monkeypatch.setenv("EGOCURATE_HOME", str(specced))
    robot = pairing_clips(query_engine(specced)).query("kind == 'robot'").iloc[0]
    at = AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=TIMEOUT_S)
    at.query_params["clip"] = robot["clip_id"]
    at.switch_page("app_pages/viewer.py").run()
    assert not at.exception
    assert list(at.segmented_control(key=state.VIEWER_EPISODE_HAND).options) == ["left", "right"]
    config = json.loads(_player(at).split('id="ego-config">')[1].split("</script>")[0])
    view3d = config["robot"]["view3d"]
    assert config["robot"]["embodiment"] == "g1_inspire" and view3d["hand"] == "right"
    assert len(view3d["xyz"]) == robot["n_frames"] and len(view3d["xyz"][0]) == 3 * len(view3d["links"])
    assert config["series"] and not config["robot"]["hands"]  # its curves beside the 3D hand, nothing on the video
    at.segmented_control(key=state.VIEWER_EPISODE_HAND).set_value("left").run()
    config = json.loads(_player(at).split('id="ego-config">')[1].split("</script>")[0])
    assert not at.exception and config["robot"]["view3d"]["hand"] == "left"


def test_the_export_page_previews_each_embodiment(specced, monkeypatch):
    pair = pair_rows(query_engine(specced)).iloc[0]
    cli(specced, "pair", "accept", str(int(pair.id)))
    at = page(specced, monkeypatch, PAGES / "export.py")
    at.run()
    assert not at.exception
    per_embodiment = at.dataframe[1].value.set_index("embodiment")
    assert per_embodiment.loc["g1_inspire", "state_dims"] == 26 and per_embodiment.loc["human", "state_dims"] == 62
    assert per_embodiment.loc["g1_inspire", "dataset"] == "g1_inspire"


def test_the_embodiments_page_on_a_catalog_without_specs(app_root, monkeypatch):
    """Smoke: the shared fixtures (EgoDex, a video, the GR00T robot set); a registered hand without its configs."""
    at = page(app_root, monkeypatch, PAGES / "embodiments.py")
    at.session_state[state.EMBODIMENTS_HAND] = "inspire"
    at.run()
    assert not at.exception and "None yet" in at.caption[1].value
    at.button[0].click().run()  # Propose: the registered hand needs a config folder
    assert not at.exception and "config" in at.error[0].value


def test_names_that_say_nothing_get_a_table_to_fill_in_and_a_stored_spec_shows_its_mapping(tmp_path, shared_data,
                                                                                          monkeypatch):
    """GR00T's motor_N: the proposal is every joint with no dimension, and where modality.json puts each hand;
    the curator picks the dimensions in the table; a stored spec's mapping can be looked at afterwards."""
    root = tmp_path / "root"
    cli(root, "ingest", str(shared_data / "lerobot" / "gr00t_robot_sim.PickNPlace"), "--quiet")
    at = page(root, monkeypatch, PAGES / "embodiments.py")
    at.session_state[state.EMBODIMENTS_HAND] = "inspire"
    at.session_state[state.EMBODIMENTS_CONFIG_DIR] = str(shared_data / "retargeting_configs" / "dex-retargeting")
    at.session_state[state.EMBODIMENTS_URDF_DIR] = str(shared_data / "urdf" / "dex-urdf" / "hands")
    at.session_state[state.EMBODIMENTS_NAME] = "gr1"
    at.run()
    at.button[0].click().run()  # Propose
    assert not at.exception and all("does not check yet" in e.value for e in at.error)  # not filled in yet
    assert any("the left hand is motor_7..motor_12" in i.value for i in at.info)
    proposal = at.session_state[state.EMBODIMENTS_PROPOSAL]
    table = proposal["table"]
    assert len(table) == 12 and table["dimension"].isna().all()  # every joint offered, none guessed
    joints = ["index_proximal_joint", "middle_proximal_joint", "ring_proximal_joint", "pinky_proximal_joint",
              "thumb_proximal_pitch_joint", "thumb_proximal_yaw_joint"]
    filled = table.copy()
    for side, first in (("left", 7), ("right", 29)):
        for k, joint in enumerate(joints):
            filled.loc[(filled.side == side) & (filled.joint == joint), "dimension"] = f"motor_{first + k}"
    at.session_state[state.EMBODIMENTS_PROPOSAL] = {**proposal, "table": filled}
    at.text_input(key=state.EMBODIMENTS_AUTHOR).input("ann").run()
    assert any("checks against the URDF" in s.value for s in at.success)
    next(b for b in at.button if b.label == "Confirm for every episode").click().run()
    message = next(s.value for s in at.success if "episodes follow it" in s.value)
    assert "5 episodes follow it" in message and "check: hands.left.joints.motor_12" in message
    at.selectbox(key=state.EMBODIMENTS_SHOWN).set_value("gr1").run()
    shown = at.dataframe[1].value
    assert not at.exception and len(shown) == 12
    assert shown.set_index(["side", "dimension"]).loc[("left", "motor_12"), "joint"] == "thumb_proximal_yaw_joint"
    robot = pairing_clips(query_engine(root)).query("kind == 'robot'")["clip_id"].iloc[0]
    labels = robot_dim_choices(query_engine(root), robot)  # the viewer's curves: the spec's joints, not modality's
    assert labels["state"]["labels"][12] == "left thumb_proximal_yaw_joint (motor_12)"
    assert labels["state"]["labels"][0] == "left_arm.0" and labels["action"]["labels"][12] == "left_hand.5"
