"""The retargeting objective: what a robot hand must match, per frame, and how far it is from it.

    objective = RetargetObjective(config)               # parses the URDF, compiles variables and links
    value, residual = objective.evaluate(q_rad, keypoints_mano)

The objective per frame is dex-retargeting's, term for term, so its configs mean the same here:
- vector: mean Huber(|robot_vec_i - s * human_vec_i|) over the configured origin→task vectors;
- DexPilot: the same over fingertip pair vectors and wrist→fingertip vectors with DexPilot's
  weights, and pinching pairs (hysteresis between `project_dist` and `escape_dist`) pulled together
  (`dexpilot_pairs`, `dexpilot_targets`, as dex-retargeting's DexPilotOptimizer defines them);
- position: mean coordinate-wise Huber(robot_link - human_keypoint).
Each term comes with its exact Jacobian (`labeling.kinematics.torch_fk`) and Huber's quadratic
majoriser, which is what the clip solver (`solver.py`) steps on.

Keypoints come in dex-retargeting's MANO wrist frame (x out of the palm, z toward the fingers,
origin at the wrist; see `labeling.retarget.wrist.compute_wrist_frames`), in MediaPipe-21 order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from labeling.kinematics.torch_fk import (
    NO_LIMIT,
    HandKinematics,
    LinkNameError,
    add_dummy_free_joint,
    joint_limits,
    mimic_affine,
    strip_mimic,
)
from labeling.kinematics.urdf import load_urdf

from .config import ConfigError, RetargetConfig

if TYPE_CHECKING:
    import torch

# DexPilot's vectors and targets, as dex-retargeting's DexPilotOptimizer defines them.

HUMAN_WRIST, HUMAN_FINGERTIPS = 0, frozenset({4, 8, 12, 16, 20})  # MediaPipe-21 indices
DEXPILOT_HUBER_DELTA = 0.03  # m; dex-retargeting's DexPilot ignores the config's huber_delta
DEXPILOT_ETA = (1e-4, 3e-2)  # m, target distance of a projected thumb-finger / finger-finger pair
DEXPILOT_PINCH_WEIGHT = (200.0, 400.0)  # weight of a projected thumb-finger / finger-finger pair
DEXPILOT_PAIR_MAX_DIST = 0.03  # m, a finger-finger pair is projected only when this close


def dexpilot_pairs(n_fingers: int) -> tuple[list[int], list[int]]:
    """DexPilot's vectors over links [wrist, tip_1..tip_n]: (origin, task) indices.

    Fingertip pairs first (task i, origin j for i < j; the thumb's pairs lead), then wrist → each tip.
    """
    origin, task = [], []
    for i in range(1, n_fingers):
        for j in range(i + 1, n_fingers + 1):
            origin.append(j)
            task.append(i)
    origin += [0] * n_fingers
    task += list(range(1, n_fingers + 1))
    return origin, task


def dexpilot_targets(human: npt.NDArray[np.float64], starts: npt.NDArray[np.bool_], scaling: float,
                     project_dist: float, escape_dist: float, n_fingers: int
                     ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """DexPilot target vectors `(T, N, 3)` and weights `(T, N)` (already divided by N).

    A thumb-finger pair starts pinching when the human fingertips are nearer than `project_dist`
    and stops when farther than `escape_dist` (the state carries over frames, restarting at
    `starts`); a finger-finger pair pinches when both fingers pinch the thumb and are within 3 cm.
    A pinching pair's target is its direction times a tiny length, with a heavy weight.
    """
    n_pairs = n_fingers * (n_fingers - 1) // 2
    n_thumb = n_fingers - 1
    distance = np.linalg.norm(human[:, :n_pairs], axis=-1)  # (T, n_pairs), human scale
    thumb = hysteresis(distance[:, :n_thumb] < project_dist, distance[:, :n_thumb] > escape_dist, starts)
    first, second = [], []
    for i in range(n_fingers - 2):
        for j in range(i + 1, n_fingers - 1):
            first.append(j)
            second.append(i)
    fingers = thumb[:, first] & thumb[:, second] & (distance[:, n_thumb:] <= DEXPILOT_PAIR_MAX_DIST)
    projected = np.concatenate([thumb, fingers], axis=1)
    eta = np.array([DEXPILOT_ETA[0]] * n_thumb + [DEXPILOT_ETA[1]] * (n_pairs - n_thumb))
    direction = human[:, :n_pairs] / (distance[..., None] + 1e-6)
    pairs = np.where(projected[..., None], direction * eta[:, None], scaling * human[:, :n_pairs])
    reference = np.concatenate([pairs, scaling * human[:, n_pairs:]], axis=1)
    heavy = np.array([DEXPILOT_PINCH_WEIGHT[0]] * n_thumb + [DEXPILOT_PINCH_WEIGHT[1]] * (n_pairs - n_thumb))
    weight = np.concatenate([np.where(projected, heavy, 1.0),
                             np.full((len(human), n_fingers), float(n_pairs + n_fingers))], axis=1)
    return reference, weight / reference.shape[1]


def hysteresis(enter: npt.NDArray[np.bool_], leave: npt.NDArray[np.bool_], starts: npt.NDArray[np.bool_]
               ) -> npt.NDArray[np.bool_]:
    """`(T, K)` on/off state: on at `enter`, off at `leave` (wins over enter), else as before; off at `starts`."""
    event = np.where(leave, 0, np.where(enter, 1, -1))
    event = np.where(starts[:, None] & (event < 0), 0, event)
    rows = np.arange(len(event))[:, None].repeat(event.shape[1], axis=1)
    last = np.maximum.accumulate(np.where(event >= 0, rows, -1), axis=0)
    state = np.take_along_axis(event, np.maximum(last, 0), axis=0)
    return (last >= 0) & (state == 1)


@dataclass(frozen=True)
class Targets:
    """What the robot must match, per frame: vectors (or points) and their weights."""

    reference: torch.Tensor  # (T, N, 3) target robot vectors (or positions), root frame
    weight: torch.Tensor  # (T, N) per-term weight, already divided by the term count
    error_reference: npt.NDArray[np.float64]  # (T, N, 3) unprojected scaled human vectors (for residuals)



class RetargetObjective:
    """The compiled objective of one `RetargetConfig`: kinematics, optimised variables, matched links."""

    def __init__(self, config: RetargetConfig, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None) -> None:
        """Parse the URDF and compile kinematics, variables and matched links (CUDA when present)."""
        import torch

        self.config = config
        tree = load_urdf(config.urdf_path)
        self.hand_root_link = tree.root_link
        tree = add_dummy_free_joint(tree) if config.add_dummy_free_joint else tree
        tree = strip_mimic(tree) if config.ignore_mimic_joint else tree
        self.tree = tree
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.kin = HandKinematics(tree, device, dtype or torch.float32)
        self.device, self.dtype = self.kin.device, self.kin.dtype
        self.joint_names = self.kin.joint_names
        self.target_joint_names = self._target_joints()
        self._compile_variables()
        self._compile_links()
        self.input_rotation = np.asarray(config.input_rotation, dtype=np.float64)

    # --- compilation ------------------------------------------------------------------------------

    def _target_joints(self) -> tuple[str, ...]:
        cfg, tree = self.config, self.tree
        mimic = {j.name for j in tree.joints if j.mimic is not None}
        if cfg.target_joint_names is None:
            return tuple(n for n in tree.pinocchio_joint_names if n not in mimic)
        names = tuple(cfg.target_joint_names)
        if cfg.add_dummy_free_joint:
            names = tuple(n for n in tree.pinocchio_joint_names[:6]) + names
        for name in names:
            if name not in self.joint_names:
                raise ConfigError(f"{cfg.source}: RetargetConfig.target_joint_names: {name!r} is not a movable "
                                  f"joint of {cfg.urdf_path} (joints: {list(self.joint_names)})")
            if name in mimic:
                raise ConfigError(f"{cfg.source}: RetargetConfig.target_joint_names: {name!r} is a mimic joint "
                                  "(list the joint it follows, or set ignore_mimic_joint)")
        return names

    def _compile_variables(self) -> None:
        import torch

        targets = list(self.target_joint_names)
        mimic = {j.name for j in self.tree.joints if j.mimic is not None}
        fixed = [n for n in self.joint_names if n not in targets and n not in mimic]
        fixed_limits = joint_limits(self.tree, fixed)
        fixed_values = np.clip(0.0, fixed_limits[:, 0], fixed_limits[:, 1])  # held joints sit at 0, or their limit
        matrix, offset = mimic_affine(self.tree, targets + fixed)
        offset = offset + matrix[:, len(targets):] @ fixed_values
        matrix = matrix[:, :len(targets)]
        limits = joint_limits(self.tree, targets) if self.config.has_joint_limits \
            else np.tile([-NO_LIMIT, NO_LIMIT], (len(targets), 1))
        self.target_limits = limits  # (n_x, 2)
        self._map = torch.as_tensor(matrix, dtype=self.dtype, device=self.device)  # (n_joints, n_x)
        self._offset = torch.as_tensor(offset, dtype=self.dtype, device=self.device)
        self._lower = torch.as_tensor(limits[:, 0], dtype=self.dtype, device=self.device)
        self._upper = torch.as_tensor(limits[:, 1], dtype=self.dtype, device=self.device)
        self._target_columns = [self.joint_names.index(n) for n in targets]
        selection = not fixed and not mimic and len(targets) == len(self.joint_names)
        self._select = torch.as_tensor(self._target_columns, dtype=torch.long, device=self.device) \
            if selection else None  # the map is a permutation: pick Jacobian columns instead of a matmul

    def _compile_links(self) -> None:
        import torch

        cfg = self.config
        if cfg.type == "vector":
            origin, task = list(cfg.target_origin_link_names), list(cfg.target_task_link_names)
            fields = ("target_origin_link_names", "target_task_link_names")
            human = np.asarray(cfg.target_link_human_indices, dtype=np.int64)
            self.wrist_link = Counter(origin).most_common(1)[0][0]
        elif cfg.type == "dexpilot":
            links = [cfg.wrist_link_name, *cfg.finger_tip_link_names]
            origin_i, task_i = dexpilot_pairs(len(cfg.finger_tip_link_names))
            origin, task = [links[i] for i in origin_i], [links[i] for i in task_i]
            fields = ("wrist_link_name", "finger_tip_link_names")
            human = np.asarray(cfg.target_link_human_indices if cfg.target_link_human_indices is not None
                               else (np.asarray([origin_i, task_i]) * 4), dtype=np.int64)
            self.wrist_link = cfg.wrist_link_name
        else:
            origin, task = [], list(cfg.target_link_names)
            fields = ("target_link_names", "target_link_names")
            human = np.asarray(cfg.target_link_human_indices, dtype=np.int64)[None]
            self.wrist_link = self.hand_root_link
        for names, field in zip((origin, task), fields, strict=True):
            try:
                self.kin.link_indices(names, what=f"{cfg.source}: RetargetConfig.{field}")
            except LinkNameError as exc:
                raise ConfigError(str(exc)) from None
        self.link_names = tuple(dict.fromkeys(origin + task))  # links whose positions the objective uses
        self._slots = self.kin.link_indices(self.link_names)
        self.origin_index = [self.link_names.index(n) for n in origin]  # per term: where it starts ([] for position)
        self.task_index = [self.link_names.index(n) for n in task]  # per term: the link matched
        self._origin_t = torch.as_tensor(self.origin_index, dtype=torch.long, device=self.device)
        self._task_t = torch.as_tensor(self.task_index, dtype=torch.long, device=self.device)
        self.human_indices = human  # (2, N) origin/task rows, or (1, N) for position

    # --- the objective ----------------------------------------------------------------------------

    def targets(self, keypoints_root: npt.NDArray[np.float64], starts: npt.NDArray[np.bool_]) -> Targets:
        """Per-frame target vectors and weights from root-frame human keypoints `(T, 21, 3)`."""
        import torch

        cfg = self.config
        if cfg.type == "position":
            points = keypoints_root[:, self.human_indices[0]]
            weight = np.full(points.shape[:2], 1.0 / (3 * points.shape[1]))
            reference, error_reference = points, points
        else:
            human = keypoints_root[:, self.human_indices[1]] - keypoints_root[:, self.human_indices[0]]
            error_reference = cfg.scaling_factor * human
            if cfg.type == "vector":
                reference, weight = error_reference, np.full(human.shape[:2], 1.0 / human.shape[1])
            else:
                reference, weight = dexpilot_targets(human, starts, cfg.scaling_factor, cfg.project_dist,
                                                     cfg.escape_dist, len(cfg.finger_tip_link_names))

        def tensor(values: npt.ArrayLike) -> torch.Tensor:
            return torch.as_tensor(np.asarray(values), dtype=self.dtype, device=self.device)

        return Targets(tensor(reference), tensor(weight), error_reference)

    @property
    def huber_delta(self) -> float:
        """The Huber transition the objective uses (m)."""
        return DEXPILOT_HUBER_DELTA if self.config.type == "dexpilot" else self.config.huber_delta

    def full_q(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, n_joints)` every joint from `(B, n_x)` optimised joints (mimic and held ones filled in)."""
        return x @ self._map.T + self._offset

    def _terms(self, x: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residuals `(B, N, 3)` and their Jacobian `(B, N, 3, n_x)`."""
        points, jac = self.kin.positions_and_jacobian(self.full_q(x), self._slots)
        # The optimised joints' columns, or the chain rule through mimic couplings and held joints.
        jac = jac.index_select(3, self._select) if self._select is not None else jac @ self._map
        task_points, task_jac = points.index_select(1, self._task_t), jac.index_select(1, self._task_t)
        if self.config.type == "position":
            return task_points - reference, task_jac
        vectors = task_points - points.index_select(1, self._origin_t)
        return vectors - reference, task_jac - jac.index_select(1, self._origin_t)

    def _data_term(self, x: torch.Tensor, reference: torch.Tensor, weight: torch.Tensor, system: bool = True
                   ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Objective `(B,)`, and its Gauss-Newton Hessian `(B, n_x, n_x)` and gradient `(B, n_x)`.

        The Hessian is Huber's quadratic majoriser (iteratively reweighted least squares): each
        term's squared error weighted by h'(d) / d, which is 1/delta inside delta and 1/d beyond.
        """
        import torch

        residual, jac = self._terms(x, reference)
        delta = self.huber_delta
        if self.config.type == "position":  # coordinate-wise Huber (torch SmoothL1Loss on positions)
            size, w = residual.abs(), weight[..., None]
        else:  # Huber on each vector's error length
            size, w = torch.linalg.vector_norm(residual, dim=-1), weight
        loss = torch.where(size < delta, (0.5 / delta) * size * size, size - 0.5 * delta)
        value = (w * loss).flatten(1).sum(1)
        if not system:
            return value, None, None
        root = (w / torch.clamp(size, min=delta)).sqrt()
        if self.config.type != "position":
            root = root[..., None]
        rows = (jac * root[..., None]).flatten(1, 2)  # (B, 3N, n_x)
        hessian = rows.transpose(1, 2) @ rows
        gradient = (rows.transpose(1, 2) @ (residual * root).flatten(1)[..., None])[..., 0]
        return value, hessian, gradient

    # --- evaluation -------------------------------------------------------------------------------

    def term_errors(self, q_rad: npt.ArrayLike, error_reference: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """`(T, N)` distance (m) between each matched robot vector (or point) and its scaled human one."""
        import torch

        q = torch.as_tensor(np.asarray(q_rad), dtype=self.dtype, device=self.device)
        with torch.no_grad():
            points = self.kin.forward(q)[1][:, self._slots].cpu().numpy().astype(np.float64)
        robot = points[:, self.task_index] - (points[:, self.origin_index] if self.origin_index else 0.0)
        return np.linalg.norm(robot - error_reference, axis=-1)

    def residual(self, q_rad: npt.ArrayLike, error_reference: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """`(T,)` mean distance (m) between the robot's matched vectors (or points) and the scaled human ones.

        DexPilot counts its wrist→fingertip vectors only (its pair vectors may be projected on purpose).
        """
        return self.residual_from(self.term_errors(q_rad, error_reference))

    def residual_from(self, error: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """`residual` from `term_errors`' result."""
        if self.config.type == "dexpilot":
            error = error[:, -len(self.config.finger_tip_link_names):]
        return error.mean(axis=1) if error.shape[1] else np.zeros(len(error))

    @property
    def fingertip_terms(self) -> list[int]:
        """The terms that place a fingertip: a wrist→tip vector (vector, DexPilot) or a tip point (position)."""
        human = self.human_indices
        tips = [i for i in range(human.shape[1]) if int(human[-1, i]) in HUMAN_FINGERTIPS]
        return tips if len(human) == 1 else [i for i in tips if int(human[0, i]) == HUMAN_WRIST]

    def fingertip_error_from(self, error: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """`(T,)` mean fingertip error (m, in the robot's scale: the human hand scaled by the config), NaN
        when the config places no fingertip."""
        terms = self.fingertip_terms
        return error[:, terms].mean(axis=1) if terms else np.full(len(error), np.nan)

    def evaluate(self, q_rad: npt.ArrayLike, keypoints: npt.ArrayLike, starts: npt.ArrayLike | None = None
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """dex-retargeting's objective `(T,)` and the residual `(T,)` of any joint angles (e.g. another solver's).

        `q_rad (T, n_joints)` is in `joint_names` order; keypoints as for `retarget`.
        """
        import torch

        points = np.asarray(keypoints, dtype=np.float64)
        targets = self.targets(points @ self.input_rotation.T, self._starts(starts, len(points)))
        q = np.asarray(q_rad, dtype=np.float64)
        x = torch.as_tensor(q[:, self._target_columns], dtype=self.dtype, device=self.device)
        with torch.no_grad():
            value = self._data_term(x, targets.reference, targets.weight, system=False)[0].cpu().numpy()
        return value.astype(np.float64), self.residual(q, targets.error_reference)

    def link_positions(self, q_rad: npt.ArrayLike, names: tuple[str, ...] | list[str]) -> npt.NDArray[np.float64]:
        """`(T, len(names), 3)` link positions (m) in the robot root frame for `q_rad (T, n_joints)`."""
        import torch

        with torch.no_grad():
            points = self.kin.link_positions(np.asarray(q_rad, dtype=np.float64), list(names))
        return points.cpu().numpy().astype(np.float64)

    @staticmethod
    def _starts(starts: npt.ArrayLike | None, n_frames: int) -> npt.NDArray[np.bool_]:
        out = np.zeros(n_frames, dtype=bool) if starts is None else np.asarray(starts, dtype=bool).copy()
        if out.shape != (n_frames,):
            raise ValueError(f"starts must have shape ({n_frames},), got {out.shape}")
        if n_frames:
            out[0] = True
        return out
