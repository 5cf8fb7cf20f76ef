"""Batched torch FK against the numpy FK on every shared URDF, its Jacobian against autograd, mimic
joints, the floating base, errors naming the element, and (when installed) pinocchio as a reference."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch

from labeling.hands import hand_tree
from labeling.kinematics.fk import link_poses
from labeling.kinematics.torch_fk import (
    DUMMY_JOINT_NAMES,
    HandKinematics,
    LinkNameError,
    add_dummy_free_joint,
    mimic_affine,
    strip_mimic,
)
from labeling.kinematics.urdf import KinematicTree, URDFError, load_urdf

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("EGOCURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
URDF_DIR = DATA / "urdf"
if not URDF_DIR.is_dir():
    pytest.skip(f"shared test data not found at {DATA}", allow_module_level=True)

ALL_URDFS = sorted(URDF_DIR.rglob("*.urdf")) + [REPO / "labeling" / "hands" / f"egocurate_hand22_{s}.urdf"
                                                 for s in ("left", "right")]
INSPIRE = URDF_DIR / "dex-urdf/hands/inspire_hand/inspire_hand_right.urdf"
SHARPA = URDF_DIR / "sharpa_ha4/right_sharpa_ha4/right_sharpa_ha4_v2_1.urdf"


def random_dof(tree: KinematicTree, n: int, seed: int = 0) -> npt.NDArray[np.float64]:
    limits = tree.limits()
    return np.random.default_rng(seed).uniform(limits[:, 0], limits[:, 1], size=(n, tree.n_dof))


@pytest.mark.parametrize("path", ALL_URDFS, ids=lambda p: p.name)
def test_torch_fk_matches_numpy_fk(path: Path) -> None:
    tree = load_urdf(path)
    kin = HandKinematics.from_tree(tree, "cpu", torch.float64)
    q_dof = random_dof(tree, 6)
    rot, xyz = kin.forward(kin.expand(q_dof))
    reference = link_poses(tree, q_dof)
    assert set(kin.link_names) == set(tree.link_names)
    for slot, name in enumerate(kin.link_names):
        np.testing.assert_allclose(xyz[:, slot].numpy(), reference[name][:, :3, 3], atol=1e-12, err_msg=name)
        np.testing.assert_allclose(rot[:, slot].numpy(), reference[name][:, :3, :3], atol=1e-12, err_msg=name)


@pytest.mark.parametrize("path", [INSPIRE, SHARPA, URDF_DIR / "dex-urdf/hands/panda_gripper/panda_gripper_glb.urdf"],
                         ids=lambda p: p.name)
def test_jacobian_matches_autograd(path: Path) -> None:
    kin = HandKinematics.from_urdf(path, "cpu", torch.float64)
    q = torch.as_tensor(kin.expand(random_dof(kin.tree, 3, seed=1)))
    slots = kin.link_indices(kin.link_names[::2])
    points, jac = kin.positions_and_jacobian(q, slots)
    auto = torch.autograd.functional.jacobian(lambda z: kin.forward(z)[1][:, slots].sum(0), q)  # (L, 3, B, n)
    np.testing.assert_allclose(jac.numpy(), auto.permute(2, 0, 1, 3).numpy(), atol=1e-12)
    np.testing.assert_allclose(points.numpy(), kin.forward(q)[1][:, slots].numpy())


def test_fk_is_differentiable_and_batched() -> None:
    kin = HandKinematics.from_tree(hand_tree("right"), "cpu")
    q = torch.zeros(5, kin.n_joints, requires_grad=True)
    tips = kin.link_positions(q, ["right_index_tip", "right_thumb_tip"])
    assert tips.shape == (5, 2, 3) and tips.dtype == torch.float32
    tips.sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0


def test_mimic_joints_follow_their_source() -> None:
    tree = load_urdf(INSPIRE)
    kin = HandKinematics.from_tree(tree, "cpu", torch.float64)
    q_full = kin.expand(random_dof(tree, 4, seed=2))
    mimics = [j for j in tree.joints if j.mimic is not None]
    assert len(mimics) == 6 and kin.n_joints == 12
    for joint in mimics:
        source = q_full[:, kin.joint_names.index(joint.mimic.joint)]
        np.testing.assert_allclose(q_full[:, kin.joint_names.index(joint.name)],
                                   joint.mimic.multiplier * source + joint.mimic.offset)
    matrix, offset = mimic_affine(tree, tree.dof_joint_names)
    assert matrix.shape == (12, 6) and offset.shape == (12,)
    free = strip_mimic(tree)
    assert all(j.mimic is None for j in free.joints) and free.n_dof == 12


def test_joint_order_is_dex_retargetings() -> None:
    tree = load_urdf(URDF_DIR / "dex-urdf/hands/allegro_hand/allegro_hand_right.urdf")
    kin = HandKinematics.from_tree(tree, "cpu")
    assert kin.joint_names[:8] == ("joint_0.0", "joint_1.0", "joint_2.0", "joint_3.0",
                                   "joint_12.0", "joint_13.0", "joint_14.0", "joint_15.0")


def test_pinocchio_agrees_when_installed() -> None:
    pin = pytest.importorskip("pinocchio")
    for path in (SHARPA, INSPIRE):
        model = pin.buildModelFromUrdf(str(path))
        data = model.createData()
        kin = HandKinematics.from_urdf(path, "cpu", torch.float64)
        assert [n for i, n in enumerate(model.names) if model.nqs[i] > 0] == list(kin.joint_names)
        q = kin.expand(random_dof(kin.tree, 1, seed=4))[0]
        pin.forwardKinematics(model, data, q)
        pin.updateFramePlacements(model, data)
        xyz = kin.forward(q[None])[1][0].numpy()
        for slot, name in enumerate(kin.link_names):
            frame = model.getFrameId(name, pin.BODY)
            np.testing.assert_allclose(xyz[slot], data.oMf[frame].translation, atol=1e-9, err_msg=name)


def test_dummy_free_joint_floats_the_hand() -> None:
    tree = add_dummy_free_joint(load_urdf(INSPIRE))
    kin = HandKinematics.from_tree(tree, "cpu", torch.float64)
    assert kin.joint_names[:6] == DUMMY_JOINT_NAMES and tree.dof_joint_names[:6] == DUMMY_JOINT_NAMES
    q = np.zeros((2, kin.n_joints))
    q[1, :3] = [0.1, -0.2, 0.3]
    q[1, 5] = np.pi / 2  # a quarter turn about z
    xyz = kin.forward(q)[1].numpy()
    base = kin.link_names.index("base")
    np.testing.assert_allclose(xyz[1, base], [0.1, -0.2, 0.3], atol=1e-12)
    hand = [i for i, name in enumerate(kin.link_names) if not name.startswith("dummy_")]
    offset0, offset1 = xyz[0, hand] - xyz[0, base], xyz[1, hand] - xyz[1, base]
    np.testing.assert_allclose(offset1[:, 0], -offset0[:, 1], atol=1e-12)
    np.testing.assert_allclose(offset1[:, 1], offset0[:, 0], atol=1e-12)


def test_unknown_link_names_the_link_and_the_urdf() -> None:
    kin = HandKinematics.from_tree(hand_tree("left"), "cpu")
    with pytest.raises(LinkNameError, match=r"unknown link 'left_sixth_tip' in .*egocurate_hand22_left\.urdf"):
        kin.link_positions(np.zeros((1, 22)), ["left_wrist", "left_sixth_tip"])
    with pytest.raises(ValueError, match=r"shape \(B, 22\)"):
        kin.forward(np.zeros((1, 21)))


def test_malformed_urdf_names_the_element(tmp_path: Path) -> None:
    path = tmp_path / "bad.urdf"
    path.write_text('<robot name="r"><link name="a"/><link name="b"/>'
                    '<joint name="j1" type="revolute"><parent link="a"/><child link="c"/></joint></robot>')
    with pytest.raises(URDFError, match=r"bad\.urdf: joint 'j1': child link 'c' is not defined"):
        HandKinematics.from_urdf(path)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fk_on_cuda_matches_cpu() -> None:
    tree = load_urdf(SHARPA)
    q = HandKinematics.from_tree(tree, "cpu").expand(random_dof(tree, 64))
    cpu = HandKinematics.from_tree(tree, "cpu", torch.float64).forward(q)[1].numpy()
    gpu = HandKinematics.from_tree(tree, "cuda", torch.float64).forward(q)[1].cpu().numpy()
    np.testing.assert_allclose(gpu, cpu, atol=1e-9)
