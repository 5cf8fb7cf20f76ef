"""Pairing in a robot's own hand space: its spec's joints in radians (plus wrist motion), against human
clips retargeted to *that robot's hand*.

    space = HandSpace.of(spec)                                   # sides, joints, whether wrists count
    robot = robot_sequence(space, state_names, state)            # (Tr, J + 9 S)
    human, filled = human_sequence(space, rows, columns, n)      # (Th, J + 9 S) from `retargets` rows
    alignment = align_sequences(human, robot, space.features, AlignConfig())

A sequence is the spec's joints of every side (radians, spec order, sides left then right), then,
when the spec names a wrist for every side, each side's wrist pose (xyz + 6D rotation). The DTW
features are the joints plus the wrist positions relative to the sequence's first frame, in that
frame's wrist axes (the same rule as the 62-D layout's), weighted like `AlignConfig.wrist_weight_per_m`.

Human clips are looked up under the spec's name first (`egocurate retarget --embodiment SPEC`),
then under the names its hands retarget to (`egocurate retarget --hand inspire` or a config file),
when the retarget commit used the spec's URDF. `retargeted_sides` reads which URDF a commit used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from db.lake import Lake
from labeling.embodiment.joints import hand_radians, wrist_poses
from labeling.embodiment.spec import EmbodimentSpec
from labeling.kinematics.rotations import rot6d_to_matrix
from labeling.retarget.registry import config_side
from labeling.retarget.stage import STAGE_NAME

from .action_layout import SIDES, WRIST_POSE_DIMS, fill_gaps
from .align import AlignConfig

Float = npt.NDArray[np.float64]
FREE_JOINTS = 6  # dex-retargeting's dummy free joint: the first six q_rad columns when a config adds it


@dataclass(frozen=True)
class HandSpace:
    """The layout a robot's episodes and the human clips paired with it are compared in."""

    spec: EmbodimentSpec
    sides: tuple[str, ...]  # the spec's hands, left then right
    wrists: bool  # every side has a wrist in the spec: wrist motion counts

    @classmethod
    def of(cls, spec: EmbodimentSpec) -> HandSpace:
        sides = tuple(s for s in SIDES if s in spec.hands)
        return cls(spec, sides, all(s in spec.wrist for s in sides))

    @property
    def n_joints(self) -> int:
        return sum(len(self.spec.hands[s].joints) for s in self.sides)

    def joint_labels(self) -> list[str]:
        """`side joint` of every joint column (for curves)."""
        return [f"{s} {m.joint}" for s in self.sides for m in self.spec.hands[s].joints]

    def features(self, sequence: Float, joints_only: bool, cfg: AlignConfig) -> Float:
        """DTW features: joints, plus the weighted start-relative wrist positions unless `joints_only`."""
        s = np.asarray(sequence, dtype=np.float64)
        joints = s[:, :self.n_joints]
        if joints_only or not self.wrists:
            return joints
        wrists = s[:, self.n_joints:].reshape(len(s), len(self.sides), WRIST_POSE_DIMS)
        positions = [cfg.wrist_weight_per_m * relative_positions(wrists[:, i]) for i in range(len(self.sides))]
        return np.concatenate([joints, *positions], axis=1)


def relative_positions(wrist: npt.ArrayLike) -> Float:
    """`(T, 3)` wrist positions relative to frame 0, in frame 0's wrist axes: `R0^T (p - p0)`."""
    w = np.asarray(wrist, dtype=np.float64)
    r0 = rot6d_to_matrix(w[0, 3:9])
    return (w[:, :3] - w[0, :3]) @ r0


def robot_sequence(space: HandSpace, names: list[str], state: npt.ArrayLike) -> Float:
    """`(T, J + 9 S)` a robot episode's state in its hand space (see the module docstring)."""
    parts = [hand_radians(space.spec.hands[s], names, state) for s in space.sides]
    if space.wrists:
        parts += [wrist_poses(space.spec.wrist[s], names, state) for s in space.sides]
    return np.concatenate(parts, axis=1)


def human_sequence(space: HandSpace, rows: pa.Table, columns: dict[str, list[int]], n_frames: int
                   ) -> tuple[Float, int]:
    """`(n_frames, J + 9 S)` a human clip's retargets (one clip, one embodiment) in the hand space.

    `columns[side]` are the `q_rad` columns of the spec's joints. Frames a hand was not retargeted
    are interpolated from its neighbours; a hand never seen rests (joints at zero, wrist still).
    Returns the sequence and how many hand-frames were filled.
    """
    hands = rows.column("hand").to_numpy(zero_copy_only=False)
    frames_all = rows.column("frame_index").to_numpy()
    q_rows, poses = rows.column("q_rad").to_pylist(), rows.column("wrist_pose").to_pylist()
    joints, wrists, filled = [], [], 0
    for side in space.sides:
        mine = np.flatnonzero((hands == side) & (frames_all >= 0) & (frames_all < n_frames))
        width = len(columns[side]) + WRIST_POSE_DIMS
        values, valid = np.full((n_frames, width), np.nan), np.zeros(n_frames, bool)
        for i in mine:
            q, pose = q_rows[i], poses[i]
            if q is None or pose is None or len(pose) != WRIST_POSE_DIMS:
                continue
            frame = int(frames_all[i])
            values[frame, :len(columns[side])] = np.asarray(q, np.float64)[columns[side]]
            values[frame, len(columns[side]):], valid[frame] = pose, True
        if not valid.any():
            values[:] = 0.0
            values[:, len(columns[side]) + 3], values[:, len(columns[side]) + 7] = 1.0, 1.0  # 6D identity
            missing = n_frames
        else:
            values, missing = fill_gaps(values, valid)
        filled += missing
        joints.append(values[:, :len(columns[side])])
        wrists.append(values[:, len(columns[side]):])
    return np.concatenate(joints + (wrists if space.wrists else []), axis=1), filled


def retargeted_sides(root: Path, embodiment: str) -> dict[str, dict]:
    """The newest retarget commit's per-side meta for `embodiment` (urdf_path, free joint, mimic options)."""
    for entry in reversed(Lake(Path(root)).entries()):
        meta = entry.get("meta", {})
        if meta.get("stage") == STAGE_NAME and meta.get("embodiment") == embodiment and meta.get("sides"):
            return meta["sides"]
    return {}


def retarget_names(spec: EmbodimentSpec) -> list[str]:
    """The retargets embodiments that may hold human clips retargeted to this spec's hands, best first."""
    names = [spec.name]
    for hand in spec.hands.values():
        if Path(hand.hand).suffix in (".yml", ".yaml"):
            words = Path(hand.hand).stem.replace("-", "_").split("_")
            names.append("_".join(w for w in words if w.lower() not in SIDES) if config_side(hand.hand) else
                         Path(hand.hand).stem)
        else:
            names.append(hand.hand)
    return list(dict.fromkeys(names))


def q_columns(root: Path, space: HandSpace, embodiment: str) -> dict[str, list[int]] | str:
    """Per side, the `q_rad` columns of the spec's joints in `embodiment`'s retargets; or why there are none."""
    from labeling.embodiment.spec import urdf_tree

    sides = retargeted_sides(root, embodiment)
    out = {}
    for side in space.sides:
        hand, meta = space.spec.hands[side], sides.get(side)
        if meta is None:
            return f"no {side}-hand retargets to {embodiment!r}"
        if Path(meta["urdf_path"]).resolve() != Path(hand.config.urdf_path).resolve():
            return f"the {side}-hand retargets to {embodiment!r} used another URDF ({Path(meta['urdf_path']).name})"
        order = list(urdf_tree(meta["urdf_path"]).pinocchio_joint_names)
        first = FREE_JOINTS if meta.get("add_dummy_free_joint") else 0
        out[side] = [first + order.index(name) for name in hand.joint_names]
    return out


def spec_sequences(root: Path, engine: object, pairs: list[tuple[str, str]], n_frames: dict[str, int],
                   specs: dict[str, object], names: dict[str, list[str] | None], states: dict[str, Float]
                   ) -> dict[tuple[str, str], tuple[HandSpace, Float, Float] | str]:
    """Per (human, robot) pair whose robot has a spec: the space and both sequences, or why not.

    `specs[robot]` is its EmbodimentSpec or the SpecError saying why the stored one is unusable.
    """
    from db.queries.retargets import retarget_rows

    out: dict[tuple[str, str], tuple[HandSpace, Float, Float] | str] = {}
    robots: dict[str, tuple[HandSpace, Float] | str] = {}
    for robot in {r for _, r in pairs}:
        spec = specs[robot]
        if not isinstance(spec, EmbodimentSpec):
            robots[robot] = f"its embodiment spec cannot be used: {spec}"
        elif robot not in states:
            robots[robot] = "the robot episode has no state vectors"
        else:
            space = HandSpace.of(spec)
            try:
                robots[robot] = (space, robot_sequence(space, names.get(robot) or [], states[robot]))
            except ValueError as exc:
                robots[robot] = f"its state does not fit spec {spec.name!r}: {exc}"
    humans: dict[tuple[str, str], Float | str] = {}
    for name in {r[0].spec.name for r in robots.values() if not isinstance(r, str)}:
        space = next(r[0] for r in robots.values() if not isinstance(r, str) and r[0].spec.name == name)
        wanted = sorted({h for h, r in pairs if not isinstance(robots[r], str) and robots[r][0].spec.name == name})
        humans |= _human_sequences(root, engine, space, wanted, n_frames, retarget_rows)
    for human, robot in pairs:
        item = robots[robot]
        if isinstance(item, str):
            out[(human, robot)] = item
        else:
            sequence = humans[(human, item[0].spec.name)]
            out[(human, robot)] = sequence if isinstance(sequence, str) else (item[0], sequence, item[1])
    return out


def _human_sequences(root: Path, engine: object, space: HandSpace, human_ids: list[str], n_frames: dict[str, int],
                     retarget_rows: object) -> dict[tuple[str, str], Float | str]:
    name = space.spec.name
    out: dict[tuple[str, str], Float | str] = {}
    todo, reasons = list(human_ids), {}
    for embodiment in retarget_names(space.spec):
        if not todo:
            break
        rows = retarget_rows(engine, todo, embodiment)
        if rows.num_rows == 0:
            continue
        columns = q_columns(root, space, embodiment)
        ids = rows.column("clip_id").to_numpy(zero_copy_only=False)
        for clip_id in np.unique(ids):
            if isinstance(columns, str):  # another name may still fit
                reasons.setdefault(str(clip_id), columns)
                continue
            mine = rows.filter(pa.array(ids == clip_id))
            out[(str(clip_id), name)] = human_sequence(space, mine, columns, n_frames[str(clip_id)])[0]
        todo = [h for h in todo if (h, name) not in out]
    for human in todo:
        out[(human, name)] = reasons.get(human) or (f"the human clip has no retargets to {name}'s hand "
                                                    f"(egocurate retarget --embodiment {name})")
    return out
