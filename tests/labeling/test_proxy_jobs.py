"""Proxies made before anyone asks (labeling/media/proxy_jobs.py): at ingest, in the background, resumable."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from db import paths
from db.models import JobError
from db.store import session_scope
from labeling.media.proxy import clip_playable_path
from labeling.media.proxy_jobs import missing_proxies, proxy_jobs, run_proxies
from labeling.media.video import probe_video
from labeling.sources.ingest import ingest


def write_mpeg4(path: Path, seed: int, n_frames: int = 12) -> Path:
    """A real tiny MPEG-4 Part 2 clip (what EgoDex ships): a codec browsers do not play."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        base = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i, axis=1), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def test_a_run_makes_every_missing_proxy_once(root: Path, tmp_path: Path, tiny_video: Path):
    clips = [write_mpeg4(tmp_path / "media" / f"take{k}.mp4", seed=k) for k in range(3)]
    report = ingest(root, [*clips, tiny_video], progress=False)
    assert len(report.added) == 4 and report.needing_proxies == 3 and report.proxy_job_id is None
    assert len(missing_proxies(root)) == 3  # the H.264 clip plays as it is
    first = missing_proxies(root)[0]
    clip_playable_path(root, first)  # as if a killed run had made this one
    made_first = paths.proxy_path(root, first["clip_id"]).stat().st_mtime_ns
    result = run_proxies(root)
    assert (result.state, result.n_made, result.n_done, result.n_total) == ("done", 2, 3, 3)  # it goes on from there
    assert missing_proxies(root) == []
    assert paths.proxy_path(root, first["clip_id"]).stat().st_mtime_ns == made_first
    proxies = sorted((root / paths.PROXY_DIR).glob("*.mp4"))
    assert len(proxies) == 3 and {probe_video(p).codec for p in proxies} == {"h264"}
    again = run_proxies(root)
    assert (again.state, again.n_made, again.n_done) == ("done", 0, 3)
    assert proxy_jobs(root)[0].message == "every proxy was made already"


def test_a_clip_that_cannot_be_decoded_is_recorded_and_the_rest_made(root: Path, tmp_path: Path):
    good, bad = write_mpeg4(tmp_path / "good.mp4", seed=1), write_mpeg4(tmp_path / "bad.mp4", seed=2)
    ingest(root, [good, bad], progress=False)
    bad.write_bytes(bad.read_bytes()[:200])  # damaged after it was catalogued
    result = run_proxies(root)
    assert (result.state, result.n_made, result.n_done, result.n_failed) == ("done", 1, 1, 1)
    with session_scope(root) as session:
        errors = session.scalars(select(JobError).where(JobError.job_id == result.job_id)).all()
        assert [e.item for e in errors] == [str(bad)] and "cannot decode" in errors[0].reason


def test_ingest_starts_the_job_in_the_background(root: Path, tmp_path: Path):
    clip = write_mpeg4(tmp_path / "take.mp4", seed=4)
    result = CliRunner().invoke(main, ["--root", str(root), "ingest", "--quiet", str(clip)])
    assert result.exit_code == 0, result.output
    assert "making the browser proxies of 1 new clips in the background" in result.output
    deadline = time.monotonic() + 120
    while proxy_jobs(root)[0].state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.3)
    job = proxy_jobs(root)[0]
    assert (job.state, job.n_done, job.n_total) == ("done", 1, 1)
    assert missing_proxies(root) == []
    status = CliRunner().invoke(main, ["--root", str(root), "proxies", "--status"])
    assert f"job {job.job_id}: done, 1 of 1 made, 0 failed" in status.output
    assert "0 clips still need a proxy" in status.output
    quiet = CliRunner().invoke(main, ["--root", str(root), "ingest", "--quiet", "--no-proxies",
                                      str(write_mpeg4(tmp_path / "other.mp4", seed=5))])
    assert "proxies:" not in quiet.output and len(missing_proxies(root)) == 1
    made = CliRunner().invoke(main, ["--root", str(root), "proxies", "--quiet"])
    assert made.exit_code == 0 and "proxies: 1 made, 0 failed, 2 of 2 clips that need one have it" in made.output
