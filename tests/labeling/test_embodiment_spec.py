"""Embodiment specs (labeling/embodiment): the contract, units, bad specs (one clear error each, nothing stored),
the name-based proposal, and the README's spec for a shared hand."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from app.cli import main
from db.engine import query_engine
from db.queries.clips import existing_clip_ids
from db.queries.embodiments import embodiment_table
from labeling.embodiment.joints import full_dof, hand_radians, quaternion_matrix, radians_to_dims, wrist_poses
from labeling.embodiment.propose import propose_spec, words
from labeling.embodiment.spec import SpecError, WristSpec, spec_from_dict
from labeling.kinematics.rotations import matrix_to_rot6d
from tests.curation.g1_inspire import NAMES, spec_text, write_g1_v21

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def spec_values(shared_data) -> dict:
    return yaml.safe_load(spec_text(shared_data))


def test_a_spec_is_checked_against_the_urdf_and_round_trips(spec_values):
    spec = spec_from_dict(spec_values)
    assert spec.name == "g1_inspire" and sorted(spec.hands) == ["left", "right"]
    right = spec.hands["right"]
    assert right.config.urdf_path.endswith("inspire_hand_right.urdf")
    assert right.joint_names[0] == "pinky_proximal_joint" and len(right.joints) == 6
    assert spec.check_names(NAMES) == []
    assert spec_from_dict(spec.to_dict()).to_dict() == spec.to_dict()  # stored form rebuilds the same spec


def test_units_rad_deg_normalized_and_invert(spec_values):
    values = spec_values["hands"]["right"]["joints"]
    values["kRightHandPinky"] = {"joint": "pinky_proximal_joint", "unit": "normalized"}  # 1 is the upper limit
    values["kRightHandRing"] = {"joint": "ring_proximal_joint", "unit": "rad"}
    values["kRightHandMiddle"] = {"joint": "middle_proximal_joint", "unit": "deg"}
    hand = spec_from_dict(spec_values).hands["right"]
    names = [m.dim for m in hand.joints]
    state = np.array([[1.0, 0.5, 90.0, 1.0, 1.0, 1.0], [0.0, 0.25, 45.0, 0.0, 0.0, 0.0]])
    q = hand_radians(hand, names, state)
    upper = {m.joint: m.upper for m in hand.joints}
    assert q[0, 0] == pytest.approx(upper["pinky_proximal_joint"]) and q[1, 0] == pytest.approx(0.0)  # normalized
    assert q[:, 1] == pytest.approx([0.5, 0.25])  # rad as it is
    assert q[:, 2] == pytest.approx([math.pi / 2, math.pi / 4])  # deg
    assert q[0, 3] == pytest.approx(0.0) and q[1, 3] == pytest.approx(upper["index_proximal_joint"])  # inverted
    np.testing.assert_allclose(radians_to_dims(hand, q), state, atol=1e-12)
    full = full_dof(hand, q)
    assert full.shape == (2, hand.tree.n_dof)


def test_wrist_quaternions_become_6d_rotations():
    quat = np.array([[1.0, 0, 0, 0], [math.cos(0.3), 0, 0, math.sin(0.3)]])  # wxyz: identity, 0.6 rad about z
    wrist = WristSpec("right", ("x", "y", "z", "qw", "qx", "qy", "qz"))
    poses = wrist_poses(wrist, list(wrist.dims), np.concatenate([np.ones((2, 3)), quat], axis=1))
    assert poses.shape == (2, 9)
    np.testing.assert_allclose(poses[0, 3:], [1, 0, 0, 0, 1, 0], atol=1e-12)
    expected = np.array([[math.cos(0.6), -math.sin(0.6), 0], [math.sin(0.6), math.cos(0.6), 0], [0, 0, 1]])
    np.testing.assert_allclose(quaternion_matrix(quat[1:])[0], expected, atol=1e-12)
    np.testing.assert_allclose(poses[1, 3:], matrix_to_rot6d(expected[None])[0], atol=1e-12)


BAD_SPECS = {
    "unknown joint": (("kRightHandPinky", "joint", "pinky_joint"), "unknown joint 'pinky_joint'"),
    "wrong unit": (("kRightHandRing", "unit", "percent"), "unit 'percent' is not one of rad, deg, normalized"),
    "two dims on one joint": (("kRightHandMiddle", "joint", "ring_proximal_joint"),
                              "'kRightHandRing' and 'kRightHandMiddle' both map to joint 'ring_proximal_joint'"),
    "mimic joint": (("kRightHandIndex", "joint", "index_intermediate_joint"), "follows 'index_proximal_joint'"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_a_bad_spec_gives_one_clear_error_naming_it(spec_values, case):
    (dim, key, value), expected = BAD_SPECS[case]
    spec_values["hands"]["right"]["joints"][dim][key] = value
    with pytest.raises(SpecError) as raised:
        spec_from_dict(spec_values)
    assert len(raised.value.problems) == 1, raised.value.problems
    assert expected in raised.value.problems[0] and dim in raised.value.problems[0]


def test_an_unknown_dimension_gives_one_clear_error(spec_values):
    joints = spec_values["hands"]["right"]["joints"]
    joints["kRightHandPinkie"] = joints.pop("kRightHandPinky")
    problems = spec_from_dict(spec_values).check_names(NAMES)
    assert len(problems) == 1
    assert "unknown dimension 'kRightHandPinkie'" in problems[0] and "did you mean 'kRightHandPinky'" in problems[0]


def test_bad_specs_store_nothing_at_ingest_nor_on_set(tmp_path, shared_data, spec_values):
    root = tmp_path / "root"
    episodes = [{"task": "Pick up the cup.", "state": np.zeros((8, len(NAMES)), np.float32)}]
    dataset = write_g1_v21(tmp_path / "g1", episodes)
    joints = spec_values["hands"]["right"]["joints"]
    joints["kRightHandPinkie"] = joints.pop("kRightHandPinky")
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(spec_values))
    args = ["--root", str(root), "ingest", str(dataset), "--embodiment", str(bad), "--quiet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "unknown dimension 'kRightHandPinkie'" in result.output
    assert existing_clip_ids(query_engine(root)) == set()  # nothing ingested
    assert CliRunner().invoke(main, ["--root", str(root), "ingest", str(dataset), "--quiet"]).exit_code == 0
    result = CliRunner().invoke(main, ["--root", str(root), "embodiment", "set", str(bad), "--dataset", str(dataset)])
    assert result.exit_code != 0 and "kRightHandPinkie" in result.output
    assert embodiment_table(query_engine(root)).empty  # nothing stored
    good = tmp_path / "good.yml"
    good.write_text(spec_text(shared_data))
    result = CliRunner().invoke(main, ["--root", str(root), "embodiment", "set", str(good), "--dataset", str(dataset)])
    assert result.exit_code == 0, result.output
    assert embodiment_table(query_engine(root))["episodes"].tolist() == [1]


def test_a_spec_is_proposed_from_the_names(shared_data):
    assert words("kRightHandThumbRotation") == ["k", "right", "hand", "thumb", "yaw"]
    teleop = shared_data / "retargeting_configs" / "dex-retargeting" / "teleop"
    values = np.random.default_rng(0).uniform(0, 1, (20, len(NAMES)))
    values[:, :14] *= 3  # arm joints in radians
    proposal = propose_spec(NAMES, teleop / "inspire_hand_right.yml", "g1_inspire",
                            urdf_dir=shared_data / "urdf" / "dex-urdf" / "hands", values=values)
    table = proposal.table.set_index(["side", "joint"])
    expected = {"pinky_proximal_joint": "Pinky", "ring_proximal_joint": "Ring", "middle_proximal_joint": "Middle",
                "index_proximal_joint": "Index", "thumb_proximal_pitch_joint": "ThumbBend",
                "thumb_proximal_yaw_joint": "ThumbRotation"}
    for side in ("left", "right"):
        for joint, word in expected.items():
            assert table.loc[(side, joint), "dimension"] == f"k{side.capitalize()}Hand{word}"
            assert table.loc[(side, joint), "unit"] == "normalized"
    assert spec_from_dict(proposal.spec).check_names(NAMES) == []  # a proposal is a spec that checks


def test_readme_has_a_complete_spec_for_a_shared_hand(shared_data):
    """README "Bringing your robot": its YAML spec, saved in the checkout's folder, checks against the shared files."""
    if not (REPO.parent / "shared" / "data").is_dir():
        pytest.skip("the README's relative paths expect ../shared/data beside the checkout")
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Bringing your robot"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    spec = spec_from_dict(yaml.safe_load(block), base_dir=REPO)  # relative paths start at the spec file's folder
    assert sorted(spec.hands) == ["left", "right"] and spec.check_names(NAMES) == []


def test_the_cli_proposes_a_spec_for_a_dataset_folder(tmp_path, shared_data):
    episodes = [{"task": "Pick up the cup.", "state": np.zeros((8, len(NAMES)), np.float32)}]
    dataset = write_g1_v21(tmp_path / "g1", episodes)
    teleop = shared_data / "retargeting_configs" / "dex-retargeting" / "teleop"
    result = CliRunner().invoke(main, [
        "--root", str(tmp_path / "root"), "embodiment", "propose", "--dataset", str(dataset), "--hand",
        str(teleop / "inspire_hand_left.yml"), "--urdf-dir", str(shared_data / "urdf" / "dex-urdf" / "hands"),
        "--name", "g1_inspire"])
    assert result.exit_code == 0, result.output
    spec = spec_from_dict(yaml.safe_load(result.stdout))
    assert spec.name == "g1_inspire" and spec.check_names(NAMES) == []
    assert "kLeftHandPinky" in result.stderr  # the mapping, as a table, beside the YAML
