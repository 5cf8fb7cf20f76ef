"""Raw video files: one human clip each, metadata probed with PyAV, no poses yet."""

from __future__ import annotations

import json
from pathlib import Path

from labeling.media.video import VideoError, probe_video

from .base import (
    FileStamp,
    IngestError,
    KnownFiles,
    SourceItem,
    clip_row,
    file_digest,
    make_clip_id,
    stamp_columns,
)


def human_clip_id(digest: str) -> str:
    """Human clips are identified by their video's bytes, whatever source brought them."""
    return make_clip_id("human", digest)


def read_video(path: Path, known: KnownFiles | None = None) -> SourceItem | str:
    """Probe one video. Returns the clip, or the known clip_id if this file is catalogued.

    Raises:
        IngestError: the file is empty, not a video, or unreadable.
    """
    stamp = FileStamp.of(path)
    if known and (stamp, None) in known:
        return known[(stamp, None)]
    try:
        info = probe_video(path)
    except VideoError as exc:
        raise IngestError(path, str(exc).removeprefix(f"{path}: ")) from exc
    clip_id = human_clip_id(file_digest(path))
    clip = clip_row(
        clip_id=clip_id, kind="human", source="video", path=stamp.path, fps=info.fps,
        n_frames=info.n_frames, duration_s=info.duration_s, width=info.width, height=info.height,
        codec=info.codec, task_slug=path.stem, dataset=str(path.parent.resolve()),
        video_from_s=0.0, video_to_s=info.duration_s,
        extra=json.dumps({"rotation_deg": info.rotation_deg, "vfr": info.vfr}), **stamp_columns(stamp))
    return SourceItem(clip=clip)
