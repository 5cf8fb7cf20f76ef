"""URDF parsing against the real hand URDFs in shared/data and against broken ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from labeling.hands import HANDS, MEDIAPIPE21_LINKS, hand_tree
from labeling.kinematics.urdf import KinematicTree, URDFError, load_urdf, parse_urdf

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
URDF_DIR = DATA / "urdf"
if not URDF_DIR.is_dir():
    pytest.skip(f"shared test data not found at {DATA}", allow_module_level=True)

ALL_URDFS = sorted(URDF_DIR.rglob("*.urdf"))

# (relative path, root link, independent DoF, movable joints incl. mimic); from data/SOURCES.md.
EXPECTED = [
    ("sharpa_ha4/right_sharpa_ha4/right_sharpa_ha4_v2_1.urdf", "right_hand_C_MC", 22, 22),
    ("sharpa_ha4/left_sharpa_ha4/left_sharpa_ha4_v2_1.urdf", "left_hand_C_MC", 22, 22),
    ("unitree_g1_dex3/G1_right_hand.urdf", "base_link", 7, 7),
    ("unitree_g1_dex3/G1_left_hand.urdf", "base_link", 7, 7),
    ("dex-urdf/hands/allegro_hand/allegro_hand_right.urdf", "base_link", 16, 16),
    ("dex-urdf/hands/allegro_hand/allegro_hand_left.urdf", "base_link", 16, 16),
    ("dex-urdf/hands/leap_hand/leap_hand_right.urdf", "base", 16, 16),
    ("dex-urdf/hands/leap_hand/leap_hand_left.urdf", "base", 16, 16),
    ("dex-urdf/hands/inspire_hand/inspire_hand_right.urdf", "base", 6, 12),
    ("dex-urdf/hands/inspire_hand/inspire_hand_left.urdf", "base", 6, 12),
    ("dex-urdf/hands/ability_hand/ability_hand_right.urdf", "base_link", 6, 10),
    ("dex-urdf/hands/ability_hand/ability_hand_left.urdf", "base_link", 6, 10),
    ("dex-urdf/hands/dclaw_gripper/dclaw_gripper.urdf", "base", 9, 9),
    ("dex-urdf/hands/barrett_hand/bhand_model.urdf", "base_link", 8, 8),
    ("dex-urdf/hands/panda_gripper/panda_gripper_glb.urdf", "panda_hand", 1, 2),
]


@pytest.mark.parametrize("path", ALL_URDFS, ids=lambda p: p.name)
def test_every_shared_urdf_parses(path: Path) -> None:
    tree = load_urdf(path)
    assert isinstance(tree, KinematicTree)
    assert tree.n_dof > 0
    assert tree.limits().shape == (tree.n_dof, 2)
    seen = {tree.root_link}
    for joint in tree.joints:  # topological: a joint's parent link is placed before it
        assert joint.parent in seen, joint.name
        seen.add(joint.child)
    assert seen == set(tree.link_names)


@pytest.mark.parametrize(("rel", "root", "n_dof", "n_movable"), EXPECTED, ids=lambda v: str(v).split("/")[-1])
def test_dof_counts_and_roots_match_sources(rel: str, root: str, n_dof: int, n_movable: int) -> None:
    tree = load_urdf(URDF_DIR / rel)
    assert tree.root_link == root
    assert tree.n_dof == n_dof
    assert len(tree.pinocchio_joint_names) == n_movable


@pytest.mark.parametrize("side", ["Right", "Left"])
def test_sharpa_dof_order_is_the_controller_order(side: str) -> None:
    low = side.lower()
    tree = load_urdf(URDF_DIR / f"sharpa_ha4/{low}_sharpa_ha4/{low}_sharpa_ha4_v2_1.urdf")
    config = URDF_DIR / f"sharpa_ha4/{low}_sharpa_ha4/config/joint_names_{side}_Sharpa_HA4.yaml"
    controller = [n for n in yaml.safe_load(config.read_text())["controller_joint_names"] if n]
    assert list(tree.dof_joint_names) == controller


def test_sharpa_dof_order_is_the_isaacteleop_target_order() -> None:
    cfg = DATA / "retargeting_configs/isaacteleop/sharpa_ha4_right_dexpilot.yml"
    targets = yaml.safe_load(cfg.read_text())["retargeting"]["target_joint_names"]
    tree = load_urdf(URDF_DIR / "sharpa_ha4/right_sharpa_ha4/right_sharpa_ha4_v2_1.urdf")
    assert list(tree.dof_joint_names) == targets


def test_g1_order_matches_sources() -> None:
    tree = load_urdf(URDF_DIR / "unitree_g1_dex3/G1_right_hand.urdf")
    assert [n.removeprefix("right_hand_").removesuffix("_joint") for n in tree.dof_joint_names] == [
        "thumb_0", "thumb_1", "thumb_2", "middle_0", "middle_1", "index_0", "index_1"]


def test_pinocchio_order_matches_dex_retargeting_allegro() -> None:
    # dex-retargeting's RobotWrapper.dof_joint_names for Allegro, as printed by its users:
    # depth first with sibling joints sorted by name (urdfdom keeps joints in a std::map).
    tree = load_urdf(URDF_DIR / "dex-urdf/hands/allegro_hand/allegro_hand_right.urdf")
    order = [0, 1, 2, 3, 12, 13, 14, 15, 4, 5, 6, 7, 8, 9, 10, 11]
    assert list(tree.pinocchio_joint_names) == [f"joint_{i}.0" for i in order]
    assert list(tree.dof_joint_names) == [f"joint_{i}.0" for i in range(16)]


@pytest.mark.parametrize("side", ["left", "right"])
def test_pinocchio_order_matches_isaacteleop_g1_outputs(side: str) -> None:
    # The IsaacTeleop G1 retargeting outputs name their 7 columns in the retargeter's order.
    npz = np.load(DATA / f"hand_keypoints/isaacteleop_mano_hand_retargeter/{side}_hand_traj_optrot_nopickle.npz")
    tree = load_urdf(URDF_DIR / f"unitree_g1_dex3/G1_{side}_hand.urdf")
    assert list(tree.pinocchio_joint_names) == [str(n) for n in npz[f"{side}_dof_names"]]
    assert tree.pinocchio_joint_names != tree.dof_joint_names  # document order is thumb first


def test_mimic_joints_parsed() -> None:
    tree = load_urdf(URDF_DIR / "dex-urdf/hands/inspire_hand/inspire_hand_right.urdf")
    mimics = {j.name: j.mimic for j in tree.joints if j.mimic is not None}
    assert len(mimics) == 6
    assert mimics["index_intermediate_joint"].joint == "index_proximal_joint"
    assert mimics["index_intermediate_joint"].multiplier == pytest.approx(1.06399)
    assert mimics["index_intermediate_joint"].offset == pytest.approx(-0.04545)
    assert not set(mimics) & set(tree.dof_joint_names)


@pytest.mark.parametrize("cfg", sorted((DATA / "retargeting_configs/dex-retargeting").rglob("*.yml")),
                         ids=lambda p: p.name)
def test_dex_retargeting_configs_name_existing_joints_and_links(cfg: Path) -> None:
    spec = yaml.safe_load(cfg.read_text())["retargeting"]
    tree = load_urdf(URDF_DIR / "dex-urdf/hands" / spec["urdf_path"])
    assert set(spec.get("target_joint_names") or []) <= set(tree.dof_joint_names)
    links = set(tree.link_names)
    for key in ("target_link_names", "target_origin_link_names", "target_task_link_names",
                "finger_tip_link_names"):
        assert set(spec.get(key) or []) <= links, key
    if spec.get("wrist_link_name"):
        assert spec["wrist_link_name"] in links


@pytest.mark.parametrize("side", ["left", "right"])
def test_egocurate_hand22_has_the_sharpa_layout(side: str) -> None:
    tree = hand_tree(side)
    sharpa = load_urdf(URDF_DIR / f"sharpa_ha4/{side}_sharpa_ha4/{side}_sharpa_ha4_v2_1.urdf")
    assert tree.dof_joint_names == sharpa.dof_joint_names
    assert tree.root_link == HANDS["egocurate_hand22"].wrist_links[side] == f"{side}_wrist"
    assert set(MEDIAPIPE21_LINKS[side]) <= set(tree.link_names)
    limits = tree.limits()
    assert (limits[:, 0] <= 0).all() and (limits[:, 1] > 0).all()  # zero pose is inside the limits


# --- broken URDFs: each error names the element and the reason ---------------------------------

def _urdf(body: str) -> str:
    return f'<robot name="r">{body}</robot>'


_LINKS = '<link name="a"/><link name="b"/><link name="c"/>'
_LIMIT = '<limit lower="-1" upper="1"/>'
_AB = f'<joint name="j1" type="revolute"><parent link="a"/><child link="b"/>{_LIMIT}</joint>'
_BC = f'<joint name="j2" type="revolute"><parent link="b"/><child link="c"/>{_LIMIT}</joint>'


def _bc(old: str, new: str) -> str:
    """A valid a→b→c chain with one edit in joint j2."""
    return _urdf(_LINKS + _AB + _BC.replace(old, new))


BROKEN = {
    "malformed xml": ("<robot><link name='a'></robot>", ["malformed XML"]),
    "not a robot": ("<model/>", ["<model>", "<robot>"]),
    "unknown child link": (_urdf(_LINKS + _AB.replace('child link="b"', 'child link="zz"')),
                           ["joint 'j1'", "'zz'", "not defined"]),
    "unknown parent link": (_urdf(_LINKS + _AB.replace('parent link="a"', 'parent link="nope"')),
                            ["joint 'j1'", "'nope'", "not defined"]),
    "two roots": (_urdf(_LINKS + _AB), ["2 root links", "'a'", "'c'"]),
    "cycle": (_urdf(_LINKS + _AB + _BC + _AB.replace("j1", "j3").replace('parent link="a"', 'parent link="c"')
                    .replace('child link="b"', 'child link="a"')), ["cycle"]),
    "self loop": (_bc('parent link="b"', 'parent link="c"'), ["joint 'j2'", "cycle"]),
    "mimic absent joint": (_bc("</joint>", '<mimic joint="ghost"/></joint>'),
                           ["joint 'j2'", "'ghost'", "names no joint"]),
    "bad number": (_bc("<parent", '<origin xyz="0 0.1 abc"/><parent'),
                   ["joint 'j2'", "'abc'", "not a number"]),
    "short vector": (_bc("<parent", '<origin rpy="0 1"/><parent'),
                     ["joint 'j2'", "rpy", "3 numbers"]),
    "bad limit": (_bc('upper="1"', 'upper="x1"'), ["joint 'j2'", "upper", "'x1'"]),
    "inverted limit": (_bc('lower="-1"', 'lower="2"'), ["joint 'j2'", "above upper"]),
    "bad mimic multiplier": (_bc("</joint>", '<mimic joint="j1" multiplier="k"/></joint>'),
                             ["joint 'j2'", "multiplier", "'k'"]),
    "unsupported type": (_bc('type="revolute"', 'type="floating"'),
                         ["joint 'j2'", "'floating'"]),
    "zero axis": (_bc("<parent", '<axis xyz="0 0 0"/><parent'), ["joint 'j2'", "zero"]),
    "duplicate link": (_urdf(_LINKS + '<link name="b"/>' + _AB + _BC), ["link 'b'", "twice"]),
    "no parent element": (_urdf(_LINKS + _AB + '<joint name="j2" type="fixed"><child link="c"/></joint>'),
                          ["joint 'j2'", "<parent"]),
    "mimic loop": (_urdf(_LINKS + _AB.replace("</joint>", '<mimic joint="j2"/></joint>')
                         + _BC.replace("</joint>", '<mimic joint="j1"/></joint>')), ["mimic", "loops"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_urdf_raises_naming_element(case: str) -> None:
    text, fragments = BROKEN[case]
    with pytest.raises(URDFError) as info:
        parse_urdf(text, source="bad.urdf")
    message = str(info.value)
    assert message.startswith("bad.urdf: ")
    for fragment in fragments:
        assert fragment in message, (case, message)


def test_good_minimal_urdf_parses() -> None:
    tree = parse_urdf(_urdf(_LINKS + _AB + _BC), source="ok.urdf")
    assert tree.root_link == "a" and tree.dof_joint_names == ("j1", "j2")


def test_load_urdf_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.urdf"
    with pytest.raises(URDFError, match="nope.urdf: cannot read URDF"):
        load_urdf(missing)
