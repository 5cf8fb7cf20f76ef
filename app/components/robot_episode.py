"""A robot episode's own hand in the clip viewer: drawn in 3D from its state through the URDF its spec names.

No Streamlit here; `app/cache.py` wraps `episode_hands` and `episode_robot_layer`, and
`app.components.viewer.with_robot` adds the layer to the player (the 3D view beside the state and
action curves, following the playhead). The layer has the shape of `robot_overlay.clip_robot_layer`'s
with no links over the video (a robot episode's camera is not calibrated to its hand): `view3d.xyz[f]`
are the hand's links in millimetres, turned so the viewer's default view (x right, y down) shows the
fingers up and the palm across, and centred on the episode's middle.
"""

from __future__ import annotations

import json

import numpy as np

from db.engine import QueryEngine
from db.queries.clips import get_clip
from db.queries.frames import robot_state_rows
from labeling.embodiment.hand_model import hand_links, link_xyz_mm
from labeling.embodiment.joints import hand_radians
from labeling.embodiment.spec import EmbodimentSpec
from labeling.embodiment.store import episode_specs

# dex-urdf hands: fingers along +z, across the palm along y. Viewer axes: x right, y down, z into the screen.
ROOT_TO_VIEW = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def _spec(engine: QueryEngine, clip_id: str) -> EmbodimentSpec | None:
    spec = episode_specs(engine, [clip_id]).get(clip_id)
    return spec if isinstance(spec, EmbodimentSpec) else None


def episode_hands(engine: QueryEngine, clip_id: str) -> list[str]:
    """The sides a robot episode's spec maps (empty: no usable spec, nothing to draw)."""
    spec = _spec(engine, clip_id)
    return [s for s in ("left", "right") if spec is not None and s in spec.hands]


def episode_robot_layer(engine: QueryEngine, clip_id: str, side: str) -> dict | None:
    """`{"embodiment", "camera", "hands": [], "view3d"}` for the player, or None (no spec, no state, no side)."""
    spec, clip = _spec(engine, clip_id), get_clip(engine, clip_id)
    if spec is None or clip is None or side not in spec.hands:
        return None
    names = json.loads(clip["state_names"]) if isinstance(clip.get("state_names"), str) else None
    states = robot_state_rows(engine, [clip_id]).column("state").to_pylist()
    if not names or not states or any(s is None or len(s) != len(names) for s in states):
        return None
    hand = spec.hands[side]
    xyz = link_xyz_mm(hand, hand_radians(hand, names, np.asarray(states, np.float64))) @ ROOT_TO_VIEW.T
    finite = np.isfinite(xyz).all(axis=(1, 2))
    if finite.any():
        points = xyz[finite].reshape(-1, 3)
        xyz = xyz - (points.min(0) + points.max(0)) / 2
    links, edges = hand_links(hand)
    frames = [[round(float(v), 1) for v in row.reshape(-1)] if ok else None
              for row, ok in zip(xyz, finite, strict=True)]
    return {"embodiment": spec.name, "camera": "", "hands": [],
            "view3d": {"hand": side, "links": list(links), "edges": [list(e) for e in edges], "xyz": frames,
                       "human": None, "humanEdges": []}}
