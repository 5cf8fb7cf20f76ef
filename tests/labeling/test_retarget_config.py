"""dex-retargeting YAML configs: every shared config reads as it is, URDF paths resolve like
`set_default_urdf_dir` (and IsaacTeleop's absolute author paths by file name), errors name the field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from labeling.hands import HANDS_DIR
from labeling.retarget.config import ConfigError, RetargetConfig, resolve_urdf_path
from labeling.retarget.registry import RETARGET_HANDS, config_side, file_configs, hand_configs

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("EGOCURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
CONFIG_DIR = DATA / "retargeting_configs"
URDF_DIR = DATA / "urdf"
DEX_URDF_DIR = URDF_DIR / "dex-urdf" / "hands"
if not CONFIG_DIR.is_dir():
    pytest.skip(f"shared test data not found at {DATA}", allow_module_level=True)

ALL_CONFIGS = sorted(CONFIG_DIR.rglob("*.yml"))
ALLEGRO = CONFIG_DIR / "dex-retargeting/teleop/allegro_hand_right.yml"
SHARPA = CONFIG_DIR / "isaacteleop/sharpa_ha4_right_dexpilot.yml"


def write_config(tmp_path: Path, values: dict, name: str = "hand_right.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"retargeting": values}))
    return path


def vector_values(**changes: object) -> dict:
    values = {"type": "vector", "urdf_path": "allegro_hand/allegro_hand_right.urdf",
              "target_origin_link_names": ["wrist", "wrist"],
              "target_task_link_names": ["link_3.0_tip", "link_7.0_tip"],
              "target_link_human_indices": [[0, 0], [8, 12]], "scaling_factor": 1.6}
    values.update(changes)
    return values


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shared_config_reads_and_builds(path: Path) -> None:
    cfg = RetargetConfig.from_yaml(path, urdf_dir=URDF_DIR)
    assert cfg.type in ("vector", "position", "dexpilot")
    assert Path(cfg.urdf_path).is_file() and cfg.source == str(path)
    retargeter = cfg.build("cpu")
    assert set(retargeter.target_joint_names) <= set(retargeter.joint_names)


def test_relative_urdf_path_joins_urdf_dir_like_set_default_urdf_dir() -> None:
    cfg = RetargetConfig.from_yaml(ALLEGRO, urdf_dir=DEX_URDF_DIR)
    assert cfg.urdf_path == str(DEX_URDF_DIR / "allegro_hand" / "allegro_hand_right.urdf")
    # A urdf_dir above the tree: found by its trailing path.
    assert RetargetConfig.from_yaml(ALLEGRO, urdf_dir=DATA).urdf_path == cfg.urdf_path
    with pytest.raises(ConfigError, match=r"urdf_path 'allegro_hand/allegro_hand_right\.urdf' not found"):
        RetargetConfig.from_yaml(ALLEGRO)  # no urdf_dir: relative to the config's own folder


def test_absolute_author_path_is_found_by_file_name() -> None:
    raw = yaml.safe_load(SHARPA.read_text())["retargeting"]["urdf_path"]
    assert raw.startswith("/home/") and not Path(raw).exists()
    cfg = RetargetConfig.from_yaml(SHARPA, urdf_dir=URDF_DIR)
    assert cfg.urdf_path == str(URDF_DIR / "sharpa_ha4/right_sharpa_ha4/right_sharpa_ha4_v2_1.urdf")
    with pytest.raises(ConfigError, match=r"urdf_path /home/.* does not exist .*urdf_dir"):
        RetargetConfig.from_yaml(SHARPA)
    with pytest.raises(ConfigError, match=r"no file ending in 'right_sharpa_ha4_v2_1\.urdf' under urdf_dir"):
        RetargetConfig.from_yaml(SHARPA, urdf_dir=DEX_URDF_DIR)


def test_existing_absolute_path_and_override(tmp_path: Path) -> None:
    urdf = DEX_URDF_DIR / "allegro_hand" / "allegro_hand_right.urdf"
    path = write_config(tmp_path, vector_values(urdf_path=str(urdf)))
    override = {"scaling_factor": 2.0, "low_pass_alpha": 1.0}
    cfg = RetargetConfig.from_yaml(path, override=override)
    assert cfg.urdf_path == str(urdf) and cfg.scaling_factor == 2.0 and cfg.low_pass_alpha == 1.0
    assert override == {"scaling_factor": 2.0, "low_pass_alpha": 1.0}  # not mutated
    assert cfg.target_link_human_indices == ((0, 0), (8, 12))


def test_ambiguous_file_name_is_an_error(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "hand.urdf").write_text("<robot name='r'><link name='x'/></robot>")
    with pytest.raises(ConfigError, match="ambiguous"):
        resolve_urdf_path("/nowhere/hand.urdf", tmp_path, None)


@pytest.mark.parametrize(("changes", "field"), [
    ({"type": None}, "type"),
    ({"type": "inverse"}, "type"),
    ({"target_origin_link_names": None}, "target_origin_link_names"),
    ({"target_link_human_indices": None}, "target_link_human_indices"),
    ({"target_link_human_indices": [[0, 0, 0], [4, 8, 12]]}, "target_link_human_indices"),
    ({"target_link_human_indices": [[0, 0], [8, 21]]}, "target_link_human_indices"),
    ({"target_task_link_names": ["link_3.0_tip"]}, "target_task_link_names"),
    ({"scaling_factor": -1.0}, "scaling_factor"),
    ({"scaling_factor": None}, "scaling_factor"),
    ({"huber_delta": "big"}, "huber_delta"),
    ({"has_joint_limits": "yes"}, "has_joint_limits"),
    ({"input_rotation": [[1, 0, 0], [0, 1, 0]]}, "input_rotation"),
    ({"input_rotation": [[2, 0, 0], [0, 1, 0], [0, 0, 1]]}, "input_rotation"),
    ({"target_joint_names": "joint_0.0"}, "target_joint_names"),
    ({"urdf_path": None}, "urdf_path"),
    ({"fingertip_names": ["a"]}, "fingertip_names"),
])
def test_errors_name_the_field(tmp_path: Path, changes: dict, field: str) -> None:
    path = write_config(tmp_path, vector_values(**changes))
    with pytest.raises(ConfigError, match=rf"hand_right\.yml: RetargetConfig\.{field}\b"):
        RetargetConfig.from_yaml(path, urdf_dir=DEX_URDF_DIR)


def test_type_specific_required_fields(tmp_path: Path) -> None:
    dexpilot = {"type": "DexPilot", "urdf_path": "allegro_hand/allegro_hand_right.urdf", "wrist_link_name": "wrist"}
    with pytest.raises(ConfigError, match=r"RetargetConfig\.finger_tip_link_names is required for dexpilot"):
        RetargetConfig.from_yaml(write_config(tmp_path, dexpilot), urdf_dir=DEX_URDF_DIR)
    with pytest.raises(ConfigError, match=r"RetargetConfig\.finger_tip_link_names needs 2 to 5 fingertips"):
        RetargetConfig.from_yaml(write_config(tmp_path, {**dexpilot, "finger_tip_link_names": ["link_3.0_tip"]}),
                                 urdf_dir=DEX_URDF_DIR)
    position = {"type": "position", "urdf_path": "allegro_hand/allegro_hand_right.urdf",
                "target_link_names": ["link_3.0_tip", "link_7.0_tip"], "target_link_human_indices": [8]}
    with pytest.raises(ConfigError, match=r"RetargetConfig\.target_link_human_indices needs 2 indices"):
        RetargetConfig.from_yaml(write_config(tmp_path, position), urdf_dir=DEX_URDF_DIR)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read retargeting config"):
        RetargetConfig.from_yaml(tmp_path / "missing.yml")
    (tmp_path / "flat.yml").write_text("type: vector\n")
    with pytest.raises(ConfigError, match="top-level 'retargeting:'"):
        RetargetConfig.from_yaml(tmp_path / "flat.yml")
    (tmp_path / "broken.yml").write_text("retargeting: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yml: cannot read"):
        RetargetConfig.from_yaml(tmp_path / "broken.yml")


def test_names_unknown_to_the_urdf_fail_at_build(tmp_path: Path) -> None:
    path = write_config(tmp_path, vector_values(target_task_link_names=["link_3.0_tip", "link_99_tip"]))
    cfg = RetargetConfig.from_yaml(path, urdf_dir=DEX_URDF_DIR)
    with pytest.raises(ConfigError, match=r"RetargetConfig\.target_task_link_names: unknown link 'link_99_tip'"):
        cfg.build("cpu")
    bad_joint = cfg.with_overrides(target_joint_names=("joint_0.0", "joint_99"))
    with pytest.raises(ConfigError, match=r"RetargetConfig\.target_joint_names: 'joint_99' is not a movable joint"):
        bad_joint.build("cpu")


def test_mimic_joint_cannot_be_a_target() -> None:
    cfg = RetargetConfig.from_yaml(CONFIG_DIR / "dex-retargeting/teleop/inspire_hand_right.yml", urdf_dir=URDF_DIR)
    with pytest.raises(ConfigError, match=r"target_joint_names: 'index_intermediate_joint' is a mimic joint"):
        cfg.with_overrides(target_joint_names=("index_intermediate_joint",)).build("cpu")
    free = cfg.with_overrides(target_joint_names=("index_intermediate_joint",), ignore_mimic_joint=True).build("cpu")
    assert free.target_joint_names == ("index_intermediate_joint",)


def test_registry_hands() -> None:
    builtin = hand_configs("egocurate_hand22")
    assert set(builtin) == {"left", "right"}
    assert hand_configs("egocurate_hand22", config_dir=CONFIG_DIR, urdf_dir=URDF_DIR) == builtin  # folders for others
    assert builtin["right"].urdf_path == str(HANDS_DIR / "egocurate_hand22_right.urdf")
    g1 = hand_configs("g1_dex3", config_dir=CONFIG_DIR, urdf_dir=URDF_DIR)
    assert g1["left"].input_rotation == RETARGET_HANDS["g1_dex3"].input_rotation
    assert len(g1["left"].build("cpu").joint_names) == 7
    with pytest.raises(ConfigError, match=r"hand 'sharpa_ha4' needs a config folder .*--config-dir"):
        hand_configs("sharpa_ha4")
    with pytest.raises(ConfigError, match=r"unknown hand 'hand9000'"):
        hand_configs("hand9000")


def test_a_config_file_brings_its_other_side() -> None:
    name, configs = file_configs(ALLEGRO, urdf_dir=DEX_URDF_DIR)
    assert name == "allegro_hand" and set(configs) == {"left", "right"}
    assert configs["left"].urdf_path.endswith("allegro_hand_left.urdf")
    assert config_side("g1_hand_left_dexpilot.yml") == "left" and config_side("panda_gripper.yml") is None
