"""Forward kinematics: real URDFs, mimic and prismatic joints, the Sharpa MJCF as a reference,
and the project's own 22-DoF hand."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from labeling.hands import MEDIAPIPE21_LINKS, hand_keypoints_m, hand_tree
from labeling.kinematics.fk import axis_angle_matrix, full_joint_values, link_poses, link_positions
from labeling.kinematics.urdf import KinematicTree, load_urdf
from labeling.pose.hand21 import BONES

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
URDF_DIR = DATA / "urdf"
if not URDF_DIR.is_dir():
    pytest.skip(f"shared test data not found at {DATA}", allow_module_level=True)

ALL_URDFS = sorted(URDF_DIR.rglob("*.urdf"))
MIMIC_URDFS = ["dex-urdf/hands/inspire_hand/inspire_hand_right.urdf",
               "dex-urdf/hands/ability_hand/ability_hand_left.urdf",
               "dex-urdf/hands/panda_gripper/panda_gripper_glb.urdf"]


def random_q(tree: KinematicTree, n: int, seed: int = 0) -> npt.NDArray[np.float64]:
    limits = tree.limits()
    return np.random.default_rng(seed).uniform(limits[:, 0], limits[:, 1], size=(n, tree.n_dof))


def assert_rigid(poses: dict[str, npt.NDArray[np.float64]]) -> None:
    for name, pose in poses.items():
        assert np.isfinite(pose).all(), name
        rot = pose[:, :3, :3]
        np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rot.shape),
                                   atol=1e-9, err_msg=name)
        np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("path", ALL_URDFS, ids=lambda p: p.name)
def test_fk_zero_and_random_q_on_every_urdf(path: Path) -> None:
    tree = load_urdf(path)
    zero = link_poses(tree, np.zeros((1, tree.n_dof)))
    assert set(zero) == set(tree.link_names)
    np.testing.assert_allclose(zero[tree.root_link][0], np.eye(4))
    q = random_q(tree, 8)
    poses = link_poses(tree, q)
    assert_rigid(poses)
    values = full_joint_values(tree, q)
    for joint in tree.joints:  # a revolute joint turns its child about a point: the offset's length holds
        if joint.type in ("revolute", "continuous"):
            parent, child = poses[joint.parent], poses[joint.child]
            offset_m = np.linalg.norm(child[:, :3, 3] - parent[:, :3, 3], axis=1)
            np.testing.assert_allclose(offset_m, np.linalg.norm(joint.origin_xyz), atol=1e-9)
            angle = _relative_angle(joint.origin_matrix(), parent, child, joint.axis)
            np.testing.assert_allclose(angle, values[joint.name], atol=1e-9, err_msg=joint.name)


def _relative_angle(origin: npt.NDArray, parent: npt.NDArray, child: npt.NDArray,
                    axis: tuple[float, float, float]) -> npt.NDArray[np.float64]:
    """Signed rotation angle about `axis` of child relative to parent @ origin, (B,)."""
    rel = np.linalg.inv(parent @ origin) @ child
    rot = rel[:, :3, :3]
    sin_vec = 0.5 * np.stack([rot[:, 2, 1] - rot[:, 1, 2], rot[:, 0, 2] - rot[:, 2, 0],
                              rot[:, 1, 0] - rot[:, 0, 1]], axis=1)
    cos = (np.trace(rot, axis1=1, axis2=2) - 1.0) / 2.0
    return np.arctan2(sin_vec @ np.asarray(axis), cos)


@pytest.mark.parametrize("rel", MIMIC_URDFS, ids=lambda p: p.split("/")[-1])
def test_mimic_joints_follow_their_targets(rel: str) -> None:
    tree = load_urdf(URDF_DIR / rel)
    q = random_q(tree, 5, seed=3)
    values = full_joint_values(tree, q)
    poses = link_poses(tree, q)
    mimics = [j for j in tree.joints if j.mimic is not None]
    assert mimics
    for joint in mimics:
        expected = joint.mimic.multiplier * values[joint.mimic.joint] + joint.mimic.offset
        np.testing.assert_allclose(values[joint.name], expected)
        parent, child = poses[joint.parent], poses[joint.child]
        if joint.type == "prismatic":
            shift = np.linalg.inv(parent @ joint.origin_matrix()) @ child
            along_axis_m = expected[:, None] * np.asarray(joint.axis)
            np.testing.assert_allclose(shift[:, :3, 3], along_axis_m, atol=1e-12)
        else:
            angle = _relative_angle(joint.origin_matrix(), parent, child, joint.axis)
            np.testing.assert_allclose(angle, expected, atol=1e-9)


def test_panda_fingers_open_symmetrically() -> None:
    tree = load_urdf(URDF_DIR / "dex-urdf/hands/panda_gripper/panda_gripper_glb.urdf")
    gap0 = link_positions(tree, [[0.0]], ["panda_leftfinger", "panda_rightfinger"])[0]
    gap = link_positions(tree, [[0.03]], ["panda_leftfinger", "panda_rightfinger"])[0]
    width0, width = (np.linalg.norm(g[0] - g[1]) for g in (gap0, gap))
    assert width - width0 == pytest.approx(0.06, abs=1e-9)


def test_q_shape_is_checked() -> None:
    tree = hand_tree("right")
    with pytest.raises(ValueError, match=r"shape \(B, 22\)"):
        link_poses(tree, np.zeros(22))
    with pytest.raises(KeyError, match="no_such_link"):
        link_positions(tree, np.zeros((1, 22)), ["no_such_link"])


# --- the Sharpa MJCF (same vendor package) is an independent reference for rpy and axes --------

def _quat_matrix(wxyz: list[float]) -> npt.NDArray[np.float64]:
    w, x, y, z = np.asarray(wxyz) / np.linalg.norm(wxyz)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def _mjcf_body_poses(path: Path, q: dict[str, float]) -> dict[str, npt.NDArray[np.float64]]:
    """World poses of MJCF bodies for hinge values `q` (joints at the body origin)."""
    out: dict[str, npt.NDArray[np.float64]] = {}

    def visit(body: ET.Element, parent: npt.NDArray[np.float64]) -> None:
        local = np.eye(4)
        local[:3, 3] = [float(v) for v in body.get("pos", "0 0 0").split()]
        local[:3, :3] = _quat_matrix([float(v) for v in body.get("quat", "1 0 0 0").split()])
        pose = parent @ local
        for joint in body.findall("joint"):
            turn = np.eye(4)
            axis = np.array([float(v) for v in joint.get("axis", "0 0 1").split()])
            turn[:3, :3] = axis_angle_matrix(axis, np.array([q.get(joint.get("name"), 0.0)]))[0]
            pose = pose @ turn
        out[body.get("name")] = pose
        for child in body.findall("body"):
            visit(child, pose)

    # Only <worldbody> is parsed: the vendor's <actuator> block has an XML typo (right side).
    text = path.read_text()
    end = text.index("</worldbody>") + len("</worldbody>")
    worldbody = ET.fromstring(text[text.index("<worldbody>"):end])
    for body in worldbody.findall("body"):
        visit(body, np.eye(4))
    return out


@pytest.mark.parametrize("side", ["right", "left"])
def test_sharpa_fk_matches_its_mjcf(side: str) -> None:
    folder = URDF_DIR / f"sharpa_ha4/{side}_sharpa_ha4"
    tree = load_urdf(folder / f"{side}_sharpa_ha4_v2_1.urdf")
    for seed in range(3):
        q = random_q(tree, 1, seed=seed)
        urdf = link_poses(tree, q)
        values = dict(zip(tree.dof_joint_names, q[0], strict=True))
        mjcf = _mjcf_body_poses(folder / f"{side}_sharpa_ha4_v2_1.xml", values)
        common = set(urdf) & set(mjcf)
        assert len(common) >= 20
        for name in common:  # the MJCF quaternions carry ~6 digits
            np.testing.assert_allclose(urdf[name][0], mjcf[name], atol=2e-4, err_msg=name)


# --- egocurate_hand22 ------------------------------------------------------------------------

@pytest.mark.parametrize("side", ["left", "right"])
def test_hand22_zero_pose_is_an_open_flat_adult_hand(side: str) -> None:
    kp = hand_keypoints_m(side, np.zeros((1, 22)))[0]
    assert kp.shape == (21, 3)
    np.testing.assert_allclose(kp[0], 0.0)
    lengths = np.array([np.linalg.norm(kp[a] - kp[b]) for a, b in BONES])
    assert ((lengths > 0.015) & (lengths < 0.10)).all(), lengths
    palm_m = np.linalg.norm(kp[9])  # wrist to middle MCP
    assert 0.08 < palm_m < 0.10
    assert 0.17 < np.linalg.norm(kp[12]) < 0.20  # hand length, wrist to middle tip
    assert (kp[[8, 12, 16, 20], 0] > kp[[5, 9, 13, 17], 0] + 0.05).all()  # fingers point along +x
    assert np.abs(kp[5:, 2]).max() < 0.01  # flat: every finger keypoint near the palm plane
    thumb_side = 1.0 if side == "right" else -1.0
    assert thumb_side * kp[4, 1] > 0.06  # thumb spread to +y (right) / -y (left)
    assert thumb_side * (kp[5, 1] - kp[17, 1]) > 0.04  # index on the thumb side of the pinky


def test_hand22_left_is_the_mirror_of_right() -> None:
    q = random_q(hand_tree("right"), 6, seed=7)
    right, left = hand_keypoints_m("right", q), hand_keypoints_m("left", q)
    np.testing.assert_allclose(left, right * np.array([1.0, -1.0, 1.0]), atol=1e-12)


@pytest.mark.parametrize("side", ["left", "right"])
def test_hand22_curling_closes_fingers_toward_the_palm(side: str) -> None:
    tree = hand_tree(side)
    q = np.zeros((2, 22))
    for i, name in enumerate(tree.dof_joint_names):
        if any(k in name for k in ("MCP_FE", "_PIP", "_DIP")) and "thumb" not in name:
            q[1, i] = 1.2
    kp = hand_keypoints_m(side, q)
    open_tips, fist_tips = kp[0, [8, 12, 16, 20]], kp[1, [8, 12, 16, 20]]
    assert (np.linalg.norm(fist_tips, axis=1) < np.linalg.norm(open_tips, axis=1) - 0.06).all()
    assert (fist_tips[:, 2] < -0.02).all()  # toward the palm side (-z)
    np.testing.assert_allclose(kp[0, :5], kp[1, :5])  # thumb untouched


@pytest.mark.parametrize("side", ["left", "right"])
def test_hand22_bone_lengths_are_constant_over_random_q(side: str) -> None:
    tree = hand_tree(side)
    kp = link_positions(tree, random_q(tree, 16, seed=1), MEDIAPIPE21_LINKS[side])
    finger_bones = [(a, b) for a, b in BONES if a != 0]
    lengths = np.stack([np.linalg.norm(kp[:, a] - kp[:, b], axis=1) for a, b in finger_bones], axis=1)
    np.testing.assert_allclose(lengths, np.broadcast_to(lengths[:1], lengths.shape), atol=1e-12)
