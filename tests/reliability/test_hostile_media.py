"""Hostile and broken video files: each fails alone with a clear reason, or is read the way a player shows it.

Decisions these tests hold the code to:
- a file is read by its content, not its extension: a WebM or AVI named `.mp4` is ingested as what it is;
- a variable-frame-rate video reports its mean rate over its real span, and pose rows carry the
  frames' presentation times (`timestamp_s`), not `frame_index / fps`;
- a phone video with a 90° display matrix is catalogued at its displayed (portrait/landscape) size and
  every frame handed to labelling, thumbnails and proxies is upright, so keypoints are in displayed pixels.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from db.engine import QueryEngine
from db.models import JobError
from db.store import session_scope
from labeling.media.proxy import make_proxy
from labeling.media.thumbnails import grab_frame
from labeling.media.video import VideoError, frame_times_s, iter_frames_rgb, probe_video, vfr_frame_times_s
from labeling.pose.camera import CameraIntrinsics
from labeling.pose.label_worker import ClipTask, LabelConfig, label_clip
from labeling.sources.ingest import ingest
from tests.conftest import make_video

DEX_VIDEO = "videos/dexretargeting_human_hand_video.mp4"
VFR_PTS_MS = (0, 33, 66, 200, 233, 500, 533, 566, 1000, 1033)  # frames bunched, with long gaps


def _catalog(root: Path) -> list[tuple]:
    """Everything a hostile ingest must leave untouched: clip rows and their pose rows."""
    cursor = QueryEngine(root).cursor()
    clips = cursor.execute("SELECT clip_id, path, n_frames, width, height FROM clips ORDER BY clip_id").fetchall()
    frames = cursor.execute("SELECT clip_id, count(*) FROM frames GROUP BY clip_id ORDER BY clip_id").fetchall()
    return clips + frames


def _encode(path: Path, frames: list[np.ndarray], codec: str, fmt: str | None = None, rate: int = 30,
            rotation_deg: int = 0, pts_ms: tuple[int, ...] | None = None) -> Path:
    """Encode RGB frames with any codec/container; optional display rotation and explicit frame times."""
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if rotation_deg:
            stream.set_display_rotation(rotation_deg)
        if pts_ms is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[index], Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _pattern(n: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    """Frames with a bright top-left block, so orientation is visible in the pixels."""
    frames = []
    for i in range(n):
        rgb = np.full((height, width, 3), 20 + 10 * i, np.uint8)
        rgb[: height // 4, : width // 4] = 250
        frames.append(rgb)
    return frames


def test_broken_files_fail_alone_are_recorded_and_lose_nothing(root, tmp_path):
    first = make_video(tmp_path / "first" / "kept.mp4", seed=11)
    ingest(root, [first], progress=False)
    before = _catalog(root)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "zero.mp4").write_bytes(b"")
    cut = make_video(tmp_path / "whole.mp4", n_frames=40, seed=12).read_bytes()
    (bad / "cut.mp4").write_bytes(cut[: len(cut) // 2])
    (bad / "text.mp4").write_text("just words, no video\n" * 50)
    (bad / "header_only.mp4").write_bytes(cut[:64])  # an mp4 `ftyp` box and nothing else
    (bad / "random.mov").write_bytes(np.random.default_rng(0).bytes(4096))
    report = ingest(root, [bad], progress=False)
    reasons = {Path(f.item).name: f.reason for f in report.failures}
    assert set(reasons) == {"zero.mp4", "cut.mp4", "text.mp4", "header_only.mp4", "random.mov"}
    assert reasons["zero.mp4"] == "empty file (0 bytes)"
    assert "truncated" in reasons["cut.mp4"] or "not a readable video" in reasons["cut.mp4"]
    assert "not a readable video" in reasons["text.mp4"]
    assert not report.ok and not report.added
    assert _catalog(root) == before  # nothing lost, nothing half-written
    with session_scope(root) as session:  # the job keeps every failure with its reason
        recorded = {(Path(e.item).name, e.reason) for e in session.execute(
            select(JobError).where(JobError.job_id == report.job_id)).scalars()}
    assert recorded == set(reasons.items())


def test_cli_names_each_bad_file_and_exits_nonzero_only_when_nothing_was_added(root, tmp_path):
    (tmp_path / "zero.mp4").write_bytes(b"")
    result = CliRunner().invoke(main, ["--root", str(root), "ingest", "--quiet", str(tmp_path / "zero.mp4")])
    assert result.exit_code == 1 and "zero.mp4" in result.output and "empty file" in result.output
    good = make_video(tmp_path / "good.mp4")
    result = CliRunner().invoke(main, ["--root", str(root), "ingest", "--quiet", str(tmp_path / "zero.mp4"),
                                       str(good)])
    assert result.exit_code == 0 and "zero.mp4" in result.output


@pytest.mark.parametrize("codec, fmt, expected", [("libvpx-vp9", "webm", "vp9"), ("mpeg4", "avi", "mpeg4")])
def test_wrong_extension_is_read_by_content(root, tmp_path, codec, fmt, expected):
    disguised = _encode(tmp_path / "disguised.mp4", _pattern(8), codec, fmt=fmt, rate=25)
    report = ingest(root, [disguised], progress=False)
    assert len(report.added) == 1 and not report.failures
    row = QueryEngine(root).cursor().execute("SELECT codec, n_frames, width, height, fps FROM clips").fetchone()
    assert row == (expected, 8, 64, 48, 25.0)
    decoded = [rgb for _, rgb in iter_frames_rgb(disguised)]
    assert len(decoded) == 8 and decoded[0][:12, :16].mean() > 200  # decodable, block where it was drawn


def test_a_video_without_a_video_extension_needs_source_video(root, tmp_path):
    renamed = tmp_path / "clip.bin"
    renamed.write_bytes(make_video(tmp_path / "src.mp4", seed=5).read_bytes())
    refused = ingest(root, [renamed], progress=False)
    assert "use --source video" in refused.failures[0].reason and not refused.added
    accepted = ingest(root, [renamed], source="video", progress=False)
    assert len(accepted.added) == 1


def test_variable_frame_rate_reports_its_real_span_and_frame_times(root, tmp_path):
    vfr = _encode(tmp_path / "vfr.mp4", _pattern(len(VFR_PTS_MS)), "libx264", pts_ms=VFR_PTS_MS)
    info = probe_video(vfr)
    span_s = (VFR_PTS_MS[-1] + 33) / 1000  # last frame start plus its duration
    assert info.vfr and info.n_frames == 10
    assert info.duration_s == pytest.approx(span_s, abs=0.005)
    assert info.fps == pytest.approx(10 / span_s, rel=0.01)
    np.testing.assert_allclose(frame_times_s(vfr), np.array(VFR_PTS_MS) / 1000, atol=1e-3)
    constant = make_video(tmp_path / "cfr.mp4", n_frames=10, fps=15)
    assert not probe_video(constant).vfr and probe_video(constant).fps == 15.0
    assert vfr_frame_times_s(constant, 15.0) is None  # constant rate keeps frame_index / fps
    # Pose rows of the VFR clip carry each frame's presentation time.
    task = ClipTask("vfr", "video", str(vfr), info.fps, info.n_frames, CameraIntrinsics.from_hfov(64, 48),
                    LabelConfig(stride=3))
    table = label_clip(task).table.to_pandas()
    by_frame = table.drop_duplicates("frame_index").set_index("frame_index")["timestamp_s"]
    assert list(by_frame.index) == [0, 3, 6, 9]
    np.testing.assert_allclose(by_frame.to_numpy(), [0.0, 0.2, 0.533, 1.033], atol=1e-3)
    report = ingest(root, [vfr], progress=False)
    row = QueryEngine(root).cursor().execute("SELECT fps, duration_s, extra FROM clips").fetchone()
    assert report.added and row[0] == pytest.approx(info.fps) and '"vfr": true' in row[2]


@pytest.fixture(scope="module")
def phone_videos(shared_data, tmp_path_factory) -> dict[str, Path]:
    """The real hand video, 6 frames at 640x360: upright as is, and stored sideways with a 90° display matrix."""
    folder = tmp_path_factory.mktemp("phone")
    with av.open(str(shared_data / DEX_VIDEO)) as container:
        upright = [f.to_ndarray(format="rgb24", width=640, height=360)
                   for i, f in enumerate(container.decode(video=0)) if i % 60 == 0 and i < 360]
    # A phone stores the sensor's frame and says "turn 90° counter-clockwise to show it".
    sideways = [np.rot90(rgb, -1) for rgb in upright]
    return {"upright": _encode(folder / "upright.mp4", upright, "libx264"),
            "phone": _encode(folder / "phone.mp4", sideways, "libx264", rotation_deg=90),
            "phone_mpeg4": _encode(folder / "phone_mpeg4.mp4", sideways, "mpeg4", rotation_deg=90)}


def test_rotated_phone_video_is_catalogued_and_decoded_upright(root, phone_videos):
    info = probe_video(phone_videos["phone"])
    assert (info.width, info.height, info.rotation_deg) == (640, 360, 90)
    assert probe_video(phone_videos["upright"]).rotation_deg == 0
    upright = [rgb for _, rgb in iter_frames_rgb(phone_videos["upright"])]
    turned = [rgb for _, rgb in iter_frames_rgb(phone_videos["phone"])]
    assert turned[0].shape == upright[0].shape == (360, 640, 3)
    assert np.abs(turned[0].astype(int) - upright[0]).mean() < 6  # same picture, same way up (codec noise)
    report = ingest(root, [phone_videos["phone"]], progress=False)
    row = QueryEngine(root).cursor().execute("SELECT width, height, extra FROM clips").fetchone()
    assert report.added and row[:2] == (640, 360) and '"rotation_deg": 90' in row[2]


def test_rotated_phone_video_gives_keypoints_in_displayed_pixels(phone_videos):
    def right_hand_px(name: str) -> np.ndarray:
        task = ClipTask(name, "video", str(phone_videos[name]), 30.0, 6, CameraIntrinsics.from_hfov(640, 360),
                        LabelConfig(max_side_px=640))
        right = label_clip(task).table.to_pandas().query("hand == 'right' and present")
        assert len(right) >= 4, "the hand is found in the upright frames"
        return np.stack([np.stack(k) for k in right["kp2d_px"]])

    upright, phone = right_hand_px("upright"), right_hand_px("phone")
    n = min(len(upright), len(phone))
    assert np.median(np.linalg.norm(upright[:n] - phone[:n], axis=-1)) < 6.0


def test_rotated_video_thumbnail_and_proxy_are_upright(phone_videos, tmp_path):
    upright = next(iter_frames_rgb(phone_videos["upright"]))[1]
    thumb = grab_frame(phone_videos["phone"], 0.0, width=320)
    assert thumb.shape == (180, 320, 3)
    small = upright[::2, ::2].astype(int)
    assert np.abs(thumb.astype(int) - small).mean() < 10
    proxy = make_proxy(phone_videos["phone_mpeg4"], tmp_path / "proxy.mp4", fps=30.0)
    info = probe_video(proxy)
    assert (info.width, info.height, info.rotation_deg, info.n_frames) == (640, 360, 0, 6)
    first = next(iter_frames_rgb(proxy))[1]
    assert np.abs(first.astype(int) - upright).mean() < 10


def test_probe_errors_are_video_errors_naming_the_file(tmp_path):
    for name, content in (("none.mp4", None), ("zero.mp4", b""), ("junk.mp4", b"\x00\x01" * 300)):
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(VideoError, match=name):
            probe_video(path)
