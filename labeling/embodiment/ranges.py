"""Whether a robot's state, read through its spec, stays inside the URDF's joint limits.

    warnings = range_warnings(spec, state_names, state)     # one line per joint that leaves its limits

Values often or far beyond a joint's limits are most often a wrong mapping: another joint, the wrong unit
(0..1 values read as radians, degrees as radians) or a missing `invert`. It is a warning, not an
error: some datasets command past the limits and the hand clips. Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .joints import hand_radians
from .spec import EmbodimentSpec

LIMIT_SLACK = 0.05  # values may pass a limit by this fraction of the joint's range before they count as outside
MIN_SHARE_OUTSIDE = 0.05  # warn when at least this share of frames is outside ...
FAR_OUTSIDE = 0.5  # ... or any value is this many ranges beyond a limit (degrees read as radians, say)


def range_warnings(spec: EmbodimentSpec, names: Sequence[str], state: npt.ArrayLike) -> list[str]:
    """One line per mapped joint whose values (radians, through the spec) leave the URDF limits, naming both."""
    values = np.asarray(state, dtype=np.float64)
    if values.ndim != 2 or not len(values):
        return []
    out = []
    for side, hand in spec.hands.items():
        q = hand_radians(hand, names, values)
        for k, joint in enumerate(hand.joints):
            if math.isnan(joint.lower) or math.isnan(joint.upper):
                continue
            column = q[:, k][np.isfinite(q[:, k])]
            slack = LIMIT_SLACK * (joint.upper - joint.lower)
            outside = (column < joint.lower - slack) | (column > joint.upper + slack)
            beyond = max(joint.lower - column.min(), column.max() - joint.upper) / (joint.upper - joint.lower)
            if not outside.any() or (outside.mean() < MIN_SHARE_OUTSIDE and beyond < FAR_OUTSIDE):
                continue  # a few frames a little past a limit: commanded past it, the hand clips
            out.append(f"hands.{side}.joints.{joint.dim} -> {joint.joint}: values span {column.min():.3f} to "
                       f"{column.max():.3f} rad (unit {joint.unit}{', inverted' if joint.invert else ''}), beyond "
                       f"the URDF limits [{joint.lower:.3f}, {joint.upper:.3f}] in {outside.mean():.0%} of frames: "
                       "another joint, unit or invert?")
    return out
