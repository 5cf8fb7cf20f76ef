"""A plotly 3D figure of the retargeted robot hand at one frame, beside the human hand it came from.

Built from the `view3d` part of `robot_overlay.clip_robot_layer` (millimetres, camera axes, the
centroid of the robot's links at the origin), so it shows exactly what the player's live 3D view shows, with
plotly's zoom and hover. No Streamlit here.
"""

from __future__ import annotations

import plotly.graph_objects as go

from .viewer import HAND_COLORS

ROBOT_COLOR = "#1f2937"
FIGURE_HEIGHT_PX = 460


def _points(flat: list[float | None] | None) -> list[tuple[float, float, float] | None]:
    if not flat:
        return []
    triples = [tuple(flat[i:i + 3]) for i in range(0, len(flat) - 2, 3)]
    return [None if None in t else (float(t[0]), float(t[1]), float(t[2])) for t in triples]  # type: ignore[misc]


def _segments(points: list, edges: list) -> tuple[list[float | None], list[float | None], list[float | None]]:
    """Edge endpoints as x, y, z lists with a None gap after each segment (one trace, many lines)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    zs: list[float | None] = []
    for a, b in edges:
        if a < len(points) and b < len(points) and points[a] and points[b]:
            for p in (points[a], points[b]):
                xs.append(p[0])
                ys.append(p[1])
                zs.append(p[2])
            xs.append(None)
            ys.append(None)
            zs.append(None)
    return xs, ys, zs


def robot_figure(view3d: dict, frame: int, embodiment: str = "") -> go.Figure:
    """Links as markers joined by edges (and the human skeleton, thinner), equal aspect, camera view.

    The scene's camera looks along the video camera's +z with -y up, so the figure starts as the
    video shows the hand.
    """
    frame = max(0, min(frame, len(view3d["xyz"]) - 1))
    fig = go.Figure()
    human = _points(view3d["human"][frame]) if view3d.get("human") else []
    if human:
        x, y, z = _segments(human, view3d["humanEdges"])
        fig.add_trace(go.Scatter3d(x=x, y=y, z=z, mode="lines", name="human keypoints",
                                   line={"color": HAND_COLORS.get(view3d["hand"], "#6b7280"), "width": 3}))
    links = _points(view3d["xyz"][frame])
    if links:
        x, y, z = _segments(links, view3d["edges"])
        fig.add_trace(go.Scatter3d(x=x, y=y, z=z, mode="lines", name="robot links",
                                   line={"color": ROBOT_COLOR, "width": 6}, hoverinfo="skip"))
        shown = [(p, name) for p, name in zip(links, view3d["links"], strict=False) if p]
        fig.add_trace(go.Scatter3d(x=[p[0] for p, _ in shown], y=[p[1] for p, _ in shown],
                                   z=[p[2] for p, _ in shown], text=[name for _, name in shown], mode="markers",
                                   name="robot link origins", marker={"size": 4, "color": ROBOT_COLOR},
                                   hovertemplate="%{text}<br>%{x:.1f}, %{y:.1f}, %{z:.1f} mm<extra></extra>"))
    absent = "" if links else " (hand absent)"
    fig.update_layout(
        title={"text": f"{embodiment} {view3d['hand']} hand, frame {frame}{absent}".strip(), "x": 0,
               "font": {"size": 15}},
        height=FIGURE_HEIGHT_PX, margin={"l": 0, "r": 0, "t": 40, "b": 0},
        legend={"orientation": "h", "y": 0.02},
        scene={"aspectmode": "data", "xaxis_title": "x (mm)", "yaxis_title": "y (mm)", "zaxis_title": "z (mm)",
               "camera": {"up": {"x": 0, "y": -1, "z": 0}, "eye": {"x": 0, "y": 0, "z": -1.8}}})
    return fig
