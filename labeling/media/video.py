"""Video I/O with PyAV: probe a file, decode frames, encode browser-playable H.264.

OpenCV cannot write H.264 here and browsers cannot play MPEG-4 Part 2 or (everywhere) AV1, so
all encoding goes through PyAV's libx264 with yuv420p and `+faststart` (moov atom first, so a
browser can start playing before the whole file has arrived).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})


class VideoError(ValueError):
    """A video that cannot be read: the message names the file and the reason."""


@dataclass(frozen=True)
class VideoInfo:
    """What a probe learns about a video file."""

    fps: float  # average frame rate, frames per second
    n_frames: int  # frames in the first video stream
    width: int  # pixels
    height: int  # pixels
    codec: str  # FFmpeg codec name, e.g. "h264", "mpeg4", "av1"
    duration_s: float  # n_frames / fps
    rotation_deg: int = 0  # counter-clockwise display rotation (phone videos); width/height are as displayed
    vfr: bool = False  # frame times are irregular: fps is the mean rate, real times come from `frame_times_s`


def probe_video(path: Path | str) -> VideoInfo:
    """Read a video's stream metadata; count packets when the container does not say.

    Width and height are the displayed ones: a phone video stored landscape with a 90° display
    matrix is reported portrait, as every decode site here turns frames upright (`upright_rgb`).
    A variable-frame-rate stream reports its mean rate over the span of its timestamps.

    Raises:
        VideoError: the file is missing, empty, not a video, or has no decodable video stream.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not rate or float(rate) <= 0:
                raise VideoError(f"{path}: no frame rate in the stream")
            declared = int(stream.frames or 0)
            # Count packets (no decoding): a truncated file still declares its full length.
            packets = [(p.pts, p.duration) for p in container.demux(stream) if p.size]
            n_frames = len(packets)
            if declared and n_frames < declared:
                raise VideoError(f"{path}: truncated (the container declares {declared} frames, "
                                 f"only {n_frames} are present)")
            if stream.codec_context is None:  # a corrupt header can name a codec FFmpeg has no decoder for
                raise VideoError(f"{path}: no decoder for the video stream (unknown or corrupt codec)")
            width, height = stream.codec_context.width, stream.codec_context.height
            codec = stream.codec_context.name
            time_base = stream.time_base
        rotation = _display_rotation_deg(path)
    except VideoError:
        raise
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError, ZeroDivisionError) as exc:
        raise VideoError(f"{path}: not a readable video ({type(exc).__name__}: {exc})") from exc
    if n_frames <= 0 or width <= 0 or height <= 0:
        raise VideoError(f"{path}: video stream holds no frames")
    if rotation % 180:
        width, height = height, width
    fps, vfr = float(rate), False
    span_s = _pts_span_s(packets, time_base)
    if span_s is not None and _irregular(packets):
        # The container's average rate of a VFR mp4 comes from its (wrong) last-sample duration.
        fps, vfr = n_frames / span_s, True
    return VideoInfo(fps=fps, n_frames=n_frames, width=width, height=height, codec=codec,
                     duration_s=n_frames / fps, rotation_deg=rotation, vfr=vfr)


def _pts_span_s(packets: list[tuple[int | None, int | None]], time_base: Fraction | None) -> float | None:
    """Seconds from the first frame's start to the last frame's end, or None without timestamps."""
    pts = [p for p, _ in packets if p is not None]
    if not time_base or len(pts) != len(packets) or len(pts) < 2:
        return None
    ordered = sorted(pts)
    last_duration = packets[-1][1] or min(b - a for a, b in zip(ordered, ordered[1:], strict=False))
    span = float((ordered[-1] - ordered[0] + last_duration) * time_base)
    return span if span > 0 else None


def _irregular(packets: list[tuple[int | None, int | None]], tolerance: float = 0.25) -> bool:
    """Whether frame intervals differ by more than `tolerance` of the shortest (timestamps rounded by muxers)."""
    ordered = sorted(p for p, _ in packets if p is not None)
    steps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    return bool(steps) and min(steps) > 0 and max(steps) > (1 + tolerance) * min(steps)


def _display_rotation_deg(path: Path) -> int:
    """The display matrix's rotation, a multiple of 90 (PyAV exposes it on decoded frames only)."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return round(frame.rotation / 90) * 90 % 360
    return 0


def frame_times_s(path: Path | str) -> npt.NDArray[np.float64]:
    """Presentation time of every frame `(n_frames,)` in seconds from the first, in display order.

    Raises:
        VideoError: the file cannot be read or a packet has no timestamp.
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.size]
            time_base = stream.time_base
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise VideoError(f"{path}: cannot read frame times ({type(exc).__name__}: {exc})") from exc
    if any(p is None for p in pts) or not time_base:
        raise VideoError(f"{path}: frames without timestamps")
    ordered = np.sort(np.asarray(pts, np.int64))
    return (ordered - ordered[:1]).astype(np.float64) * float(time_base)


def vfr_frame_times_s(path: Path | str, fps: float) -> npt.NDArray[np.float64] | None:
    """`frame_times_s` when they stray more than half a frame from `i / fps` (a VFR video), else None.

    A stream without timestamps (some AVIs) is taken as constant-rate.
    """
    try:
        times = frame_times_s(path)
    except VideoError:
        return None
    nominal = np.arange(len(times)) / fps
    return times if np.abs(times - nominal).max(initial=0.0) > 0.5 / fps else None


def displayed_size(frame: av.VideoFrame) -> tuple[int, int]:
    """(width, height) of a decoded frame as a player shows it (swapped by a quarter-turn display matrix)."""
    return (frame.height, frame.width) if round(frame.rotation / 90) % 2 else (frame.width, frame.height)


def upright_rgb(frame: av.VideoFrame, width: int | None = None, height: int | None = None,
                interpolation: str | None = None) -> npt.NDArray[np.uint8]:
    """A decoded frame as RGB `(H, W, 3)` the way a player shows it, turned by its display matrix.

    `width`/`height` are the displayed size wanted (None: the frame's own); a phone's portrait clip is
    stored landscape, so it is scaled at the stored orientation and then turned.
    """
    quarter_turns = round(frame.rotation / 90) % 4
    if quarter_turns % 2:
        width, height = height, width
    kwargs = {"interpolation": interpolation} if interpolation else {}
    rgb = frame.to_ndarray(format="rgb24", width=width, height=height, **kwargs)
    return np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb


def iter_frames_rgb(path: Path | str, stride: int = 1) -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
    """Yield `(frame_index, rgb (H, W, 3) uint8)` for every `stride`-th decoded frame.

    Raises:
        VideoError: the file cannot be opened or decoding fails part-way.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index % stride == 0:
                    yield index, upright_rgb(frame)
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise VideoError(f"{path}: decoding failed ({type(exc).__name__}: {exc})") from exc


def write_h264(path: Path | str, frames_rgb: Iterable[npt.NDArray[np.uint8]], fps: float,
               crf: int = 23, preset: str = "veryfast", threads: int = 0) -> Path:
    """Encode RGB frames `(H, W, 3) uint8` to a browser-playable H.264 mp4, atomically.

    Width and height must be even (yuv420p). The file appears under its name only when complete.
    `threads=0` lets x264 choose; `threads=1` makes the bytes independent of the machine (the demo).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.mp4")
    rate = Fraction(fps).limit_denominator(1001)
    try:
        with av.open(str(tmp), mode="w", options={"movflags": "+faststart"}) as container:
            stream = None
            for rgb in frames_rgb:
                if stream is None:
                    height, width = rgb.shape[:2]
                    if width % 2 or height % 2:
                        raise ValueError(f"H.264 needs even frame sizes, got {width}x{height}")
                    stream = container.add_stream("libx264", rate=rate)
                    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                    stream.options = {"crf": str(crf), "preset": preset, "threads": str(threads)}
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                container.mux(stream.encode(frame))
            if stream is None:
                raise ValueError("no frames to encode")
            container.mux(stream.encode(None))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
