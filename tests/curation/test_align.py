"""DTW alignment (curation.align) and the 62-D wrist arithmetic it relies on, by construction."""

from __future__ import annotations

import numpy as np
import pytest

from curation.action_layout import STATE_WIDTH, hand_slices, relative_wrists
from curation.align import AlignConfig, align_sequences, align_states, band_samples, dtw_path, warp_error_frames
from labeling.kinematics.rotations import matrix_to_rot6d, rot6d_to_matrix
from labeling.synthetic.plan import warp_times


def rotations(angle_rad: np.ndarray, axis: int = 2) -> np.ndarray:
    """(T, 3, 3) rotations about one axis."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    i, j = [k for k in range(3) if k != axis]
    out = np.zeros((len(angle_rad), 3, 3))
    out[:, axis, axis] = 1.0
    out[:, i, i], out[:, i, j], out[:, j, i], out[:, j, j] = c, -s, s, c
    return out


def trajectory(n_frames: int = 150, seed: int = 0) -> np.ndarray:
    """(T, 62) smooth two-hand motion: wrists moving and turning, 22 joints each flexing."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n_frames)
    state = np.zeros((n_frames, STATE_WIDTH))
    for hand in range(2):
        pos, rot, joints = hand_slices(hand)
        state[:, pos] = np.stack([0.1 * np.sin(3 * t + hand), 0.05 * np.cos(2 * t), 0.2 * t], axis=1)
        state[:, rot] = matrix_to_rot6d(rotations(0.5 * np.sin(2 * t + hand)))
        freqs, phases = rng.uniform(0.5, 2.0, 22), rng.uniform(0, 2 * np.pi, 22)
        state[:, joints] = 0.6 * np.sin(2 * np.pi * t[:, None] * freqs + phases)
    return state


def resample(state: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """`state` read at fractional frame positions (linear interpolation per dimension)."""
    index = np.arange(len(state))
    return np.stack([np.interp(frames, index, state[:, k]) for k in range(state.shape[1])], axis=1)


def test_dtw_of_a_trajectory_with_itself_is_the_diagonal():
    state = trajectory()
    alignment = align_states(state, state, AlignConfig(subsequence=False))
    assert alignment.cost == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_array_equal(alignment.path, np.stack([np.arange(150)] * 2, axis=1))


@pytest.mark.parametrize(("amplitude", "n_robot"), [(0.45, 120), (-0.5, 180), (0.3, 150)])
def test_dtw_against_a_time_warped_copy_recovers_the_warp(amplitude, n_robot):
    human = trajectory()
    truth = warp_times(n_robot, amplitude) * (len(human) - 1)  # robot frame k shows human frame truth[k]
    robot = resample(human, truth)
    alignment = align_states(human, robot, AlignConfig())
    assert warp_error_frames(alignment.path, truth) < 1.0
    assert alignment.cost < 0.1  # what is left: sampling a warped copy between frames
    assert (np.diff(alignment.path, axis=0) >= 0).all()  # monotone in both clips


def test_subsequence_matching_finds_the_part_of_a_longer_human_clip():
    human = trajectory(200, seed=3)
    truth = 40 + warp_times(110, 0.4) * 119  # the robot does human frames 40..159, on its own clock
    alignment = align_states(human, resample(human, truth), AlignConfig())
    assert abs(alignment.human_start - 40) <= 2 and abs(alignment.human_end - 159) <= 2
    assert warp_error_frames(alignment.path, truth) < 1.5


def test_a_different_motion_costs_more_than_the_warped_copy():
    human, other = trajectory(seed=0), trajectory(seed=7)
    truth = warp_times(130, 0.4) * 149
    same = align_states(human, resample(human, truth)).cost
    assert align_states(other, resample(human, truth)).cost > 5 * same


@pytest.mark.parametrize("n_joints", [6, 12, 32, 44])
def test_the_cost_is_per_joint_so_hands_of_any_dof_compare(n_joints):
    """Every joint 0.1 rad off costs 0.1, whether the hand has 6 joints or 44 (a sum over joints grew with sqrt J)."""
    rng = np.random.default_rng(n_joints)
    t = np.linspace(0.0, 1.0, 120)[:, None]
    human = 0.6 * np.sin(2 * np.pi * t * rng.uniform(0.5, 2.0, n_joints) + rng.uniform(0, 6, n_joints))
    joints = lambda s, joints_only, cfg: s  # noqa: E731 (the features are the joints)
    alignment = align_sequences(human, human + 0.1, joints, AlignConfig(subsequence=False))
    assert alignment.cost == pytest.approx(0.1, rel=0.05)  # warping wins back a little of the offset


def test_the_band_limits_the_path():
    rng = np.random.default_rng(0)
    query, series = rng.normal(size=(60, 3)).cumsum(0), rng.normal(size=(80, 3)).cumsum(0)
    window = 6
    path, _ = dtw_path(query, series, window, open_series_ends=False)
    # dtaidistance's band: |i - j| within the window around both diagonals (shifted by the length gap).
    assert ((path[:, 1] - path[:, 0] > -window) & (path[:, 1] - path[:, 0] < 20 + window)).all()
    assert band_samples(60, 80, AlignConfig(band_frac=0.1, min_band_samples=3)) == 8


def test_wrists_relative_to_the_start_do_not_depend_on_the_fixed_frame():
    world = trajectory()
    rotation, shift = rotations(np.array([0.7]), axis=0)[0], np.array([0.3, -0.2, 1.0])
    camera = world.copy()
    for hand in range(2):  # the same motion seen from a camera: p_c = R p + t, R_c = R R_w
        pos, rot, _ = hand_slices(hand)
        camera[:, pos] = world[:, pos] @ rotation.T + shift
        camera[:, rot] = matrix_to_rot6d(rotation @ rot6d_to_matrix(world[:, rot]))
    np.testing.assert_allclose(relative_wrists(camera), relative_wrists(world), atol=1e-9)
    first = relative_wrists(world)[0, :9]
    np.testing.assert_allclose(first, [0, 0, 0, 1, 0, 0, 0, 1, 0], atol=1e-12)


@pytest.mark.parametrize("field", ["band_frac", "max_samples", "min_band_samples"])
def test_align_config_names_a_bad_field(field):
    with pytest.raises(ValueError, match=field):
        AlignConfig(**{field: 0})


def test_long_sequences_are_strided_and_still_aligned():
    human = trajectory(1200, seed=2)
    truth = warp_times(1000, 0.4) * 1199
    alignment = align_states(human, resample(human, truth), AlignConfig(max_samples=200))
    assert warp_error_frames(alignment.path, truth) < 8  # one stride is 6 frames
