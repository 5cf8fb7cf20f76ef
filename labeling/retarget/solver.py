"""Retargeting: human hand keypoints to robot joint angles, a whole clip solved as one batched problem.

    from labeling.retarget.config import RetargetConfig
    retargeter = RetargetConfig.from_yaml("allegro_hand_right.yml", urdf_dir=DIR).build()
    result = retargeter.retarget(keypoints_mano)       # (T, 21, 3) → result.q_rad (T, n_joints)

The objective per frame is dex-retargeting's, term for term, so its configs mean the same here:
- vector: mean Huber(|robot_vec_i - s * human_vec_i|) over the configured origin→task vectors;
- DexPilot: the same over fingertip pair vectors and wrist→fingertip vectors with DexPilot's
  weights, and pinching pairs (hysteresis between `project_dist` and `escape_dist`) pulled together;
- position: mean coordinate-wise Huber(robot_link - human_keypoint).
dex-retargeting adds `normal_delta * |q_t - q_(t-1)|^2` toward the previous frame's answer and
solves frame after frame with SLSQP. Here every frame of a clip is one problem: the data terms plus
`smoothness * sum_t |q_t - q_(t-1)|^2`, joint limits as bounds, solved by Levenberg-Marquardt
(Gauss-Newton on the Huber loss by iteratively reweighted least squares, the exact Jacobian from
`labeling.kinematics.torch_fk`, a bounded step with an active set) in red-black sweeps: even frames with
odd frames held, then odd frames, so each half is a batch of independent small systems. Warm start:
every `coarse_stride`-th frame is solved first from the mid-range pose (dex-retargeting's first-frame
start; optionally also from seeded random poses), and the clip starts from their interpolation, or
from a given `q_init`. `low_pass_alpha` then filters the output as dex-retargeting does. Runs on
CUDA when present; on CPU it uses one thread (the tensors are small).

Keypoints come in dex-retargeting's MANO wrist frame (x out of the palm, z toward the fingers,
origin at the wrist; see `labeling.retarget.stage.compute_wrist_frames`), in MediaPipe-21 order.
"""

from __future__ import annotations

import time
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
    single_cpu_thread,
    strip_mimic,
)
from labeling.kinematics.urdf import load_urdf

from .config import DEXPILOT_HUBER_DELTA, ConfigError, RetargetConfig, dexpilot_pairs, dexpilot_targets

if TYPE_CHECKING:
    import torch



@dataclass(frozen=True)
class SolverOptions:
    """How hard the clip solver works. Defaults reach dex-retargeting's objective or better."""

    iterations: int = 5  # Levenberg-Marquardt sweeps over all frames; each updates even, then odd frames
    coarse_stride: int = 4  # warm start: first solve every stride-th frame, interpolate (1: off)
    coarse_iterations: int = 10  # sweeps of that coarse solve (all its frames at once: it is small)
    restarts: int = 0  # extra seeded random starts per coarse frame; the best solution is kept
    seed: int = 0  # seed of the random starts
    # Weight of |q_t - q_(t-1)|^2 (rad^-2). None: half the config's normal_delta, so that a frame,
    # tied to both neighbours, is as stiff as in dex-retargeting, where it is tied to the last frame.
    smoothness: float | None = None
    damping: float = 0.1  # initial Levenberg-Marquardt damping, relative to the Hessian's diagonal
    tolerance_rad: float = 1e-5  # stop early once no joint moves more than this in a sweep

    def __post_init__(self) -> None:
        """Check ranges; errors name the field."""
        for name in ("iterations", "coarse_iterations", "restarts", "seed"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"SolverOptions.{name} must be an integer >= 0, got {getattr(self, name)!r}")
        if not isinstance(self.coarse_stride, int) or self.coarse_stride < 1:
            raise ValueError(f"SolverOptions.coarse_stride must be an integer >= 1, got {self.coarse_stride!r}")
        for name in ("smoothness", "damping", "tolerance_rad"):
            value = getattr(self, name)
            if value is None and name == "smoothness":
                continue
            if value is None or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"SolverOptions.{name} must be a number >= 0, got {value!r}")


@dataclass(frozen=True)
class RetargetResult:
    """A retargeted clip (one hand)."""

    joint_names: tuple[str, ...]  # column order of q_rad: dex-retargeting's joint_names (mimic included)
    q_rad: npt.NDArray[np.float32]  # (T, n_joints) rad (m for prismatic), after the low-pass filter
    objective: npt.NDArray[np.float64]  # (T,) dex-retargeting's objective at the unfiltered optimum
    residual_m: npt.NDArray[np.float64]  # (T,) mean error of the matched vectors/points of q_rad, m
    iterations: int  # sweeps run
    elapsed_s: float  # wall time of the solve


@dataclass(frozen=True)
class _Targets:
    """What the robot must match, per frame: vectors (or points) and their weights."""

    reference: torch.Tensor  # (T, N, 3) target robot vectors (or positions), root frame
    weight: torch.Tensor  # (T, N) per-term weight, already divided by the term count
    error_reference: npt.NDArray[np.float64]  # (T, N, 3) unprojected scaled human vectors (for residuals)


class Retargeter:
    """The compiled solver of one `RetargetConfig` (build with `RetargetConfig.build`)."""

    def __init__(self, config: RetargetConfig, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None) -> None:
        """Parse the URDF and compile kinematics, variables and targets; see `RetargetConfig.build`."""
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

    def targets(self, keypoints_root: npt.NDArray[np.float64], starts: npt.NDArray[np.bool_]) -> _Targets:
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

        return _Targets(tensor(reference), tensor(weight), error_reference)

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

    # --- solving ----------------------------------------------------------------------------------

    def retarget(self, keypoints: npt.ArrayLike, starts: npt.ArrayLike | None = None,
                 q_init: npt.ArrayLike | None = None, options: SolverOptions | None = None) -> RetargetResult:
        """Retarget a clip.

        Args:
            keypoints: `(T, 21, 3)` human keypoints, metres, MANO wrist frame, MediaPipe order; finite.
            starts: `(T,)` bool, True where a new segment starts (no smoothness to the frame before,
                DexPilot pinch state and the low-pass filter restart); default: only frame 0.
            q_init: warm start, `(T, n_joints)` or `(n_joints,)` in `joint_names` order; default:
                the middle of every optimised joint's range.
            options: solver effort and smoothness.

        Returns:
            The joint angles, dex-retargeting objective and residual per frame.
        """

        with single_cpu_thread(self.device):
            return self._retarget(keypoints, starts, q_init, options or SolverOptions())

    def _retarget(self, keypoints: npt.ArrayLike, starts: npt.ArrayLike | None, q_init: npt.ArrayLike | None,
                  options: SolverOptions) -> RetargetResult:
        import torch

        started = time.perf_counter()
        points = np.asarray(keypoints, dtype=np.float64)
        if points.ndim != 3 or points.shape[1:] != (21, 3) or not np.isfinite(points).all():
            raise ValueError(f"keypoints must be finite with shape (T, 21, 3), got {points.shape}")
        n_frames = points.shape[0]
        starts = self._starts(starts, n_frames)
        targets = self.targets(points @ self.input_rotation.T, starts)
        smoothness = self.config.normal_delta / 2 if options.smoothness is None else options.smoothness
        x, sweeps = self._initial(q_init, n_frames), 0
        if n_frames:
            if q_init is None:
                x = self._warm_start(targets, starts, x, smoothness, options)
            link = torch.as_tensor(np.where(starts, 0.0, smoothness), dtype=self.dtype, device=self.device)
            x, sweeps = self._solve(targets, x, link, options.iterations, options)
        with torch.no_grad():
            objective = self._data_term(x, targets.reference, targets.weight, system=False)[0]
            q_raw = self.full_q(x).cpu().numpy()
        q = low_pass(q_raw.astype(np.float64), self.config.low_pass_alpha, starts)
        q[:, self._target_columns] = q[:, self._target_columns].clip(*self.target_limits.T)  # float rounding
        return RetargetResult(self.joint_names, q.astype(np.float32), objective.cpu().numpy().astype(np.float64),
                              self.residual(q, targets.error_reference), sweeps, time.perf_counter() - started)

    @staticmethod
    def _starts(starts: npt.ArrayLike | None, n_frames: int) -> npt.NDArray[np.bool_]:
        out = np.zeros(n_frames, dtype=bool) if starts is None else np.asarray(starts, dtype=bool).copy()
        if out.shape != (n_frames,):
            raise ValueError(f"starts must have shape ({n_frames},), got {out.shape}")
        if n_frames:
            out[0] = True
        return out

    def _initial(self, q_init: npt.ArrayLike | None, n_frames: int) -> torch.Tensor:
        import torch

        if q_init is None:
            x0 = np.broadcast_to(self.target_limits.mean(axis=1), (n_frames, len(self.target_joint_names)))
        else:
            q0 = np.asarray(q_init, dtype=np.float64)
            if q0.shape[-1] != len(self.joint_names) or q0.ndim not in (1, 2):
                raise ValueError(f"q_init must have shape (T, {len(self.joint_names)}) or "
                                 f"({len(self.joint_names)},), got {q0.shape}")
            x0 = np.broadcast_to(q0[..., self._target_columns], (n_frames, len(self.target_joint_names)))
        x0 = np.clip(x0, self.target_limits[:, 0], self.target_limits[:, 1])
        return torch.as_tensor(np.ascontiguousarray(x0), dtype=self.dtype, device=self.device)

    def _warm_start(self, targets: _Targets, starts: npt.NDArray[np.bool_], x: torch.Tensor, smoothness: float,
                    options: SolverOptions) -> torch.Tensor:
        """Solve every `coarse_stride`-th frame (and each segment's ends), then interpolate within segments.

        With `restarts`, each of those frames is solved alone from its start and from seeded random
        poses, keeping the best; otherwise they are solved together, tied by the smoothness term.
        """
        import torch

        segment = np.cumsum(starts) - 1
        ends = np.r_[starts[1:], True]
        chosen = np.flatnonzero(starts | ends | (np.arange(len(starts)) % options.coarse_stride == 0))
        index = torch.as_tensor(chosen, device=self.device)
        sub = _Targets(targets.reference[index], targets.weight[index], targets.error_reference[chosen])
        if options.restarts:
            coarse = self._multistart(sub, x[index], options)
        else:
            gap = np.diff(chosen, prepend=chosen[0]).clip(min=1)
            tied = np.r_[False, segment[chosen[1:]] == segment[chosen[:-1]]]
            link = np.where(tied, smoothness / gap, 0.0)  # a straight ramp over k frames costs |dq|^2 / k
            coarse, _ = self._solve(sub, x[index].clone(), torch.as_tensor(link, dtype=self.dtype, device=self.device),
                                    options.coarse_iterations, options, jacobi=True)
        if len(chosen) == len(starts):
            return coarse
        return torch.as_tensor(interpolate_segments(coarse.cpu().numpy(), chosen, segment),
                               dtype=self.dtype, device=self.device)

    def _multistart(self, targets: _Targets, x: torch.Tensor, options: SolverOptions) -> torch.Tensor:
        """Each frame solved alone from `x` and from `restarts` random poses; the lowest objective wins."""
        import torch

        n_frames, runs = x.shape[0], options.restarts + 1
        lower, upper = self.target_limits[:, 0], self.target_limits[:, 1]
        seeds = np.random.default_rng(options.seed).uniform(lower, upper, size=(options.restarts, n_frames, len(lower)))
        wide = (upper - lower) > 2 * np.pi + 1e-6  # free translations, unlimited joints: keep the start
        starts = torch.as_tensor(np.where(wide, x.cpu().numpy(), seeds), dtype=self.dtype, device=self.device)
        tiled = _Targets(targets.reference.repeat(runs, 1, 1), targets.weight.repeat(runs, 1),
                         np.tile(targets.error_reference, (runs, 1, 1)))
        solved, _ = self._solve(tiled, torch.cat([x[None], starts]).flatten(0, 1),
                                x.new_zeros(runs * n_frames), options.coarse_iterations, options, jacobi=True)
        with torch.no_grad():
            value = self._data_term(solved, tiled.reference, tiled.weight, system=False)[0].view(runs, n_frames)
        best = value.argmin(0)
        keep = value[0] <= value.min(0).values * (1 + 1e-3) + 1e-12  # prefer the plain start unless clearly worse
        pick = torch.where(keep, torch.zeros_like(best), best)
        return solved.view(runs, n_frames, -1)[pick, torch.arange(n_frames, device=self.device)]

    def _solve(self, targets: _Targets, x: torch.Tensor, link: torch.Tensor, iterations: int, options: SolverOptions,
               jacobi: bool = False) -> tuple[torch.Tensor, int]:
        """Levenberg-Marquardt over all frames; `link[t]` weights |x_t - x_(t-1)|^2.

        Red-black sweeps (even frames, then odd ones, each with its neighbours held) keep every step a
        descent step of the coupled problem; `jacobi` updates all frames at once instead (half the
        tensor operations per sweep, which pays on small batches where their overhead dominates).
        """
        import torch

        n_frames = x.shape[0]
        split = (torch.arange(n_frames),) if jacobi else (torch.arange(0, n_frames, 2), torch.arange(1, n_frames, 2))
        groups = [g.to(self.device) for g in split if len(g)]
        link_next = torch.cat([link[1:], link.new_zeros(1)])  # weight of |x_(t+1) - x_t|^2
        state: list[dict[str, torch.Tensor]] = [{} for _ in groups]
        sweep = 0
        with torch.no_grad():
            while sweep < iterations:
                largest = 0.0
                for group, memory in zip(groups, state, strict=True):
                    largest = max(largest, self._half_sweep(x, group, memory, targets, link, link_next, options))
                sweep += 1
                if largest < options.tolerance_rad:
                    break
            for group, memory in zip(groups, state, strict=True):  # keep the better of last trial and best
                if memory:
                    self._keep_better(x, group, memory, targets, link, link_next)
        return x, sweep

    def _neighbours(self, x: torch.Tensor, group: torch.Tensor, link: torch.Tensor, link_next: torch.Tensor
                    ) -> tuple[torch.Tensor, ...]:
        n_frames = x.shape[0]
        before = x.index_select(0, (group - 1).clamp(min=0))
        after = x.index_select(0, (group + 1).clamp(max=n_frames - 1))
        return before, after, link.index_select(0, group)[:, None], link_next.index_select(0, group)[:, None]

    def _keep_better(self, x: torch.Tensor, group: torch.Tensor, memory: dict[str, torch.Tensor], targets: _Targets,
                     link: torch.Tensor, link_next: torch.Tensor) -> None:
        import torch

        trial = x.index_select(0, group)
        value = self._data_term(trial, targets.reference[group], targets.weight[group], system=False)[0]
        before, after, w_before, w_after = self._neighbours(x, group, link, link_next)

        def total(z: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
            return data + (w_before * (z - before) ** 2 + w_after * (z - after) ** 2).sum(1)

        better = total(trial, value) <= total(memory["x"], memory["value"])
        x[group] = torch.where(better[:, None], trial, memory["x"])

    def _half_sweep(self, x: torch.Tensor, group: torch.Tensor, memory: dict[str, torch.Tensor], targets: _Targets,
                    link: torch.Tensor, link_next: torch.Tensor, options: SolverOptions) -> float:
        """Evaluate the frames of one colour at their trial point, keep the better, take a new step.

        Returns the largest joint change of the new trial point.
        """
        import torch

        trial = x.index_select(0, group)
        value, hessian, gradient = self._data_term(trial, targets.reference[group], targets.weight[group])
        before, after, w_before, w_after = self._neighbours(x, group, link, link_next)

        def smooth(z: torch.Tensor) -> torch.Tensor:
            return (w_before * (z - before) ** 2 + w_after * (z - after) ** 2).sum(1)

        if not memory:
            memory.update(x=trial, value=value, hessian=hessian, gradient=gradient,
                          damping=torch.full_like(value, options.damping))
        else:
            better = value + smooth(trial) <= memory["value"] + smooth(memory["x"])
            for key, new in (("x", trial), ("value", value), ("hessian", hessian), ("gradient", gradient)):
                memory[key] = torch.where(better.view(-1, *([1] * (new.ndim - 1))), new, memory[key])
            memory["damping"] = torch.where(better, memory["damping"] / 3.0, memory["damping"] * 4.0).clamp(1e-9, 1e6)
        best = memory["x"]
        grad = memory["gradient"] + 2.0 * (w_before * (best - before) + w_after * (best - after))
        system = memory["hessian"] + torch.diag_embed(2.0 * (w_before + w_after).expand_as(best))
        diagonal = torch.diagonal(system, dim1=1, dim2=2)
        scale = memory["damping"][:, None] * (diagonal + 1e-6 * diagonal.mean(1, keepdim=True) + 1e-12)
        step = self._bounded_step(system + torch.diag_embed(scale), grad, best)
        new = torch.minimum(torch.maximum(best + step, self._lower), self._upper)
        x[group] = new
        return float((new - best).abs().max()) if new.numel() else 0.0

    def _bounded_step(self, system: torch.Tensor, grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Newton step with joints at a bound and pushed outward held (projected Newton active set)."""
        import torch

        active = ((x <= self._lower) & (grad > 0)) | ((x >= self._upper) & (grad < 0))
        keep = (~active).to(system.dtype)
        system = system * keep[:, :, None] * keep[:, None, :] + torch.diag_embed(1.0 - keep)
        grad = grad * keep
        factor, info = torch.linalg.cholesky_ex(system)
        step = torch.cholesky_solve(-grad[..., None], factor)[..., 0]
        if bool((info != 0).any()):  # not positive definite (degenerate frame): fall back to a gradient step
            step = torch.where((info != 0)[:, None], -grad * 1e-3, step)
        return step

    # --- evaluation -------------------------------------------------------------------------------

    def residual(self, q_rad: npt.ArrayLike, error_reference: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """`(T,)` mean distance (m) between the robot's matched vectors (or points) and the scaled human ones.

        DexPilot counts its wrist→fingertip vectors only (its pair vectors may be projected on purpose).
        """
        import torch

        q = torch.as_tensor(np.asarray(q_rad), dtype=self.dtype, device=self.device)
        with torch.no_grad():
            points = self.kin.forward(q)[1][:, self._slots].cpu().numpy().astype(np.float64)
        robot = points[:, self.task_index] - (points[:, self.origin_index] if self.origin_index else 0.0)
        error = np.linalg.norm(robot - error_reference, axis=-1)
        if self.config.type == "dexpilot":
            error = error[:, -len(self.config.finger_tip_link_names):]
        return error.mean(axis=1) if error.shape[1] else np.zeros(len(error))

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


def interpolate_segments(values: npt.NDArray[np.float64], at: npt.NDArray[np.int64], segment: npt.NDArray[np.int64]
                         ) -> npt.NDArray[np.float64]:
    """`(T, n)` values linearly interpolated from rows `values (K, n)` given at frames `at (K,)`.

    Frames interpolate only between known frames of their own segment (`segment (T,)` ids); every
    segment's first and last frames must be among `at`.
    """
    frames = np.arange(len(segment))
    right = np.searchsorted(at, frames).clip(max=len(at) - 1)  # first known frame at or after t
    left = np.where(at[right] == frames, right, right - 1).clip(min=0)
    span = (at[right] - at[left]).clip(min=1)
    weight = ((frames - at[left]) / span)[:, None]
    return (1.0 - weight) * values[left] + weight * values[right]


def low_pass(q: npt.NDArray[np.float64], alpha: float, starts: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """dex-retargeting's output filter `y_t = y_(t-1) + alpha (q_t - y_(t-1))`, `y` restarting at `starts`.

    Off (identity) when alpha is 1 or outside [0, 1], as in dex-retargeting.
    """
    from scipy.signal import lfilter

    if not 0.0 <= alpha < 1.0 or len(q) == 0:
        return q.copy()
    out = np.empty_like(q)
    bounds = [*np.flatnonzero(starts), len(q)]
    for begin, end in zip(bounds[:-1], bounds[1:], strict=True):
        segment = q[begin:end]
        out[begin:end] = lfilter([alpha], [1.0, alpha - 1.0], segment, axis=0, zi=((1.0 - alpha) * segment[:1]))[0]
    return out
