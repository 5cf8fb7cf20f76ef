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


def probe_video(path: Path | str) -> VideoInfo:
    """Read a video's stream metadata; count packets when the container does not say.

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
            n_frames = sum(1 for p in container.demux(stream) if p.size)
            if declared and n_frames < declared:
                raise VideoError(f"{path}: truncated (the container declares {declared} frames, "
                                 f"only {n_frames} are present)")
            width, height = stream.codec_context.width, stream.codec_context.height
            codec = stream.codec_context.name
    except VideoError:
        raise
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise VideoError(f"{path}: not a readable video ({type(exc).__name__}: {exc})") from exc
    if n_frames <= 0 or width <= 0 or height <= 0:
        raise VideoError(f"{path}: video stream holds no frames")
    fps = float(rate)
    return VideoInfo(fps=fps, n_frames=n_frames, width=width, height=height, codec=codec,
                     duration_s=n_frames / fps)


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
                    yield index, frame.to_ndarray(format="rgb24")
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
