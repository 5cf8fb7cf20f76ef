"""Plotly figures of the Overview page, built from `db.queries.clips` and `db.queries.frames` (no Streamlit here)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .viewer import HAND_COLORS

KIND_COLORS = {"human": "#0f766e", "robot": "#6366f1"}
CHART_HEIGHT_PX = 320


def _clips(count: int) -> str:
    return f"{count:,} clip" + ("" if count == 1 else "s")


def _style(fig: go.Figure, title: str, height: int = CHART_HEIGHT_PX) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0, "font": {"size": 15}}, height=height, bargap=0.25,
                      margin={"l": 8, "r": 8, "t": 40, "b": 8}, legend={"orientation": "h", "y": -0.15})
    return fig


def time_unit(max_hours: float) -> tuple[str, float]:
    """The unit a duration axis reads best in, and the factor from hours: small catalogs in minutes."""
    return ("hours", 1.0) if max_hours >= 1 else ("minutes", 60.0)


def hours_by_source(totals: pd.DataFrame) -> go.Figure:
    """Horizontal bars of video time per source, labelled with clip counts (`clip_totals(e, 'source')`)."""
    unit, factor = time_unit(float(totals["hours"].max()) if len(totals) else 0.0)
    fig = go.Figure(go.Bar(x=totals["hours"] * factor, y=totals["source"], orientation="h", marker_color="#0f766e",
                           text=[_clips(int(c)) for c in totals["clips"]], textposition="auto",
                           hovertemplate=f"%{{y}}: %{{x:.2f}} {unit}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=unit)
    return _style(fig, "Video by source")


def hours_by_task(tasks: pd.DataFrame) -> go.Figure:
    """Horizontal bars of the top tasks' video time, coloured by kind (`task_totals`)."""
    unit, factor = time_unit(float(tasks["hours"].max()) if len(tasks) else 0.0)
    fig = go.Figure()
    for kind, group in tasks.groupby("kind", sort=True):
        fig.add_trace(go.Bar(x=group["hours"] * factor, y=group["task"], orientation="h", name=str(kind),
                             marker_color=KIND_COLORS.get(str(kind), "#6b7280"), customdata=group["clips"],
                             hovertemplate=f"%{{y}}: %{{x:.2f}} {unit}, %{{customdata}} clips<extra></extra>"))
    order = list(tasks.sort_values("hours", ascending=False)["task"])
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1])
    fig.update_xaxes(title=unit)
    fig.update_layout(barmode="stack")
    return _style(fig, f"Top {len(tasks)} tasks by video time", height=max(CHART_HEIGHT_PX, 60 + 22 * len(tasks)))


def pose_coverage(coverage: pd.DataFrame) -> go.Figure:
    """Grouped bars: fraction of frames with each hand present, per pose source (`pose_coverage_by_hand`)."""
    fig = go.Figure()
    for hand, group in coverage.groupby("hand", sort=True):
        fig.add_trace(go.Bar(x=group["pose_source"], y=group["present_fraction"], name=f"{hand} hand",
                             marker_color=HAND_COLORS.get(str(hand), "#6b7280"),
                             text=[_clips(int(c)) for c in group["clips"]], textposition="auto",
                             hovertemplate="%{x}: %{y:.0%} of frames<extra></extra>"))
    fig.update_yaxes(title="frames with the hand present", tickformat=".0%", range=[0, 1])
    fig.update_layout(barmode="group")
    return _style(fig, "Hand pose coverage")
