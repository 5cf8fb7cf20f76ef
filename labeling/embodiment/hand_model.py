"""A robot hand drawn from joint values through its URDF: links and the edges joining them, frame by frame.

    layer = hand_layer(spec.hands["right"], q_rad)     # q_rad (T, J) in the spec's joint order, radians
    layer["xyz"][t]                                     # 3 L floats (mm, the hand's root frame) or None

The robot's own state (`joints.hand_radians`) and a human clip retargeted to the same hand draw the
same way, so the viewer and the Pairs page can show them side by side. Every URDF link is a point
(`dummy_*` free-joint links left out), every joint between two of them an edge; joints the spec does
not map stay at zero (clipped into their limits), mimic joints follow theirs. Numpy only.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from labeling.kinematics.fk import link_positions

from .joints import full_dof
from .spec import HandSpec

MM_PER_M = 1000.0


def hand_links(hand: HandSpec) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    """The links drawn and the edges (index pairs) joining them along the kinematic tree."""
    tree = hand.tree
    names = tuple(n for n in tree.link_names if not n.startswith("dummy_"))
    slot = {n: i for i, n in enumerate(names)}
    edges = tuple((slot[j.parent], slot[j.child]) for j in tree.joints if j.parent in slot and j.child in slot)
    return names, edges


def link_xyz_mm(hand: HandSpec, q_rad: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """`(T, L, 3)` link positions in millimetres in the hand's root frame; NaN rows where `q_rad` has NaN."""
    q = np.asarray(q_rad, dtype=np.float64).reshape(-1, len(hand.joints))
    names, _ = hand_links(hand)
    finite = np.isfinite(q).all(axis=1)
    out = np.full((len(q), len(names), 3), np.nan)
    if finite.any():
        out[finite] = link_positions(hand.tree, full_dof(hand, q[finite]), names) * MM_PER_M
    return out


def hand_layer(hand: HandSpec, q_rad: npt.ArrayLike, decimals: int = 1) -> dict:
    """One side as the players draw it: `side`, `links`, `edges`, and `xyz` per frame (flat mm lists, None: absent)."""
    names, edges = hand_links(hand)
    xyz = link_xyz_mm(hand, q_rad)
    frames: list[list[float] | None] = []
    for row in xyz:
        frames.append(None if not np.isfinite(row).all() else
                      [round(float(v), decimals) for v in row.reshape(-1)])
    return {"side": hand.side, "links": list(names), "edges": [list(e) for e in edges], "xyz": frames}


def extent_mm(layers: list[dict]) -> float:
    """The largest distance of any drawn point from the origin (one scale for a whole player)."""
    largest = 1.0
    for layer in layers:
        for flat in layer["xyz"]:
            if flat:
                points = np.asarray(flat).reshape(-1, 3)
                largest = max(largest, float(np.max(np.linalg.norm(points, axis=1))))
    return math.ceil(largest)
