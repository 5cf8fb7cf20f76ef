"""JPEG thumbnails of clips (the middle frame), made lazily and cached on disk.

Only the clips a browser actually shows get a thumbnail: the app's thumbnail route calls
`ensure_thumbnail` per request, so a 100k-clip catalog costs nothing until a page is looked at.

```
<root>/cache/thumbs/<clip_id>.jpg     middle frame, THUMB_WIDTH_PX wide
```
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from db.paths import thumbnail_path

from .video import VideoError, displayed_size, upright_rgb

THUMB_WIDTH_PX = 320  # cards show them about 200 px wide; 320 stays sharp on 1.5x screens
THUMB_QUALITY = 80  # JPEG quality: about 10-20 kB per thumbnail


def middle_time_s(from_s: float | None, to_s: float | None, duration_s: float | None) -> float:
    """The time of a clip's middle inside its file (LeRobot v3 clips are ranges of a longer file)."""
    start = from_s or 0.0
    end = to_s if to_s is not None and to_s > start else start + (duration_s or 0.0)
    return start + max(0.0, end - start) / 2


def grab_frame(path: Path | str, at_s: float, width: int = THUMB_WIDTH_PX) -> npt.NDArray[np.uint8]:
    """The first frame at or after `at_s` seconds, RGB `(H, W, 3)` scaled to `width` pixels wide.

    Seeks to the keyframe before `at_s` and decodes forward, so it costs one GOP, not the file.

    Raises:
        VideoError: the file cannot be decoded or holds no frame.
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if at_s > 0 and stream.time_base:
                container.seek(int(at_s / stream.time_base), stream=stream, backward=True)
            chosen = None
            for frame in container.decode(stream):
                chosen = frame
                if frame.time is None or frame.time >= at_s - 1e-3:
                    break
            if chosen is None:
                raise VideoError(f"{path}: no frame at {at_s:.2f} s")
            shown_w, shown_h = displayed_size(chosen)  # a phone video's display matrix: thumbnails are upright
            return upright_rgb(chosen, width, max(2, round(shown_h * width / shown_w)))
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise VideoError(f"{path}: cannot read a thumbnail frame ({type(exc).__name__}: {exc})") from exc


def ensure_thumbnail(root: Path, clip_id: str, video: Path | str, at_s: float) -> Path:
    """The cached thumbnail of a clip, written (atomically) on first use.

    Raises:
        VideoError: the clip's video cannot be decoded.
    """
    target = thumbnail_path(root, clip_id)
    if target.is_file():
        return target
    rgb = grab_frame(video, at_s)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Concurrent requests for the same card may both get here; each writes its own temp file
    # and the rename makes one of two identical JPEGs win.
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.{id(rgb):x}.tmp.jpg")
    try:
        Image.fromarray(rgb).save(tmp, format="JPEG", quality=THUMB_QUALITY)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
