"""The clip retargeter: round trips through FK on every shared hand config and the built-in hand,
mimic joints, joint limits, the smoothness term, and dex-retargeting's objective reproduced."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch

from labeling.hands import MEDIAPIPE21_LINKS
from labeling.retarget.config import RetargetConfig
from labeling.retarget.objective import dexpilot_targets, hysteresis
from labeling.retarget.registry import hand_configs
from labeling.retarget.solver import Retargeter, SolverOptions, interpolate_segments, low_pass

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("EGOCURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
CONFIG_DIR = DATA / "retargeting_configs"
URDF_DIR = DATA / "urdf"
if not CONFIG_DIR.is_dir():
    pytest.skip(f"shared test data not found at {DATA}", allow_module_level=True)

ALL_CONFIGS = sorted(CONFIG_DIR.rglob("*.yml"))
HUMAN_KEYPOINTS = DATA / "hand_keypoints" / "dexretargeting_human_joint_right.npz"
N_SAMPLES = 64
# Round trips compare exact geometry, so the output filter and DexPilot's pinch projection (which
# pulls pinching fingertips together on purpose) are off.
EXACT = {"low_pass_alpha": 1.0, "project_dist": 0.0, "escape_dist": 0.0}
# Random in-limit poses of 16-joint hands matched by fingertips alone have local minima (LEAP):
# a few seeded restarts per frame find the global one.
ROUND_TRIP = SolverOptions(restarts=4)


def sample_poses(retargeter: Retargeter, n: int, seed: int) -> npt.NDArray[np.float64]:
    """`(n, n_joints)` random in-limit poses; a floating base stays within 10 cm and 0.5 rad."""
    limits = retargeter.target_limits.copy()
    if retargeter.config.add_dummy_free_joint:
        limits[:3], limits[3:6] = (-0.1, 0.1), (-0.5, 0.5)
    x = np.random.default_rng(seed).uniform(limits[:, 0], limits[:, 1], size=(n, len(limits)))
    return retargeter.full_q(torch.as_tensor(x, dtype=retargeter.dtype)).numpy().astype(np.float64)


def human_keypoints_for(retargeter: Retargeter, q: npt.NDArray[np.float64]
                        ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """MANO-frame human keypoints whose (scaled) vectors are exactly the robot's at `q`, and the robot links."""
    cfg = retargeter.config
    links = retargeter.link_positions(q, retargeter.link_names)
    scale = 1.0 if cfg.type == "position" else cfg.scaling_factor
    pairs = [(retargeter.human_indices[-1], retargeter.task_index)]
    if cfg.type != "position":
        pairs.append((retargeter.human_indices[0], retargeter.origin_index))
    human = np.zeros((len(q), 21, 3))
    owner: dict[int, int] = {}
    for human_row, link_row in pairs:
        for h, link in zip(human_row, link_row, strict=True):
            assert owner.setdefault(int(h), link) == link, "a human keypoint would sit at two robot links"
            human[:, h] = links[:, link] / scale
    return human @ retargeter.input_rotation, links  # root = input_rotation @ mano


def round_trip_mm(retargeter: Retargeter, seed: int = 7, options: SolverOptions = ROUND_TRIP
                  ) -> npt.NDArray[np.float64]:
    q = sample_poses(retargeter, N_SAMPLES, seed)
    human, links = human_keypoints_for(retargeter, q)
    result = retargeter.retarget(human, starts=np.ones(N_SAMPLES, bool), options=options)
    back = retargeter.link_positions(result.q_rad, retargeter.link_names)
    return np.linalg.norm(back - links, axis=-1).mean(axis=1) * 1000


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_round_trip_every_shared_hand_config(path: Path) -> None:
    retargeter = RetargetConfig.from_yaml(path, EXACT, urdf_dir=URDF_DIR).build("cpu")
    error_mm = round_trip_mm(retargeter)
    assert error_mm.mean() < 2.0, f"mean {error_mm.mean():.2f} mm, worst {error_mm.max():.1f} mm"


@pytest.mark.parametrize("side", ["left", "right"])
def test_round_trip_builtin_hand_all_21_keypoints(side: str) -> None:
    retargeter = hand_configs("egocurate_hand22", sides=(side,))[side].build("cpu")
    q = sample_poses(retargeter, N_SAMPLES, seed=11)
    keypoints = retargeter.link_positions(q, MEDIAPIPE21_LINKS[side])
    result = retargeter.retarget(keypoints @ retargeter.input_rotation, starts=np.ones(N_SAMPLES, bool))
    back = retargeter.link_positions(result.q_rad, MEDIAPIPE21_LINKS[side])
    assert np.linalg.norm(back - keypoints, axis=-1).mean() * 1000 < 2.0  # default options, no restarts
    assert result.q_rad.shape == (N_SAMPLES, 22) and result.residual_m.mean() < 2e-3


def test_mimic_joints_are_respected() -> None:
    retargeter = RetargetConfig.from_yaml(CONFIG_DIR / "dex-retargeting/teleop/inspire_hand_right.yml",
                                          {"low_pass_alpha": 1.0}, urdf_dir=URDF_DIR).build("cpu")
    human = np.load(HUMAN_KEYPOINTS)["keypoints"][:40].astype(np.float64)
    q = retargeter.retarget(human).q_rad.astype(np.float64)
    assert q.shape == (40, 12)
    for joint in (j for j in retargeter.tree.joints if j.mimic is not None):
        source = q[:, retargeter.joint_names.index(joint.mimic.joint)]
        np.testing.assert_allclose(q[:, retargeter.joint_names.index(joint.name)],
                                   joint.mimic.multiplier * source + joint.mimic.offset, atol=1e-6)


def test_joint_limits_are_never_violated() -> None:
    retargeter = RetargetConfig.from_yaml(CONFIG_DIR / "isaacteleop/g1_hand_right_dexpilot.yml",
                                          urdf_dir=URDF_DIR).build("cpu")
    human = np.load(HUMAN_KEYPOINTS)["keypoints"][::4].astype(np.float64)
    rng = np.random.default_rng(3)
    human = human * rng.uniform(0.2, 3.0, size=(len(human), 1, 1))  # hands far too small and too large
    q = retargeter.retarget(human).q_rad
    columns = [retargeter.joint_names.index(n) for n in retargeter.target_joint_names]
    lower, upper = retargeter.target_limits.T.astype(np.float32)
    assert (q[:, columns] >= lower).all() and (q[:, columns] <= upper).all()
    assert np.isclose(q[:, columns], lower).any() or np.isclose(q[:, columns], upper).any()  # limits were hit


def test_smoothness_reduces_jitter_on_noisy_input() -> None:
    retargeter = hand_configs("egocurate_hand22", sides=("right",))["right"].build("cpu")
    t = np.linspace(0.0, 1.0, 90)[:, None]
    lower, upper = retargeter.target_limits.T
    q_true = retargeter.full_q(torch.as_tensor(lower + (upper - lower) * (0.4 + 0.2 * np.sin(2 * np.pi * t)),
                                               dtype=retargeter.dtype)).numpy()
    clean = retargeter.link_positions(q_true, MEDIAPIPE21_LINKS["right"]) @ retargeter.input_rotation
    noisy = clean + np.random.default_rng(5).normal(0.0, 0.004, size=clean.shape)  # 4 mm tracking noise

    def jitter(smoothness: float) -> float:
        q = retargeter.retarget(noisy, options=SolverOptions(smoothness=smoothness)).q_rad
        return float(np.abs(np.diff(q, n=2, axis=0)).mean())

    rough, smooth = jitter(0.0), jitter(0.05)
    assert smooth < 0.5 * rough, (rough, smooth)


def test_objective_is_dex_retargetings_vector_loss() -> None:
    cfg = RetargetConfig.from_yaml(CONFIG_DIR / "dex-retargeting/teleop/allegro_hand_right.yml", urdf_dir=URDF_DIR)
    retargeter = cfg.build("cpu")
    human = np.load(HUMAN_KEYPOINTS)["keypoints"][:20].astype(np.float64)
    q = sample_poses(retargeter, 20, seed=2)
    value, residual = retargeter.evaluate(q, human)
    links = retargeter.link_positions(q, retargeter.link_names)
    robot = links[:, retargeter.task_index] - links[:, retargeter.origin_index]
    origin, task = np.asarray(cfg.target_link_human_indices)
    error = np.linalg.norm(robot - cfg.scaling_factor * (human[:, task] - human[:, origin]), axis=-1)
    delta = cfg.huber_delta
    huber = np.where(error < delta, 0.5 * error**2 / delta, error - 0.5 * delta)  # torch SmoothL1Loss(beta)
    np.testing.assert_allclose(value, huber.mean(axis=1), rtol=1e-4)
    np.testing.assert_allclose(residual, error.mean(axis=1), rtol=1e-4)


def test_objective_matches_dex_retargeting_when_installed() -> None:
    dex_config = pytest.importorskip("dex_retargeting.retargeting_config")
    path = CONFIG_DIR / "isaacteleop/sharpa_ha4_right_dexpilot.yml"
    ours = RetargetConfig.from_yaml(path, urdf_dir=URDF_DIR).build("cpu")
    dex = dex_config.RetargetingConfig.load_from_file(path, override={"urdf_path": ours.config.urdf_path}).build()
    human = np.load(HUMAN_KEYPOINTS)["keypoints"][:30].astype(np.float64)
    origin, task = dex.optimizer.target_link_human_indices
    raw, values = [], []
    for frame in human:
        dex.retarget(frame[task] - frame[origin])
        raw.append(dex.last_qpos.copy())
        values.append(dex.optimizer.opt.last_optimum_value())
    columns = [list(dex.optimizer.target_joint_names).index(n) for n in ours.target_joint_names]
    q = ours.full_q(torch.as_tensor(np.asarray(raw)[:, columns], dtype=ours.dtype)).numpy()
    np.testing.assert_allclose(ours.evaluate(q, human)[0], values, rtol=1e-3, atol=1e-7)
    assert list(ours.joint_names) == list(dex.joint_names)


def test_dexpilot_projection_has_hysteresis() -> None:
    enter = np.array([[0], [1], [0], [0], [0], [1]], dtype=bool)
    leave = np.array([[0], [0], [0], [1], [0], [0]], dtype=bool)
    starts = np.array([1, 0, 0, 0, 0, 0], dtype=bool)
    assert hysteresis(enter, leave, starts)[:, 0].tolist() == [False, True, True, False, False, True]
    restart = starts.copy()
    restart[2] = True
    assert hysteresis(enter, leave, restart)[:, 0].tolist() == [False, True, False, False, False, True]
    thumb_index_mm = np.array([50.0, 20.0, 40.0, 60.0])  # pinch, hold (between 30 and 50 mm), release
    human = np.zeros((4, 6, 3))  # 3 fingers: 3 pair vectors, then 3 wrist vectors
    human[:, 0, 0] = thumb_index_mm / 1000
    human[:, 1:, 0] = 0.1
    reference, weight = dexpilot_targets(human, np.r_[True, False, False, False], 1.0, 0.03, 0.05, 3)
    assert np.allclose(np.linalg.norm(reference[:, 0], axis=-1), [0.05, 1e-4, 1e-4, 0.06], atol=1e-6)
    assert (weight[[1, 2], 0] * 6 == 200).all() and (weight[:, 3:] * 6 == 6).all()


def test_low_pass_is_dex_retargetings_filter() -> None:
    q = np.random.default_rng(0).normal(size=(12, 3))
    starts = np.zeros(12, bool)
    starts[[0, 7]] = True
    out = low_pass(q, 0.2, starts)
    expected, y = [], None
    for i, row in enumerate(q):
        y = row.copy() if starts[i] else y + 0.2 * (row - y)
        expected.append(y.copy())
    np.testing.assert_allclose(out, expected)
    np.testing.assert_array_equal(low_pass(q, 1.0, starts), q)


def test_interpolation_stays_inside_segments() -> None:
    values = np.array([[0.0], [4.0], [10.0], [20.0]])
    at = np.array([0, 4, 5, 9])
    segment = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    out = interpolate_segments(values, at, segment)[:, 0]
    np.testing.assert_allclose(out, [0, 1, 2, 3, 4, 10, 12.5, 15, 17.5, 20])


def test_warm_start_and_input_checks() -> None:
    retargeter = hand_configs("egocurate_hand22", sides=("left",))["left"].build("cpu")
    q = sample_poses(retargeter, 5, seed=1)
    human = retargeter.link_positions(q, MEDIAPIPE21_LINKS["left"]) @ retargeter.input_rotation
    result = retargeter.retarget(human, starts=np.ones(5, bool), q_init=q, options=SolverOptions(iterations=1))
    np.testing.assert_allclose(result.q_rad, q, atol=1e-4)  # started at the answer, stays there
    with pytest.raises(ValueError, match=r"keypoints must be finite with shape \(T, 21, 3\)"):
        retargeter.retarget(np.full((3, 21, 3), np.nan))
    with pytest.raises(ValueError, match="SolverOptions.iterations"):
        SolverOptions(iterations=-1)
    assert retargeter.retarget(np.zeros((0, 21, 3))).q_rad.shape == (0, 22)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_round_trip() -> None:
    retargeter = RetargetConfig.from_yaml(CONFIG_DIR / "isaacteleop/sharpa_ha4_right_dexpilot.yml", EXACT,
                                          urdf_dir=URDF_DIR).build("cuda")
    assert retargeter.device.type == "cuda"
    assert round_trip_mm(retargeter).mean() < 2.0
