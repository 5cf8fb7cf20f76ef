"""The clip solver: human hand keypoints to robot joint angles, a whole clip solved as one batched problem.

    from labeling.retarget.config import RetargetConfig
    retargeter = RetargetConfig.from_yaml("allegro_hand_right.yml", urdf_dir=DIR).build()
    result = retargeter.retarget(keypoints_mano)       # (T, 21, 3) → result.q_rad (T, n_joints)

The objective (`objective.py`) is dex-retargeting's, term for term. dex-retargeting adds
`normal_delta * |q_t - q_(t-1)|^2` toward the previous frame's answer and solves frame after frame
with SLSQP. Here every frame of a clip is one problem: the data terms plus
`smoothness * sum_t |q_t - q_(t-1)|^2`, joint limits as bounds, solved by Levenberg-Marquardt
(Gauss-Newton on the Huber loss by iteratively reweighted least squares, the exact Jacobian from
`labeling.kinematics.torch_fk`, a bounded step with an active set) in red-black sweeps: even frames with
odd frames held, then odd frames, so each half is a batch of independent small systems. Warm start:
every `coarse_stride`-th frame is solved first from the mid-range pose (dex-retargeting's first-frame
start; optionally also from seeded random poses), and the clip starts from their interpolation, or
from a given `q_init`. `low_pass_alpha` then filters the output as dex-retargeting does. Runs on
CUDA when present; on CPU it uses one thread (the tensors are small).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from labeling.kinematics.torch_fk import single_cpu_thread

from .objective import RetargetObjective, Targets

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
    # (T,) mean distance of the robot's fingertips from the scaled human ones (robot scale), m; NaN
    # when the config places no fingertip
    fingertip_m: npt.NDArray[np.float64] | None = None



class Retargeter(RetargetObjective):
    """The compiled solver of one `RetargetConfig` (build with `RetargetConfig.build`)."""

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
        errors = self.term_errors(q, targets.error_reference)
        return RetargetResult(self.joint_names, q.astype(np.float32), objective.cpu().numpy().astype(np.float64),
                              self.residual_from(errors), sweeps, time.perf_counter() - started,
                              self.fingertip_error_from(errors))

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

    def _warm_start(self, targets: Targets, starts: npt.NDArray[np.bool_], x: torch.Tensor, smoothness: float,
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
        sub = Targets(targets.reference[index], targets.weight[index], targets.error_reference[chosen])
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

    def _multistart(self, targets: Targets, x: torch.Tensor, options: SolverOptions) -> torch.Tensor:
        """Each frame solved alone from `x` and from `restarts` random poses; the lowest objective wins."""
        import torch

        n_frames, runs = x.shape[0], options.restarts + 1
        lower, upper = self.target_limits[:, 0], self.target_limits[:, 1]
        seeds = np.random.default_rng(options.seed).uniform(lower, upper, size=(options.restarts, n_frames, len(lower)))
        wide = (upper - lower) > 2 * np.pi + 1e-6  # free translations, unlimited joints: keep the start
        starts = torch.as_tensor(np.where(wide, x.cpu().numpy(), seeds), dtype=self.dtype, device=self.device)
        tiled = Targets(targets.reference.repeat(runs, 1, 1), targets.weight.repeat(runs, 1),
                         np.tile(targets.error_reference, (runs, 1, 1)))
        solved, _ = self._solve(tiled, torch.cat([x[None], starts]).flatten(0, 1),
                                x.new_zeros(runs * n_frames), options.coarse_iterations, options, jacobi=True)
        with torch.no_grad():
            value = self._data_term(solved, tiled.reference, tiled.weight, system=False)[0].view(runs, n_frames)
        best = value.argmin(0)
        keep = value[0] <= value.min(0).values * (1 + 1e-3) + 1e-12  # prefer the plain start unless clearly worse
        pick = torch.where(keep, torch.zeros_like(best), best)
        return solved.view(runs, n_frames, -1)[pick, torch.arange(n_frames, device=self.device)]

    def _solve(self, targets: Targets, x: torch.Tensor, link: torch.Tensor, iterations: int, options: SolverOptions,
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

    def _keep_better(self, x: torch.Tensor, group: torch.Tensor, memory: dict[str, torch.Tensor], targets: Targets,
                     link: torch.Tensor, link_next: torch.Tensor) -> None:
        import torch

        trial = x.index_select(0, group)
        value = self._data_term(trial, targets.reference[group], targets.weight[group], system=False)[0]
        before, after, w_before, w_after = self._neighbours(x, group, link, link_next)

        def total(z: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
            return data + (w_before * (z - before) ** 2 + w_after * (z - after) ** 2).sum(1)

        better = total(trial, value) <= total(memory["x"], memory["value"])
        x[group] = torch.where(better[:, None], trial, memory["x"])

    def _half_sweep(self, x: torch.Tensor, group: torch.Tensor, memory: dict[str, torch.Tensor], targets: Targets,
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
