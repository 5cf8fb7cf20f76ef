"""Browser-playable H.264 proxies of clips whose codec a browser cannot play.

EgoDex ships MPEG-4 Part 2 and many LeRobot sets AV1; Chromium plays neither reliably, so the
viewer streams a cached H.264 copy `<root>/cache/proxies/<clip_id>.mp4` instead (scaled down to
`PROXY_MAX_WIDTH_PX`, same frames and frame rate). A proxy holds only its clip's time range (a
LeRobot v3 episode is a range of a file holding many), so in a proxy frame i is at i / fps and
the player plays it from 0. H.264 sources are served as they are, ranges and all.

Creation is atomic (`write_h264` renames a finished temp file) and serialised per clip by an
exclusive `flock`, so two sessions (or processes) asking at once make one proxy, and the second
waits for it instead of encoding it again.

    from labeling.media.proxy import clip_playable_path, served_range_s
    path = clip_playable_path(root, clip_row)   # a row of the `clips` view
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from db import paths
from db.jobs import exclusive_file_lock

from .video import VideoError, displayed_size, upright_rgb, write_h264

BROWSER_CODECS = frozenset({"h264"})  # FFmpeg codec names Chromium plays from an mp4 as they are
PROXY_MAX_WIDTH_PX = 960  # proxies wider than this are scaled down (1080p -> 960x540)
PROXY_CRF = 23  # x264 quality: visually clean at 960 wide, about 1/3 of the source's bytes


def needs_proxy(codec: str | None) -> bool:
    """Whether a clip with this FFmpeg codec name must be transcoded for the browser."""
    return (codec or "").lower() not in BROWSER_CODECS


def proxy_size(width: int, height: int, max_width: int = PROXY_MAX_WIDTH_PX) -> tuple[int, int]:
    """(width, height) of the proxy: at most `max_width` wide, same aspect, both even (yuv420p)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    scale = min(1.0, max_width / width)
    return _even(width * scale), _even(height * scale)


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def _scaled_frames(source: Path, fps: float, from_s: float, to_s: float | None,
                   max_width: int) -> Iterator[npt.NDArray[np.uint8]]:
    """The decoded frames of `source` in [from_s, to_s) as RGB `(H, W, 3)`, scaled to the proxy size."""
    half_frame_s = 0.5 / fps  # frame times are rounded in containers; a frame belongs where it starts
    try:
        with av.open(str(source)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if from_s > 0 and stream.time_base:
                container.seek(int(from_s / stream.time_base), stream=stream, backward=True)
            size = None
            for index, frame in enumerate(container.decode(stream)):
                time_s = frame.time if frame.time is not None else index / fps
                if time_s < from_s - half_frame_s:
                    continue
                if to_s is not None and time_s >= to_s - half_frame_s:
                    break
                # A proxy is written upright and without a display matrix, as the browser would show the source.
                size = size or proxy_size(*displayed_size(frame), max_width)
                yield upright_rgb(frame, *size)
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise VideoError(f"{source}: cannot decode for a proxy ({type(exc).__name__}: {exc})") from exc


def make_proxy(source: Path, target: Path, fps: float, from_s: float = 0.0, to_s: float | None = None,
               max_width: int = PROXY_MAX_WIDTH_PX) -> Path:
    """Transcode the range [from_s, to_s) of `source` to an H.264 mp4 at `target`, atomically.

    Raises:
        VideoError: the source cannot be decoded, or holds no frame in the range.
    """
    try:
        return write_h264(target, _scaled_frames(source, fps, from_s, to_s, max_width), fps, crf=PROXY_CRF)
    except ValueError as exc:  # write_h264 got no frames
        if isinstance(exc, VideoError):
            raise
        raise VideoError(f"{source}: no frames between {from_s:g} s and {to_s} s ({exc})") from exc


def ensure_proxy(root: Path, clip_id: str, source: Path, fps: float, from_s: float = 0.0,
                 to_s: float | None = None) -> Path:
    """The cached proxy of a clip, made first if missing (waits while another caller makes it)."""
    target = paths.proxy_path(root, clip_id)
    if target.is_file():
        return target
    with exclusive_file_lock(target.with_suffix(".lock")):
        if not target.is_file():  # someone else may have finished it while we waited
            make_proxy(Path(source), target, fps, from_s, to_s)
    return target


def playable_path(root: Path, clip_id: str, source: Path | str, codec: str | None, fps: float,
                  from_s: float = 0.0, to_s: float | None = None) -> Path:
    """What the browser should load for a clip: the source itself, or its H.264 proxy.

    Raises:
        VideoError: a proxy is needed and the source cannot be decoded.
    """
    source = Path(source)
    if not needs_proxy(codec):
        return source
    return ensure_proxy(root, clip_id, source, fps, from_s, to_s)


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def proxy_missing(root: Path, clip: Mapping[str, object]) -> bool:
    """Whether a row of the `clips` view needs a proxy that is not made yet (its first view will wait for it)."""
    return needs_proxy(clip.get("codec")) and not paths.proxy_path(root, str(clip["clip_id"])).is_file()  # type: ignore[arg-type]


def clip_playable_path(root: Path, clip: Mapping[str, object]) -> Path:
    """`playable_path` for a row of the `clips` view."""
    return playable_path(root, str(clip["clip_id"]), str(clip["path"]), clip.get("codec"),  # type: ignore[arg-type]
                         _number(clip.get("fps")) or 30.0, _number(clip.get("video_from_s")) or 0.0,
                         _number(clip.get("video_to_s")))


def served_range_s(clip: Mapping[str, object]) -> tuple[float, float]:
    """(from_s, to_s) of the clip inside the file the browser gets: a proxy holds just the clip."""
    from_s = _number(clip.get("video_from_s")) or 0.0
    to_s = _number(clip.get("video_to_s"))
    duration_s = _number(clip.get("duration_s")) or 0.0
    if needs_proxy(clip.get("codec")):  # type: ignore[arg-type]
        return 0.0, duration_s
    return from_s, to_s if to_s is not None else from_s + duration_s
