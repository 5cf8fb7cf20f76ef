"""The two fits of a scaling study, pure maths: the log law of human loss, and human loss against robot loss.

    fit = fit_log_law(hours, losses)          # L = a + b ln(hours): a, b, R², 95 % intervals of a and b
    transfer = fit_transfer(human, robot)     # Pearson r of robot loss on human loss, and its line

Several seeds per amount of hours are fitted as they come (every run a point), so the intervals
hold the seed spread; R² is taken over the seed means of each group of runs (a fraction of the hours:
its seeds' hours differ a little when each draws its own episodes; by default runs of equal hours),
the curve whose log-linearity EgoScale reports (with one run per amount, the two are the same).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CONFIDENCE = 0.95  # the level of the intervals of a and b


@dataclass(frozen=True)
class ScalingFit:
    """L = a + b * ln(hours), least squares on ln(hours)."""

    a: float  # loss at 1 hour
    b: float  # change of loss per e-fold of hours (negative when more data helps)
    r2: float  # coefficient of determination of the fit to the mean loss at each amount of hours
    n: int  # runs fitted
    a_low: float | None = None  # lower end of a's CONFIDENCE interval (None: fewer than 3 runs)
    a_high: float | None = None  # upper end of a's interval
    b_low: float | None = None  # lower end of b's CONFIDENCE interval (None: fewer than 3 runs)
    b_high: float | None = None  # upper end of b's interval

    def predict(self, hours: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return self.a + self.b * np.log(np.asarray(hours, dtype=np.float64))


@dataclass(frozen=True)
class TransferFit:
    """Robot validation loss after midtraining against the human validation loss of its pretrain checkpoint."""

    r: float  # Pearson correlation over the runs (nan when either loss is constant)
    slope: float  # of the least-squares line robot = intercept + slope * human
    intercept: float  # of that line
    n: int  # runs


def _checked(x: npt.ArrayLike, y: npt.ArrayLike, x_name: str) -> tuple[np.ndarray, np.ndarray]:
    d, loss = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if d.shape != loss.shape:
        raise ValueError(f"{x_name} {d.shape} and losses {loss.shape} differ in length")
    if not (np.isfinite(d).all() and np.isfinite(loss).all()):
        raise ValueError(f"{x_name} and losses must be finite")
    return d, loss


def fit_log_law(hours: npt.ArrayLike, losses: npt.ArrayLike, groups: npt.ArrayLike | None = None) -> ScalingFit:
    """Fit L = a + b ln(D) to `(n,)` hours and losses (hours may repeat: one point per seed).

    `groups` (`(n,)` labels, e.g. each run's fraction) says which runs' means R² compares with the line:
    their mean loss against the line at their mean ln(hours). Default: runs of equal hours.

    Raises:
        ValueError: fewer than two distinct positive hours, or non-finite values.
    """
    d, loss = _checked(hours, losses, "hours")
    if (d <= 0).any():
        raise ValueError("hours must be positive and losses finite")
    if len(np.unique(d)) < 2:
        raise ValueError("a fit needs at least two different amounts of hours")
    x = np.log(d)
    b, a = np.polyfit(x, loss, 1)
    labels = d if groups is None else np.asarray(groups).ravel()
    if labels.shape != d.shape:
        raise ValueError(f"groups {labels.shape} and hours {d.shape} differ in length")
    _, where = np.unique(labels, return_inverse=True)
    counts = np.bincount(where)
    means, mean_x = np.bincount(where, loss) / counts, np.bincount(where, x) / counts
    residual = float(((means - (a + b * mean_x)) ** 2).sum())
    total = float(((means - means.mean()) ** 2).sum())
    r2 = 1.0 - residual / total if total > 0 else 1.0
    intervals = _intervals(x, loss, float(a), float(b))
    return ScalingFit(a=float(a), b=float(b), r2=r2, n=len(d), **intervals)


def _intervals(x: np.ndarray, y: np.ndarray, a: float, b: float) -> dict[str, float | None]:
    """Student-t intervals of the intercept and slope of ordinary least squares (n - 2 degrees of freedom)."""
    from scipy import stats

    n = len(x)
    if n < 3:
        return {}
    sxx = float(((x - x.mean()) ** 2).sum())
    s2 = float(((y - (a + b * x)) ** 2).sum()) / (n - 2)
    se_b = (s2 / sxx) ** 0.5
    se_a = (s2 * (1.0 / n + x.mean() ** 2 / sxx)) ** 0.5
    t = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 2))
    return {"a_low": a - t * se_a, "a_high": a + t * se_a, "b_low": b - t * se_b, "b_high": b + t * se_b}


def fit_transfer(human_losses: npt.ArrayLike, robot_losses: npt.ArrayLike) -> TransferFit:
    """Pearson r and the least-squares line of `(n,)` robot losses on human losses.

    Raises:
        ValueError: fewer than two runs, or non-finite values.
    """
    human, robot = _checked(human_losses, robot_losses, "human losses")
    if len(human) < 2:
        raise ValueError("a correlation needs at least two runs")
    if np.ptp(human) == 0:
        return TransferFit(r=float("nan"), slope=0.0, intercept=float(robot.mean()), n=len(human))
    slope, intercept = np.polyfit(human, robot, 1)
    r = float(np.corrcoef(human, robot)[0, 1]) if np.ptp(robot) > 0 else float("nan")
    return TransferFit(r=r, slope=float(slope), intercept=float(intercept), n=len(human))
