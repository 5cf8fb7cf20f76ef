"""Proxies (labeling/media/proxy.py) and thumbnails (labeling/media/thumbnails.py) on real media."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

from labeling.media import proxy
from labeling.media.thumbnails import ensure_thumbnail, middle_time_s, thumbnail_path
from labeling.media.video import VideoError, probe_video


def test_which_codecs_need_a_proxy():
    assert not proxy.needs_proxy("h264")
    assert proxy.needs_proxy("mpeg4") and proxy.needs_proxy("av1") and proxy.needs_proxy(None)


def test_proxy_size_keeps_aspect_and_even_sides():
    assert proxy.proxy_size(1920, 1080) == (960, 540)
    assert proxy.proxy_size(256, 256) == (256, 256)
    assert proxy.proxy_size(1001, 333) == (960, 320)
    with pytest.raises(ValueError):
        proxy.proxy_size(0, 10)


def test_concurrent_requests_make_one_proxy(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch):
    source = shared_data / "egodex_sample" / "add_remove_lid" / "0.mp4"
    made = []
    real_make = proxy.make_proxy

    def counting_make(*args: object, **kwargs: object) -> Path:
        made.append(args[1])
        return real_make(*args, **kwargs)

    monkeypatch.setattr(proxy, "make_proxy", counting_make)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(proxy.ensure_proxy(tmp_path, "lid", source, 30.0)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len(set(results)) == 1
    info = probe_video(results[0])
    assert info.codec == "h264" and info.n_frames == probe_video(source).n_frames == 94
    assert [p.name for p in results[0].parent.iterdir() if p.suffix == ".mp4"] == ["lid.mp4"]  # no temp left


def test_playable_path_keeps_h264_sources(tmp_path: Path, tiny_video: Path):
    assert proxy.playable_path(tmp_path, "x", tiny_video, "h264", 30.0) == tiny_video
    assert not (tmp_path / "cache").exists()


def test_broken_source_raises_video_error(tmp_path: Path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(VideoError, match="broken.mp4"):
        proxy.ensure_proxy(tmp_path, "broken", broken, 30.0)
    assert not (tmp_path / "cache" / "proxies" / "broken.mp4").exists()


def test_thumbnail_of_the_middle_frame(tmp_path: Path, shared_data: Path):
    video = shared_data / "videos" / "dexretargeting_human_hand_video.mp4"
    path = ensure_thumbnail(tmp_path, "hand", video, middle_time_s(0.0, 20.7, 20.7))
    assert path == thumbnail_path(tmp_path, "hand")
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.size == (320, 180)
    assert ensure_thumbnail(tmp_path, "hand", tmp_path / "gone.mp4", 1.0) == path  # cached: not decoded again


def test_middle_time_of_a_range():
    assert middle_time_s(10.0, 14.0, 4.0) == 12.0
    assert middle_time_s(None, None, 3.0) == 1.5
    assert middle_time_s(0.0, None, None) == 0.0


def _write_mpeg4(path: Path, n_frames: int, fps: int = 10) -> Path:
    """An MPEG-4 Part 2 clip whose frame i is uniformly grey at level 10 * i (a browser cannot play it)."""
    import av
    import numpy as np

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(n_frames):
            rgb = np.full((48, 64, 3), 10 * i, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def test_proxy_of_a_range_holds_just_that_clip(tmp_path: Path):
    from labeling.media.video import iter_frames_rgb

    source = _write_mpeg4(tmp_path / "episodes.mp4", n_frames=20)
    clip = {"clip_id": "ep1", "path": str(source), "codec": "mpeg4", "fps": 10.0, "video_from_s": 1.2,
            "video_to_s": 2.0, "duration_s": 0.8}
    path = proxy.clip_playable_path(tmp_path, clip)
    levels = [int(rgb.mean().round(-1)) for _, rgb in iter_frames_rgb(path)]
    assert levels == [10 * i for i in range(12, 20)]  # frames 12..19 of the file, nothing else
    assert proxy.served_range_s(clip) == (0.0, 0.8)  # the player plays the proxy from its start
    assert proxy.served_range_s({**clip, "codec": "h264"}) == (1.2, 2.0)  # an H.264 file is served whole
