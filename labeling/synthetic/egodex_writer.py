"""Write a synthetic human clip in the EgoDex on-disk layout: `<task>/<i>.mp4` + `<task>/<i>.hdf5`.

HDF5 contents (as in Apple's EgoDex, see shared/data/SOURCES.md):
- root attrs `task`, `llm_description`, `environment`, `object`, plus `egocurate_generator`;
- `camera/intrinsic` (3, 3) float32;
- `transforms/camera` (T, 4, 4) float32, OpenCV camera-to-world, world y-up, metres;
- `transforms/<side><Joint>` (T, 4, 4) float32 world poses of 25 ARKit hand joints per side;
- `confidences/<side><Joint>` (T,) float32.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import numpy.typing as npt

from labeling.hands import SIDES

from .motions import ClipMotion

Float32 = npt.NDArray[np.float32]
_FINGERS = ("Index", "Middle", "Ring", "Little")
# ARKit joint suffixes in MediaPipe-21 order (wrist, thumb CMC..tip, then MCP..tip per finger).
ARKIT_FROM_MEDIAPIPE21 = ("Hand", "ThumbKnuckle", "ThumbIntermediateBase", "ThumbIntermediateTip", "ThumbTip") + \
    tuple(f"{f}Finger{j}" for f in _FINGERS for j in ("Knuckle", "IntermediateBase", "IntermediateTip", "Tip"))
ARKIT_METACARPALS = tuple(f"{f}FingerMetacarpal" for f in _FINGERS)
# The 25 joint datasets of each hand.
HAND_JOINTS: dict[str, tuple[str, ...]] = {
    side: tuple(f"{side}{s}" for s in ARKIT_FROM_MEDIAPIPE21 + ARKIT_METACARPALS) for side in SIDES}


def egodex_arrays(motion: ClipMotion, rng: np.random.Generator) -> tuple[dict[str, Float32], dict[str, Float32]]:
    """Transforms (incl. `camera`) and confidences of a clip, clean, as float32 arrays."""
    transforms = {"camera": motion.camera_c2w.astype(np.float32)}
    confidences: dict[str, Float32] = {}
    t = motion.t_s
    for h, side in enumerate(SIDES):
        poses = list(motion.keypoint_pose[:, h].transpose(1, 0, 2, 3)) + list(
            motion.metacarpal_pose[:, h].transpose(1, 0, 2, 3))
        for name, pose in zip(HAND_JOINTS[side], poses, strict=True):
            transforms[name] = pose.astype(np.float32)
            freq_hz, phase = rng.uniform(0.1, 0.5), rng.uniform(0, 2 * np.pi)
            wave = 0.962 + 0.025 * np.sin(2 * np.pi * freq_hz * t + phase) + rng.normal(0, 0.006, size=len(t))
            confidences[name] = np.clip(wave, 0.9, 1.0).astype(np.float32)
    return transforms, confidences


def write_egodex_hdf5(path: Path, attrs: dict[str, str], intrinsic: npt.ArrayLike,
                      transforms: dict[str, Float32], confidences: dict[str, Float32]) -> Path:
    """Write one EgoDex HDF5 file atomically (temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w", track_order=True) as h5:
            for key, value in attrs.items():
                h5.attrs[key] = value
            h5.create_dataset("camera/intrinsic", data=np.asarray(intrinsic, dtype=np.float32))
            for name, data in transforms.items():
                h5.create_dataset(f"transforms/{name}", data=data)
            for name, data in confidences.items():
                h5.create_dataset(f"confidences/{name}", data=data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
