"""The EgoScale scaling view: validation loss against human hours, fitted as L = a + b * ln(hours).

    fit = fit_log_law(hours, losses)                      # pure: a, b, R^2
    result = run_scaling(cfg, fractions=(0.25, 0.5, 1))   # nested human subsets, one pretrain run each
    figure = scaling_figure(result)                       # plotly figure (the app's Train page draws it)

Each run pretrains on the first `fraction` of the human training hours in one seeded order (so the
subsets are nested) and is scored on the same held-out human episodes, as in the paper.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from db import paths

from .data import HUMAN


@dataclass(frozen=True)
class ScalingFit:
    """L = a + b * ln(hours), least squares on ln(hours)."""

    a: float  # loss at 1 hour
    b: float  # change of loss per e-fold of hours (negative when more data helps)
    r2: float  # coefficient of determination of the fit
    n: int  # points fitted

    def predict(self, hours: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return self.a + self.b * np.log(np.asarray(hours, dtype=np.float64))


def fit_log_law(hours: npt.ArrayLike, losses: npt.ArrayLike) -> ScalingFit:
    """Fit L = a + b ln(D) to `(n,)` hours and losses.

    Raises:
        ValueError: fewer than two distinct positive hours, or non-finite values.
    """
    d = np.asarray(hours, dtype=np.float64).ravel()
    loss = np.asarray(losses, dtype=np.float64).ravel()
    if d.shape != loss.shape:
        raise ValueError(f"hours {d.shape} and losses {loss.shape} differ in length")
    if not (np.isfinite(d).all() and np.isfinite(loss).all()) or (d <= 0).any():
        raise ValueError("hours must be positive and losses finite")
    if len(np.unique(d)) < 2:
        raise ValueError("a fit needs at least two different amounts of hours")
    x = np.log(d)
    b, a = np.polyfit(x, loss, 1)
    residual = float(((loss - (a + b * x)) ** 2).sum())
    total = float(((loss - loss.mean()) ** 2).sum())
    r2 = 1.0 - residual / total if total > 0 else 1.0
    return ScalingFit(a=float(a), b=float(b), r2=r2, n=len(d))


@dataclass(frozen=True)
class ScalingResult:
    """The runs of one scaling study and their fit."""

    fractions: list[float]
    hours: list[float]  # human training hours each run saw
    losses: list[float]  # its final human validation MSE
    runs: list[str]  # each run's folder
    fit: ScalingFit

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def run_scaling(cfg: object, fractions: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)) -> ScalingResult:
    """Pretrain once per nested fraction of the human hours; fit and write `scaling.json` + `scaling.html`.

    `cfg` is a `TrainConfig` (stage forced to pretrain); run `k` goes to `<out_dir>/fraction-<f>/`
    and all runs share one frame cache. Returns the result (also written to `<out_dir>/scaling.json`).
    """
    from .run_log import final_val
    from .train import load_checkpoint, train, with_overrides

    out_dir = Path(cfg.out_dir)
    cache = cfg.cache_dir or str(out_dir / paths.RUN_FRAME_CACHE_DIR)
    hours, losses, runs = [], [], []
    for fraction in sorted(fractions):
        run_dir = paths.scaling_part_dir(out_dir, fraction)
        run_cfg = with_overrides(cfg, stage="pretrain", init=None, human_fraction=fraction, out_dir=str(run_dir),
                                 cache_dir=cache)
        last = train(run_cfg)
        val = final_val(run_dir)
        if HUMAN not in val:
            raise ValueError(f"{cfg.data_dir}: no human validation episodes to score the scaling runs on")
        hours.append(float(load_checkpoint(last)["human_train_hours"]))
        losses.append(val[HUMAN])
        runs.append(str(run_dir))
    result = ScalingResult(list(sorted(fractions)), hours, losses, runs, fit_log_law(hours, losses))
    (out_dir / paths.SCALING_RESULT).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    scaling_figure(result).write_html(out_dir / paths.SCALING_FIGURE, include_plotlyjs=True)
    return result


def read_scaling(out_dir: Path | str) -> ScalingResult:
    """A scaling study written by `run_scaling` (for the app)."""
    values = json.loads((Path(out_dir) / paths.SCALING_RESULT).read_text())
    return ScalingResult(**{**values, "fit": ScalingFit(**values["fit"])})


def scaling_figure(result: ScalingResult) -> object:
    """Validation loss against human hours (log x axis), the runs as points and the fitted law as a line."""
    import plotly.graph_objects as go

    fit = result.fit
    lo, hi = min(result.hours), max(result.hours)
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 50))
    figure = go.Figure()
    figure.add_scatter(x=result.hours, y=result.losses, mode="markers", name="runs", marker={"size": 10})
    figure.add_scatter(x=grid, y=fit.predict(grid), mode="lines",
                       name=f"L = {fit.a:.4f} {'+' if fit.b >= 0 else '-'} {abs(fit.b):.4f} ln(h), R² = {fit.r2:.3f}")
    figure.update_layout(xaxis={"type": "log", "title": "human training hours"},
                         yaxis={"title": "human validation MSE (sampled action chunks)"},
                         title="Scaling: validation loss vs. human hours")
    return figure
