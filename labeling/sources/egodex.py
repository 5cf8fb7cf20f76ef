"""EgoDex clips (`<n>.mp4` + `<n>.hdf5`): metadata, intrinsics and ground-truth hand poses.

The HDF5 holds world-frame (y-up, metres) poses of 25 ARKit joints per hand and the camera's
camera-to-world pose per frame. Keypoints go to the camera frame with `inv(T_cam) @ p_world`
and to pixels with the pinhole intrinsics (OpenCV convention, z forward). The 4 metacarpal
joints are dropped to give MediaPipe-21 order. Files written by `egocurate demo` carry the
root attribute `egocurate_generator` and are catalogued as source `synthetic`.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import numpy.typing as npt

from labeling.media.video import VideoError, probe_video

from .base import FileStamp, IngestError, KnownFiles, SourceItem, clip_row, file_digest, frames_table, stamp_columns
from .video import human_clip_id

_FINGERS = ("Index", "Middle", "Ring", "Little")
_FINGER_JOINTS = ("Knuckle", "IntermediateBase", "IntermediateTip", "Tip")
# ARKit joint suffixes in MediaPipe-21 order: wrist, thumb CMC/MCP/IP/tip, then 4 per finger.
MEDIAPIPE21_FROM_ARKIT = (
    ("Hand", "ThumbKnuckle", "ThumbIntermediateBase", "ThumbIntermediateTip", "ThumbTip")
    + tuple(f"{finger}Finger{joint}" for finger in _FINGERS for joint in _FINGER_JOINTS)
)
SIDES = ("left", "right")
GENERATOR_ATTR = "egocurate_generator"
PRESENT_MIN_CONFIDENCE = 0.0  # ARKit reports every joint each frame; 0 marks "not tracked"


def _text_attr(attrs: h5py.AttributeManager, name: str) -> str | None:
    value = attrs.get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    return None if text in ("", "None") else text


def _dataset(h5: h5py.File, key: str, shape_tail: tuple[int, ...], path: Path) -> npt.NDArray:
    if key not in h5:
        raise IngestError(path, f"HDF5 has no dataset {key!r}")
    data = h5[key]
    if not isinstance(data, h5py.Dataset) or data.shape[1:] != shape_tail:
        raise IngestError(path, f"HDF5 dataset {key!r} has shape {getattr(data, 'shape', None)}, "
                                f"expected (T, {', '.join(map(str, shape_tail))})")
    return data[()]


def _hand_world_m(h5: h5py.File, side: str, n: int, path: Path) -> tuple[npt.NDArray, npt.NDArray]:
    """World positions (T, 21, 3) and confidences (T, 21) of one hand."""
    positions = np.empty((n, 21, 3), np.float64)
    confidence = np.ones((n, 21), np.float32)
    for k, suffix in enumerate(MEDIAPIPE21_FROM_ARKIT):
        transform = _dataset(h5, f"transforms/{side}{suffix}", (4, 4), path)
        if transform.shape[0] != n:
            raise IngestError(path, f"transforms/{side}{suffix} has {transform.shape[0]} frames, camera has {n}")
        positions[:, k] = transform[:, :3, 3]
        conf_key = f"confidences/{side}{suffix}"
        if conf_key in h5:
            confidence[:, k] = np.asarray(h5[conf_key][()], np.float32).reshape(-1)[:n]
    return positions, confidence


def project_to_camera(points_world_m: npt.NDArray, cam_to_world: npt.NDArray,
                      intrinsic: npt.NDArray) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """World points (T, K, 3) → camera-frame points (T, K, 3) and pixels (T, K, 2)."""
    world_to_cam = np.linalg.inv(cam_to_world.astype(np.float64))
    rotation, translation = world_to_cam[:, :3, :3], world_to_cam[:, :3, 3]
    cam = np.einsum("tij,tkj->tki", rotation, points_world_m) + translation[:, None, :]
    z = cam[..., 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = cam[..., :2] / z * np.array([intrinsic[0, 0], intrinsic[1, 1]]) + intrinsic[:2, 2]
    return cam.astype(np.float32), uv.astype(np.float32)


def read_egodex(video_path: Path, hdf5_path: Path, known: KnownFiles | None = None) -> SourceItem | str:
    """Read one EgoDex pair. Returns the clip, or the known clip_id if already catalogued.

    Raises:
        IngestError: the video or the HDF5 is unreadable, or a needed dataset is missing/mis-shaped.
    """
    stamp = FileStamp.of(video_path)
    if known and (stamp, None) in known:
        return known[(stamp, None)]
    try:
        info = probe_video(video_path)
    except VideoError as exc:
        raise IngestError(video_path, str(exc).removeprefix(f"{video_path}: ")) from exc
    try:
        with h5py.File(hdf5_path, "r") as h5:
            return _read_pair(video_path, hdf5_path, h5, info, stamp)
    except IngestError:
        raise
    except (OSError, RuntimeError) as exc:  # h5py raises RuntimeError for corrupt internal structures
        raise IngestError(hdf5_path, f"not a readable HDF5 file ({exc})") from exc
    except (ValueError, TypeError, KeyError, np.linalg.LinAlgError) as exc:
        # Right names and shapes can still hold strings, singular camera poses or short confidences.
        raise IngestError(hdf5_path, f"malformed EgoDex data ({type(exc).__name__}: {exc})") from exc


def _read_pair(video_path: Path, hdf5_path: Path, h5: h5py.File, info, stamp: FileStamp) -> SourceItem:  # noqa: ANN001
    intrinsic = _dataset(h5, "camera/intrinsic", (3,), hdf5_path)
    if intrinsic.shape != (3, 3):
        raise IngestError(hdf5_path, f"camera/intrinsic has shape {intrinsic.shape}, expected (3, 3)")
    cam_to_world = _dataset(h5, "transforms/camera", (4, 4), hdf5_path)
    n = cam_to_world.shape[0]
    warnings = []
    if n != info.n_frames:
        warnings.append(f"{hdf5_path}: {n} pose frames but the video has {info.n_frames}")
    kp2d = np.full((n, 2, 21, 2), np.nan, np.float32)
    kp3d = np.full((n, 2, 21, 3), np.nan, np.float32)
    present = np.zeros((n, 2), bool)
    score = np.zeros((n, 2), np.float32)
    for h, side in enumerate(SIDES):
        world, confidence = _hand_world_m(h5, side, n, hdf5_path)
        kp3d[:, h], kp2d[:, h] = project_to_camera(world, cam_to_world, intrinsic)
        finite = np.isfinite(kp3d[:, h]).all(axis=(1, 2))
        score[:, h] = np.where(finite, np.nan_to_num(confidence).mean(axis=1), 0.0)
        present[:, h] = finite & (score[:, h] > PRESENT_MIN_CONFIDENCE)
    synthetic = _text_attr(h5.attrs, GENERATOR_ATTR)
    source = "synthetic" if synthetic else "egodex"
    clip_id = human_clip_id(file_digest(video_path))
    extra = {k: _text_attr(h5.attrs, k) for k in ("environment", "object", "llm_type", "session_name")}
    extra.update(hdf5=str(hdf5_path.resolve()), generator=synthetic)
    clip = clip_row(
        clip_id=clip_id, kind="human", source=source, path=stamp.path, fps=info.fps,
        n_frames=info.n_frames, duration_s=info.duration_s, width=info.width, height=info.height,
        codec=info.codec, task=_text_attr(h5.attrs, "llm_description") or _text_attr(h5.attrs, "description"),
        task_slug=_text_attr(h5.attrs, "task") or video_path.parent.name,
        dataset=str(video_path.parent.resolve()), video_from_s=0.0, video_to_s=info.duration_s,
        fx=float(intrinsic[0, 0]), fy=float(intrinsic[1, 1]), cx=float(intrinsic[0, 2]),
        cy=float(intrinsic[1, 2]), extra=json.dumps(extra), **stamp_columns(stamp))
    frames = frames_table(clip_id, info.fps, kp2d, kp3d, present, score, pose_source=source)
    return SourceItem(clip=clip, frames=frames, warnings=warnings)
