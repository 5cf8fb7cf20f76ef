"""Data and figures for the Train and Scaling pages: runs as table rows, loss curves, the scaling fit. No Streamlit."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from trainer.runs import CheckpointInfo, RunStatus
from trainer.scaling import ScalingResult

PART_COLORS = ("#0f766e", "#6366f1", "#d97706", "#dc2626", "#0891b2", "#7c3aed")
EMBODIMENT_DASH = ("solid", "dash", "dot", "dashdot")
CURVES_HEIGHT_PX = 560


def run_title(run: RunStatus) -> str:
    """How a run reads in a picker: id, stage, export, state."""
    return f"run {run.run_id} · {run.stage} · {Path(run.data_dir).name} · {run.state}"


def run_row(run: RunStatus) -> dict[str, object]:
    """One run as a table row: state, stage, export, progress, newest losses, device, author, started."""
    val = " · ".join(f"{name} {loss:.4g}" for name, loss in sorted(run.val.items()))
    return {
        "run": run.run_id, "state": run.state, "stage": run.stage, "export": Path(run.data_dir).name,
        "config": Path(run.config_name).stem, "step": f"{run.step}/{run.max_steps or '?'}" + (
            f" ({run.part})" if run.part else ""),
        "train loss": None if run.train_loss is None else round(run.train_loss, 4), "val loss": val or "—",
        "device": run.device or "—", "author": run.author, "started": f"{run.created_at:%Y-%m-%d %H:%M:%S}",
        "message": run.message,
    }


def checkpoint_rows(found: list[CheckpointInfo]) -> list[dict[str, object]]:
    """Checkpoints as table rows (newest last)."""
    return [{k: (f"{v:%Y-%m-%d %H:%M:%S}" if k == "saved_at" else v) for k, v in asdict(c).items()
             if k != "part" or c.part} for c in found]


def run_curves(log: pd.DataFrame) -> go.Figure:
    """Train loss, validation MSE per embodiment, learning rate and samples/s against the step (`run_log` rows).

    A scaling run's fractions (`part`) get one colour each; embodiments differ by dash.
    """
    fig = make_subplots(rows=2, cols=2, subplot_titles=("train loss", "validation MSE per embodiment",
                                                        "learning rate", "samples / s"),
                        horizontal_spacing=0.08, vertical_spacing=0.16)
    val_columns = sorted(c for c in log.columns if c.startswith("val_"))
    for n, (part, rows) in enumerate(log.groupby("part", sort=True)):
        color, prefix = PART_COLORS[n % len(PART_COLORS)], f"{part} · " if part else ""
        steps = rows.dropna(subset=["train_loss"])
        fig.add_scatter(x=steps["step"], y=steps["train_loss"], mode="lines", name=f"{prefix}train loss",
                        line={"color": color, "width": 1.5}, row=1, col=1)
        for k, column in enumerate(val_columns):
            evals = rows.dropna(subset=[column])
            fig.add_scatter(x=evals["step"], y=evals[column], mode="lines+markers", name=f"{prefix}{column[4:]}",
                            line={"color": color, "dash": EMBODIMENT_DASH[k % len(EMBODIMENT_DASH)]}, row=1, col=2)
        fig.add_scatter(x=steps["step"], y=steps["lr"], mode="lines", showlegend=False, line={"color": color},
                        row=2, col=1)
        speed = rows.dropna(subset=["samples_per_s"])
        fig.add_scatter(x=speed["step"], y=speed["samples_per_s"], mode="lines+markers", showlegend=False,
                        line={"color": color}, row=2, col=2)
    fig.update_xaxes(title_text="step", row=2)
    fig.update_layout(height=CURVES_HEIGHT_PX, margin={"l": 8, "r": 8, "t": 40, "b": 8},
                      legend={"orientation": "h", "y": -0.12})
    return fig


def scaling_rows(result: ScalingResult) -> list[dict[str, object]]:
    """The scaling study as table rows, one per seed at each fraction: the seed of its episode order (None: a study
    from before seeds drew their own), human hours, steps, human validation MSE and
    the fit's value there, then the robot validation MSE after midtraining from that checkpoint."""
    predicted = result.fit.predict(result.hours)
    return [{"fraction": p.fraction, "seed": p.seed, "episode order": p.data_seed, "human hours": round(p.hours, 5),
             "human minutes": round(p.hours * 60, 2), "steps": p.steps, "val MSE": round(p.human_val, 5),
             "fit": round(float(fit), 5),
             "robot val MSE": None if p.robot_val is None else round(p.robot_val, 5),
             "midtrain steps": p.midtrain_steps, "run folder": p.run}
            for p, fit in zip(result.points, predicted, strict=True)]


def scaling_metrics(result: ScalingResult) -> dict[str, str]:
    """The Scaling page's headline figures: label -> value."""
    fit, transfer = result.fit, result.transfer
    interval = "n/a (under 3 runs)" if fit.b_low is None else f"[{fit.b_low:.3f}, {fit.b_high:.3f}]"
    return {"a (loss at 1 h)": f"{fit.a:.4f}", "b (per e-fold of hours)": f"{fit.b:.4f}", "b, 95% interval": interval,
            "R²": f"{fit.r2:.4f}", "Runs fitted": str(fit.n),
            "robot vs human loss, r": "n/a" if transfer is None else f"{transfer.r:.3f}"}


def validation_caption(result: ScalingResult) -> str:
    """One sentence on what every run was scored on."""
    v = result.validation
    robot = f" and {v.robot_episodes} robot episodes ({v.robot_timesteps} timesteps)" if v.robot_episodes else ""
    return (f"Every run is scored on the same held-out set: {v.human_episodes} human episodes over {v.human_tasks} "
            f"tasks ({v.human_timesteps} timesteps){robot}, × {v.samples} sampled action chunks each. "
            f"{result.config.seeds} seed(s) per fraction; steps = max({result.config.min_steps}, "
            f"{result.config.epochs:g} epochs of the fraction's samples).")
