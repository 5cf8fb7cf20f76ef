"""Corrupt the stored hand poses of a clip (the video stays clean), recording what was done.

Kinds, each over a frame range `[frame_start, frame_end)` (end exclusive):
- `jitter`: gaussian noise of `strength` metres (per axis) on every joint position of one hand;
- `dropout`: one hand untracked, transforms NaN and confidences 0 (at least 0.5 s);
- `swap`: left and right hand data exchanged (`hand` is "both").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from labeling.hands import SIDES

NOISE_KINDS = ("jitter", "dropout", "swap")
Float32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class NoiseSpec:
    """One injected corruption; the JSON form is an entry of `injected_noise.json`."""

    file: str  # clip video, relative to the demo folder ("human/<slug>/<i>.mp4")
    kind: str  # jitter | dropout | swap
    hand: str  # left | right | both
    frame_start: int  # first corrupted frame
    frame_end: int  # one past the last corrupted frame
    strength: float  # jitter: noise std in metres; dropout and swap: 1.0

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able dict."""
        return asdict(self)


def plan_noise(rng: np.random.Generator, file: str, kind: str, n_frames: int, fps: float) -> NoiseSpec:
    """Pick hand, frame range and strength for one corruption of a clip of `n_frames`."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {kind!r}")
    seconds = {"jitter": (0.5, 1.5), "dropout": (0.6, 1.2), "swap": (0.5, 1.0)}[kind]
    length = min(n_frames - 2, int(round(rng.uniform(*seconds) * fps)))
    length = max(length, min(n_frames - 2, int(np.ceil(0.5 * fps))))
    start = int(rng.integers(max(1, n_frames // 10), max(2, n_frames - length)))
    hand = "both" if kind == "swap" else str(rng.choice(SIDES))
    strength = float(rng.uniform(0.004, 0.02)) if kind == "jitter" else 1.0
    return NoiseSpec(file=file, kind=kind, hand=hand, frame_start=start, frame_end=start + length,
                     strength=round(strength, 5))


def apply_noise(transforms: dict[str, Float32], confidences: dict[str, Float32], spec: NoiseSpec,
                joints: dict[str, tuple[str, ...]], rng: np.random.Generator) -> None:
    """Corrupt EgoDex arrays in place.

    Args:
        transforms: dataset name (e.g. "rightHand") → `(T, 4, 4)` world poses.
        confidences: dataset name → `(T,)`.
        spec: what to do.
        joints: side → the 25 joint dataset names of that hand, same order for both sides.
        rng: noise source (jitter).
    """
    frames = slice(spec.frame_start, spec.frame_end)
    n = spec.frame_end - spec.frame_start
    if spec.kind == "jitter":
        for name in joints[spec.hand]:
            transforms[name][frames, :3, 3] += rng.normal(0.0, spec.strength, size=(n, 3)).astype(np.float32)
    elif spec.kind == "dropout":
        for name in joints[spec.hand]:
            transforms[name][frames] = np.nan
            confidences[name][frames] = 0.0
    elif spec.kind == "swap":
        for left, right in zip(joints["left"], joints["right"], strict=True):
            for arrays in (transforms, confidences):
                arrays[left][frames], arrays[right][frames] = arrays[right][frames].copy(), arrays[left][frames].copy()
    else:
        raise ValueError(f"unknown noise kind {spec.kind!r}")
