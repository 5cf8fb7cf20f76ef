"""What the Pairs page shows, as plain data: the pair list, one pair's clips, warping path and curves.

A robot with an embodiment spec is shown in its own hand space: joint curves in radians, and both
hands (the robot's from its state, the human's retargeted to it) drawn through the robot's URDF.

    table = pair_table(engine, ("proposed",))         # one row per pair, best cost first
    detail = pair_detail(root, engine, pair_id)       # clips, path, human frame per robot frame, curves
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from db.engine import QueryEngine
from db.queries.annotations import pair_rows
from db.queries.clips import get_clip
from db.queries.frames import robot_state_rows
from db.queries.retargets import retarget_rows
from labeling.embodiment.hand_model import extent_mm, hand_layer
from labeling.embodiment.store import episode_specs

from .action_layout import HAND22_EMBODIMENT, STATE_WIDTH, relative_wrists, state_names
from .align import robot_to_human_frames
from .hand_space import HandSpace, spec_sequences
from .pair_store import PairRecord, get_pair
from .pairing import human_state_62, robot_state

CURVE_DIMS = 4  # curves drawn: the dimensions that move most in the robot episode
TABLE_COLUMNS = ("id", "state", "cost", "task_similarity", "human_task", "robot_task", "human_frames", "robot_frames",
                 "decided_by", "reason", "version")


def pair_table(engine: QueryEngine, states: tuple[str, ...] = ()) -> pd.DataFrame:
    """The pairs in `states` (all when empty), best cost first, with the columns the page lists."""
    return pair_rows(engine, states).loc[:, list(TABLE_COLUMNS)]


def pair_label(row: pd.Series) -> str:
    cost = "no cost" if pd.isna(row["cost"]) else f"cost {row['cost']:.3f}"
    return f"#{row['id']} · {row['state']} · {cost} · {pair_tasks(row.get('robot_task'), row.get('human_task'))}"


def pair_tasks(robot_task: object, human_task: object) -> str:
    """Both clips' tasks, once when they are the same text."""
    robot = robot_task if isinstance(robot_task, str) and robot_task else "(no task text)"
    human = human_task if isinstance(human_task, str) and human_task else "(no task text)"
    if robot == human:
        return robot if robot == "(no task text)" else f"{robot} (both)"
    return f"robot: {robot} · human: {human}"


@dataclass(frozen=True)
class PairDetail:
    """One pair, ready to draw."""

    pair: PairRecord
    human: dict  # clips row of the human clip
    robot: dict  # clips row of the robot episode
    path: pd.DataFrame  # human_frame, robot_frame: the warping path ([] when not aligned)
    human_for_robot: list[float]  # human frame shown with each robot frame (the player's sync map)
    curves: pd.DataFrame  # robot_frame, value, dimension, series ('robot' | 'human, warped')
    note: str | None = None  # why the pair has no cost (None when it is aligned)
    hands: dict | None = None  # robot with a spec: {"robot": [side layers], "human": [...], "embodiment", "extent_mm"}


def _states(engine: QueryEngine, human: dict, robot: dict) -> tuple[npt.NDArray | None, npt.NDArray | None]:
    rows = retarget_rows(engine, [human["clip_id"]], HAND22_EMBODIMENT)
    human_state = human_state_62(rows, int(human["n_frames"]))[0] if rows.num_rows else None
    robot_values = robot_state(robot_state_rows(engine, [robot["clip_id"]]))
    if robot_values is None or robot_values.shape[1] != STATE_WIDTH:
        robot_values = None
    return human_state, robot_values


def aligned_curves(human_state: npt.NDArray, robot_values: npt.NDArray, human_for_robot: npt.NDArray,
                   n_dims: int = CURVE_DIMS) -> pd.DataFrame:
    """Robot curves and the human's, read at the human frame matched to each robot frame (wrists start-relative)."""
    human_rel, robot_rel = relative_wrists(human_state), relative_wrists(robot_values)
    dims = np.argsort(-np.ptp(robot_rel, axis=0))[:n_dims]
    frames = np.arange(len(robot_rel))
    index = np.arange(len(human_rel))
    names = state_names()
    parts = []
    for dim in sorted(dims):
        warped = np.interp(human_for_robot, index, human_rel[:, dim])
        for series, values in (("robot", robot_rel[:, dim]), ("human, warped", warped)):
            parts.append(pd.DataFrame({"robot_frame": frames, "value": values, "dimension": names[dim],
                                       "series": series}))
    return pd.concat(parts, ignore_index=True)


def pair_detail(root: Path, engine: QueryEngine, pair_id: int) -> PairDetail | None:
    """Everything the Pairs page draws for one pair (None when the pair or a clip is gone)."""
    pair = get_pair(root, pair_id)
    if pair is None:
        return None
    human, robot = get_clip(engine, pair.human_clip_id), get_clip(engine, pair.robot_clip_id)
    if human is None or robot is None:
        return None
    n_robot, n_human = int(robot["n_frames"]), int(human["n_frames"])
    path = np.asarray(pair.path or [], dtype=np.int64).reshape(-1, 2)
    # Not aligned: play both at the same relative speed.
    mapping = robot_to_human_frames(path, n_robot) if len(path) else np.linspace(0, n_human - 1, n_robot)
    curves = pd.DataFrame(columns=["robot_frame", "value", "dimension", "series"])
    note, hands = None, None
    spaced = _hand_space(root, engine, human, robot)
    if spaced is None:  # no spec: the built-in 62-D layout, or nothing to compare
        human_state, robot_values = _states(engine, human, robot)
        if human_state is not None and robot_values is not None:
            curves = aligned_curves(human_state, robot_values, mapping)
        else:
            note = (f"the robot episode has a {_width(robot)}-D state and no embodiment spec "
                    "(egocurate embodiment set SPEC.yml --clips ID)" if robot_values is None else
                    f"the human clip has no {HAND22_EMBODIMENT} retargets")
    elif isinstance(spaced, str):
        note = spaced
    else:
        space, human_seq, robot_seq = spaced
        curves = space_curves(space, human_seq, robot_seq, mapping)
        hands = pair_hands(space, human_seq, robot_seq)
    if pair.cost is None and note is None:
        note = "not aligned yet: run egocurate pair again"
    return PairDetail(pair=pair, human=human, robot=robot,
                      path=pd.DataFrame(path, columns=["human_frame", "robot_frame"]),
                      human_for_robot=[round(float(v), 2) for v in mapping], curves=curves, note=note, hands=hands)


def _width(robot: dict) -> int:
    names = json.loads(robot["state_names"]) if isinstance(robot.get("state_names"), str) else None
    return len(names or [])


def _hand_space(root: Path, engine: QueryEngine, human: dict, robot: dict) -> tuple | str | None:
    """A robot with a spec: (space, human sequence, robot sequence) or why not; None without a spec."""
    specs = episode_specs(engine, [robot["clip_id"]])
    if robot["clip_id"] not in specs:
        return None
    names = json.loads(robot["state_names"]) if isinstance(robot.get("state_names"), str) else None
    state = robot_state(robot_state_rows(engine, [robot["clip_id"]]))
    states = {} if state is None else {robot["clip_id"]: state}
    pair = (human["clip_id"], robot["clip_id"])
    return spec_sequences(root, engine, [pair], {human["clip_id"]: int(human["n_frames"])}, specs,
                          {robot["clip_id"]: names}, states)[pair]


def space_curves(space: HandSpace, human: npt.NDArray, robot: npt.NDArray, human_for_robot: npt.NDArray,
                 n_dims: int = CURVE_DIMS) -> pd.DataFrame:
    """The robot's joints that move most (radians) and the human's, read at the matched human frame."""
    joints = space.n_joints
    dims = sorted(np.argsort(-np.ptp(robot[:, :joints], axis=0))[:n_dims])
    labels, frames, index = space.joint_labels(), np.arange(len(robot)), np.arange(len(human))
    parts = []
    for dim in dims:
        warped = np.interp(human_for_robot, index, human[:, dim])
        for series, values in (("robot", robot[:, dim]), ("human, warped", warped)):
            parts.append(pd.DataFrame({"robot_frame": frames, "value": values, "dimension": labels[dim],
                                       "series": series}))
    return pd.concat(parts, ignore_index=True)


def pair_hands(space: HandSpace, human: npt.NDArray, robot: npt.NDArray) -> dict:
    """Both hands drawn through the robot's URDF: its own state, and the human clip retargeted to it."""
    layers: dict[str, list[dict]] = {"robot": [], "human": []}
    start = 0
    for side in space.sides:
        hand = space.spec.hands[side]
        width = len(hand.joints)
        layers["robot"].append(hand_layer(hand, robot[:, start:start + width]))
        layers["human"].append(hand_layer(hand, human[:, start:start + width]))
        start += width
    return {**layers, "embodiment": space.spec.name, "extent_mm": extent_mm(layers["robot"] + layers["human"])}
