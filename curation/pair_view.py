"""What the Pairs page shows, as plain data: the pair list, one pair's clips, warping path and curves.

    table = pair_table(engine, ("proposed",))         # one row per pair, best cost first
    detail = pair_detail(root, engine, pair_id)       # clips, path, human frame per robot frame, curves
"""

from __future__ import annotations

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

from .action_layout import HAND22_EMBODIMENT, STATE_WIDTH, relative_wrists, state_names
from .align import robot_to_human_frames
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
    task = row["robot_task"] if isinstance(row["robot_task"], str) and row["robot_task"] else "(no task text)"
    return f"#{row['id']} · {row['state']} · {cost} · {task}"


@dataclass(frozen=True)
class PairDetail:
    """One pair, ready to draw."""

    pair: PairRecord
    human: dict  # clips row of the human clip
    robot: dict  # clips row of the robot episode
    path: pd.DataFrame  # human_frame, robot_frame: the warping path ([] when not aligned)
    human_for_robot: list[float]  # human frame shown with each robot frame (the player's sync map)
    curves: pd.DataFrame  # robot_frame, value, dimension, series ('robot' | 'human, warped')


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
    human_state, robot_values = _states(engine, human, robot)
    curves = pd.DataFrame(columns=["robot_frame", "value", "dimension", "series"])
    if human_state is not None and robot_values is not None:
        curves = aligned_curves(human_state, robot_values, mapping)
    return PairDetail(pair=pair, human=human, robot=robot,
                      path=pd.DataFrame(path, columns=["human_frame", "robot_frame"]),
                      human_for_robot=[round(float(v), 2) for v in mapping], curves=curves)
