"""Hostile URDFs and YAML configs: every one is refused with an error naming the file and the key or element."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from curation.rules import DEFAULT_RULES_PATH, RuleSet
from labeling.kinematics.urdf import URDFError, load_urdf
from labeling.retarget.config import ConfigError, RetargetConfig
from trainer.train import TrainConfig, config_path

SHARPA = "urdf/sharpa_ha4/right_sharpa_ha4/right_sharpa_ha4_v2_1.urdf"
ALLEGRO_CONFIG = "retargeting_configs/dex-retargeting/teleop/allegro_hand_right.yml"


def _edited_urdf(shared_data: Path, tmp_path: Path, edit) -> Path:  # noqa: ANN001 (str -> str)
    text = (shared_data / SHARPA).read_text()
    path = tmp_path / "edited.urdf"
    path.write_text(edit(text))
    return path


def _first_joint(text: str) -> re.Match:
    return re.search(r'<joint\s+name="([^"]+)"\s+type="revolute"', text)


URDF_EDITS = {
    # The first revolute joint's child becomes its own grandparent's parent: a cycle through the root.
    "cycle": (lambda t: t.replace("</robot>", '<joint name="loop" type="fixed"><parent link="right_thumb_DP"/>'
                                              '<child link="right_hand_C_MC"/></joint></robot>'), "cycle|parent"),
    "mimic target absent": (lambda t: t.replace(_first_joint(t).group(0),
                                                _first_joint(t).group(0) + '><mimic joint="no_such_joint"/',
                                                1).replace('/>>', '/>'), "no_such_joint"),
    "unknown link": (lambda t: t.replace("</robot>", '<joint name="extra" type="fixed"><parent link="ghost_link"/>'
                                                     '<child link="right_thumb_DP"/></joint></robot>'), "ghost_link"),
    "truncated": (lambda t: t[: len(t) // 2], "malformed XML"),
    "not xml": (lambda t: "name: a yaml file\n", "malformed XML"),
    "billion laughs": (lambda t: '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                                 + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'
                                           for i in range(9))
                                 + ']><robot name="r"><link name="&j;"/></robot>', "malformed XML"),
    "external entity": (lambda t: '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                  '<robot name="r"><link name="&x;"/></robot>', "malformed XML"),
}


@pytest.mark.parametrize("case", sorted(URDF_EDITS))
def test_hostile_urdfs_are_refused_naming_the_file(shared_data, tmp_path, case):
    edit, expected = URDF_EDITS[case]
    path = _edited_urdf(shared_data, tmp_path, edit)
    with pytest.raises(URDFError) as info:
        load_urdf(path)
    assert str(info.value).startswith(str(path)) and re.search(expected, str(info.value)), str(info.value)


def test_binary_and_empty_urdf_files(tmp_path):
    (tmp_path / "binary.urdf").write_bytes(bytes(range(256)))
    (tmp_path / "empty.urdf").write_bytes(b"")
    for name in ("binary.urdf", "empty.urdf"):
        with pytest.raises(URDFError, match=name):
            load_urdf(tmp_path / name)


def _retarget_yaml(shared_data: Path, tmp_path: Path, **changes: object) -> Path:
    document = yaml.safe_load((shared_data / ALLEGRO_CONFIG).read_text())
    document["retargeting"].update(changes)
    path = tmp_path / "hand.yml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize("changes, field", [
    ({"scaling_factor": "big"}, "scaling_factor"),
    ({"low_pass_alpha": [0.2]}, "low_pass_alpha"),
    ({"target_task_link_names": "link_15.0_tip"}, "target_task_link_names"),
    ({"target_link_human_indices": [["a"], ["b"]]}, "target_link_human_indices"),
    ({"has_joint_limits": "no"}, "has_joint_limits"),
    ({"type": 3}, "type"),
    ({"urdf_path": 42}, "urdf_path"),
    ({"learning_rate": 0.1}, "learning_rate"),
])
def test_retarget_yaml_with_wrong_types_or_unknown_keys(shared_data, tmp_path, changes, field):
    path = _retarget_yaml(shared_data, tmp_path, **changes)
    with pytest.raises(ConfigError) as info:
        RetargetConfig.from_yaml(path, urdf_dir=shared_data / "urdf/dex-urdf/hands")
    assert str(path) in str(info.value) and field in str(info.value), str(info.value)


def test_retarget_config_naming_a_joint_the_urdf_lacks(shared_data, tmp_path):
    path = _retarget_yaml(shared_data, tmp_path, target_joint_names=["joint_0.0", "joint_404"])
    config = RetargetConfig.from_yaml(path, urdf_dir=shared_data / "urdf/dex-urdf/hands")
    with pytest.raises(ConfigError, match=r"hand.yml: RetargetConfig.target_joint_names: 'joint_404'"):
        config.build("cpu")


def _rules_yaml(tmp_path: Path, edit) -> Path:  # noqa: ANN001 (a function on the first rule dict)
    document = yaml.safe_load(DEFAULT_RULES_PATH.read_text())
    edit(document["rules"][0])
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize("edit, key", [
    (lambda r: r.update(threshold="one"), "Rule.threshold"),
    (lambda r: r.update(outlier_k=[5]), "Rule.outlier_k"),
    (lambda r: r.update(min_group="8"), "Rule.min_group"),
    (lambda r: r.update(per_hand="yes"), "Rule.per_hand"),
    (lambda r: r.update(reason=12), "Rule.reason"),
    (lambda r: r.update(suppressed_by="tracking_dropout"), "Rule.suppressed_by"),
    (lambda r: r.update(threshhold=1), "unknown keys \\['threshhold'\\]"),
    (lambda r: r.update(metric="nonsense"), "Rule.metric"),
])
def test_rules_yaml_with_wrong_types_or_unknown_keys(tmp_path, edit, key):
    path = _rules_yaml(tmp_path, edit)
    with pytest.raises(ValueError, match=key) as info:
        RuleSet.from_yaml(path)
    assert str(info.value).startswith(f"{path}: ") and "handedness_swap" in str(info.value)


@pytest.mark.parametrize("text, reason", [
    ("rules: [unclosed\n", "cannot read rules"),
    ("- just\n- a list\n", "expected a mapping with a 'rules:' list"),
    ("rules: 5\n", "expected a mapping with a 'rules:' list"),
    ("rules: [5]\n", "rules entry 1 is not a mapping"),
])
def test_rules_yaml_of_the_wrong_shape(tmp_path, text, reason):
    (tmp_path / "r.yml").write_text(text)
    with pytest.raises(ValueError, match=re.escape(reason)):
        RuleSet.from_yaml(tmp_path / "r.yml")


@pytest.mark.parametrize("text, key", [
    ("batch_size: '32'\n", "TrainConfig.batch_size"),
    ("lr: [0.001]\n", "TrainConfig.lr"),
    ("compile: 'no'\n", "TrainConfig.compile"),
    ("max_steps: true\n", "TrainConfig.max_steps"),
    ("stage: 3\n", "TrainConfig.stage"),
    ("model: {d_model: 64.5}\n", "ModelConfig.d_model"),
    ("model: [1, 2]\n", "ModelConfig values must be a mapping"),
    ("model: {width: 3}\n", "unknown fields \\['width'\\]"),
    ("learning_rate: 0.1\n", "unknown fields \\['learning_rate'\\]"),
    ("- a\n- list\n", "a mapping of TrainConfig fields"),
    ("lr: [unclosed\n", "cannot read the training config"),
])
def test_train_config_yaml_with_wrong_types_or_unknown_keys(tmp_path, text, key):
    path = tmp_path / "train.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=key) as info:
        TrainConfig.from_yaml(path)
    assert str(info.value).startswith(str(path))


def test_shipped_configs_still_load():
    assert len(RuleSet.from_yaml().rules) > 5
    for name in ("smoke", "small", "paper"):
        assert TrainConfig.from_yaml(config_path(name)).max_steps >= 1
    assert TrainConfig.from_dict({"lr": 1, "init": None, "model": {"text_model": None}}).lr == 1
