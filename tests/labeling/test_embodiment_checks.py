"""Embodiment specs as a new user meets them (issue 15's trial): a YAML typo is one clear error, every problem
of a spec is reported at once (its dataset's names included, even when a folder is wrong), retargeting to a
spec checks it against its robot's episodes, values beyond the URDF limits warn, and `propose` guesses units
from the data and writes a skeleton when the names say nothing (GR00T's motor_N, with its modality.json)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from app.cli import main
from db.engine import query_engine
from db.queries.clips import existing_clip_ids
from db.queries.embodiments import embodiment_table
from labeling.embodiment.ranges import range_warnings
from labeling.embodiment.spec import spec_from_dict
from tests.curation.g1_inspire import NAMES, spec_text, write_g1_v21

GR00T = "lerobot/gr00t_robot_sim.PickNPlace"
GR00T_JOINTS = {7: "index_proximal_joint", 8: "middle_proximal_joint", 9: "ring_proximal_joint",
                10: "pinky_proximal_joint", 11: "thumb_proximal_pitch_joint", 12: "thumb_proximal_yaw_joint"}


def run(root, *args: str):
    return CliRunner().invoke(main, ["--root", str(root), *args])


@pytest.fixture
def g1(tmp_path, shared_data) -> dict:
    """A g1-shaped dataset whose hand values sweep the vendor's 0..1 units."""
    t = np.linspace(0.0, 1.0, 40)[:, None]
    state = np.concatenate([0.3 * np.sin(6 * t + np.arange(14)), 0.5 + 0.5 * np.sin(5 * t + np.arange(12))], axis=1)
    dataset = write_g1_v21(tmp_path / "g1", [{"task": "Pick up the cup.", "state": state.astype(np.float32)}])
    return {"root": tmp_path / "root", "dataset": dataset, "values": yaml.safe_load(spec_text(shared_data)),
            "folder": tmp_path}


def write(folder, name: str, values: dict | str):
    path = folder / name
    path.write_text(values if isinstance(values, str) else yaml.safe_dump(values, sort_keys=False))
    return path


def test_a_yaml_syntax_error_is_one_clear_error_not_a_traceback(g1):
    bad = write(g1["folder"], "bad_yaml.yml", "name: x\nhands:\n  left: {hand: inspire, joints: {a: {joint: b}\n")
    for args in (("ingest", str(g1["dataset"]), "--embodiment", str(bad), "--quiet"),
                 ("embodiment", "set", str(bad), "--dataset", str(g1["dataset"]))):
        result = run(g1["root"], *args)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
        assert "embodiment spec has 1 problem(s)" in result.output and "cannot read embodiment spec" in result.output
        assert run(g1["root"], "ingest", str(g1["dataset"]), "--quiet").exit_code == 0  # for `set`, next
    listed = write(g1["folder"], "list.yml", "- just a list\n")
    result = run(g1["root"], "ingest", str(g1["dataset"]), "--embodiment", str(listed), "--quiet")
    assert result.exit_code == 1 and "expected a mapping, got a list" in result.output


def test_every_problem_of_a_spec_is_reported_at_once(g1):
    joints = g1["values"]["hands"]["right"]["joints"]
    joints["kRightHandPinky"]["joint"] = "pinky_joint"  # unknown joint
    joints["kRightHandRing"]["unit"] = "percent"  # wrong unit
    joints["kRightHandMidle"] = joints.pop("kRightHandMiddle")  # unknown dimension
    bad = write(g1["folder"], "bad.yml", g1["values"])
    result = run(g1["root"], "ingest", str(g1["dataset"]), "--embodiment", str(bad), "--quiet")
    assert result.exit_code == 1 and "embodiment spec has 3 problem(s)" in result.output, result.output
    for expected in ("unknown joint 'pinky_joint'", "unit 'percent'", "unknown dimension 'kRightHandMidle'"):
        assert expected in result.output
    assert existing_clip_ids(query_engine(g1["root"])) == set()  # nothing ingested
    g1["values"]["urdf_dir"] = "../no/such/folder"  # a wrong folder no longer hides the rest
    result = run(g1["root"], "ingest", str(g1["dataset"]), "--embodiment", str(write(g1["folder"], "dirs.yml",
                                                                                      g1["values"])), "--quiet")
    assert "urdf_dir: '../no/such/folder' is not a folder" in result.output
    assert "unit 'percent'" in result.output and "unknown dimension 'kRightHandMidle'" in result.output


def test_retargeting_to_a_spec_checks_it_against_the_episodes_that_follow_it(g1, shared_data):
    spec = write(g1["folder"], "g1_inspire.yml", spec_text(shared_data))
    result = run(g1["root"], "retarget", "--embodiment", str(spec), "--device", "cpu", "--quiet")
    assert result.exit_code == 1 and "no robot episodes follow embodiment 'g1_inspire'" in result.output
    assert run(g1["root"], "ingest", str(g1["dataset"]), "--embodiment", str(spec), "--quiet").exit_code == 0
    joints = g1["values"]["hands"]["right"]["joints"]
    joints["kRightHandPinkie"] = joints.pop("kRightHandPinky")
    drifted = write(g1["folder"], "drifted.yml", g1["values"])  # the same name, a dimension the robot lacks
    result = run(g1["root"], "retarget", "--embodiment", str(drifted), "--device", "cpu", "--quiet")
    assert result.exit_code == 1 and "unknown dimension 'kRightHandPinkie'" in result.output
    assert "no retargets" not in result.output and not (g1["root"] / "lake" / "retargets").exists()


def test_values_beyond_the_urdf_limits_warn_when_a_spec_is_applied(g1):
    joints = g1["values"]["hands"]["right"]["joints"]
    joints["kRightHandThumbBend"] = {"joint": "thumb_proximal_pitch_joint", "unit": "rad"}  # 0..1 read as radians
    spec = write(g1["folder"], "rad.yml", g1["values"])
    result = run(g1["root"], "ingest", str(g1["dataset"]), "--embodiment", str(spec), "--quiet")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "kRightHandThumbBend -> thumb_proximal_pitch_joint" in warned[0]
    assert "beyond the URDF limits [0.000, 0.600]" in warned[0]
    checked = spec_from_dict(g1["values"])
    state = np.zeros((10, len(NAMES)))
    assert range_warnings(checked, NAMES, state) == []  # 0 = open = the lower limit: inside
    state[0, NAMES.index("kRightHandThumbBend")] = 0.62  # one frame a little past: commanded past, the hand clips
    assert range_warnings(checked, NAMES, state) == []


def test_propose_guesses_units_from_the_data(g1, shared_data):
    result = run(g1["root"], "embodiment", "propose", "--dataset", str(g1["dataset"]), "--hand", "inspire",
                 "--config-dir", str(shared_data / "retargeting_configs" / "dex-retargeting"),
                 "--urdf-dir", str(shared_data / "urdf" / "dex-urdf" / "hands"))
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(result.stdout)
    units = {j["unit"] for hand in spec["hands"].values() for j in hand["joints"].values()}
    assert units == {"normalized"}  # the vendor's 0..1 values, not radians


def test_propose_writes_a_skeleton_when_the_names_say_nothing(tmp_path, shared_data):
    root, dataset = tmp_path / "root", shared_data / GR00T
    dirs = ["--config-dir", str(shared_data / "retargeting_configs" / "dex-retargeting"),
            "--urdf-dir", str(shared_data / "urdf" / "dex-urdf" / "hands")]
    result = run(root, "embodiment", "propose", "--dataset", str(dataset), "--hand", "inspire", "--name", "gr1", *dirs)
    assert result.exit_code == 0, result.output
    note = next(line for line in result.stderr.splitlines() if line.startswith("note: "))
    assert "the left hand is motor_7..motor_12" in note and "the right hand is motor_29..motor_34" in note
    assert result.stdout.startswith("# No dimension name matches a joint of inspire")  # the note, in the file too
    skeleton = yaml.safe_load(result.stdout)
    assert set(skeleton["hands"]["left"]["joints"]) == {f"FILL_IN_{j}" for j in GR00T_JOINTS.values()}
    assert skeleton["groups"]["left_arm"] == [f"motor_{i}" for i in range(7)]
    for side, first in (("left", 7), ("right", 29)):  # the curator fills it in
        skeleton["hands"][side]["joints"] = {f"motor_{first - 7 + i}": {"joint": j, "unit": "rad"}
                                             for i, j in GR00T_JOINTS.items()}
    spec = write(tmp_path, "gr1.yml", skeleton)
    assert run(root, "ingest", str(dataset), "--quiet").exit_code == 0
    result = run(root, "embodiment", "set", str(spec), "--dataset", str(dataset))
    assert result.exit_code == 0, result.output
    assert "5 episodes follow it" in result.output and "motor_12 -> thumb_proximal_yaw_joint" in result.output
    assert embodiment_table(query_engine(root))["episodes"].tolist() == [5]
