"""The two figures of a scaling study (the Scaling page and `scaling.html` draw them).

    scaling_figure(result)    # human validation loss against hours (log axis): every seed, mean ± spread, the fit
    transfer_figure(result)   # robot validation loss after midtraining against human validation loss, with r
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .scaling import ScalingResult

FRACTION_COLORS = ("#0f766e", "#6366f1", "#d97706", "#dc2626", "#0891b2", "#7c3aed", "#65a30d", "#be185d")
SEED_COLOR = "rgba(217, 119, 6, 0.85)"  # amber: the seeds at the min and max sit on the teal bar ends
FIT_COLOR = "#0f766e"


def _by_fraction(result: ScalingResult) -> dict[float, list]:
    groups: dict[float, list] = {}
    for point in result.points:
        groups.setdefault(point.fraction, []).append(point)
    return groups


def scaling_figure(result: ScalingResult) -> go.Figure:
    """Each fraction's seed mean (a wide dash) with its seeds' min–max as error bars, each seed's run as a point
    over it, the fitted law as a line; log hours on x, ticked at the fractions' hours."""
    fit = result.fit
    groups = _by_fraction(result)
    # A fraction's seeds may hold slightly different hours (each draws its own episodes): its mean sits at
    # their geometric mean, where the fit's R² compares it with the line.
    hours = [math.exp(np.mean([math.log(p.hours) for p in g])) for g in groups.values()]
    means = [float(np.mean([p.human_val for p in g])) for g in groups.values()]
    spread_low = [m - min(p.human_val for p in g) for m, g in zip(means, groups.values(), strict=True)]
    spread_high = [max(p.human_val for p in g) - m for m, g in zip(means, groups.values(), strict=True)]
    figure = go.Figure()
    figure.add_scatter(x=result.hours, y=result.losses, mode="markers", name="each seed",
                       marker={"size": 9, "color": SEED_COLOR},
                       text=[f"fraction {p.fraction:g}, seed {p.seed}" for p in result.points])
    figure.add_scatter(x=hours, y=means, mode="markers", name="seed mean (bars: min–max)",
                       marker={"size": 22, "color": FIT_COLOR, "symbol": "line-ew-open", "line": {"width": 3}},
                       error_y={"type": "data", "symmetric": False, "array": spread_high, "arrayminus": spread_low,
                                "thickness": 1.5, "width": 8, "color": FIT_COLOR})
    lo, hi = min(result.hours), max(result.hours)
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 50))
    interval = f", b ∈ [{fit.b_low:.3f}, {fit.b_high:.3f}]" if fit.b_low is not None else ""
    figure.add_scatter(x=grid, y=fit.predict(grid), mode="lines", line={"color": FIT_COLOR},
                       name=f"L = {fit.a:.4f} {'+' if fit.b >= 0 else '-'} {abs(fit.b):.4f} ln(h), R² = {fit.r2:.3f}"
                            f"{interval}")
    figure.update_layout(xaxis={"type": "log", "title": "human training hours", "tickvals": hours,
                                "ticktext": [f"{h:.3g}" for h in hours]},
                         yaxis={"title": "human validation MSE (sampled action chunks)"},
                         title="Scaling: human validation loss vs. human hours",
                         legend={"orientation": "h", "y": -0.2})
    return figure


def transfer_figure(result: ScalingResult) -> go.Figure:
    """Robot validation MSE after midtraining against the human validation MSE of the pretrain checkpoint it
    started from: one point per run, coloured by fraction, and the least-squares line with Pearson r."""
    figure = go.Figure()
    transfer = result.transfer
    for n, (fraction, points) in enumerate(_by_fraction(result).items()):
        points = [p for p in points if p.robot_val is not None]
        figure.add_scatter(x=[p.human_val for p in points], y=[p.robot_val for p in points], mode="markers",
                           name=f"fraction {fraction:g}", text=[f"seed {p.seed}" for p in points],
                           marker={"size": 10, "color": FRACTION_COLORS[n % len(FRACTION_COLORS)]})
    if transfer is not None:
        xs = [p.human_val for p in result.points if p.robot_val is not None]
        grid = np.linspace(min(xs), max(xs), 20)
        name = f"robot = {transfer.intercept:.3f} + {transfer.slope:.3f} × human, r = {transfer.r:.3f}"
        figure.add_scatter(x=grid, y=transfer.intercept + transfer.slope * grid, mode="lines",
                           line={"color": "#334155", "dash": "dash"}, name=name)
    figure.update_layout(xaxis={"title": "human validation MSE after pretraining"},
                         yaxis={"title": "robot validation MSE after midtraining"},
                         title="Transfer: human loss vs. robot loss after midtraining",
                         legend={"orientation": "h", "y": -0.2})
    return figure
