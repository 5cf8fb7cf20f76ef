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
