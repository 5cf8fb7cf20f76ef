"""Ingest of generated inputs: raw videos, LeRobot v3.0, and the bad inputs users will feed it."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from app.cli import main
from db.engine import QueryEngine
from labeling.sources.ingest import ingest
from tests.conftest import make_video
from tests.factories import write_egodex_pair, write_lerobot_v3


def _count(root, sql="SELECT count(*) FROM clips"):
    return QueryEngine(root).cursor().execute(sql).fetchone()[0]


def test_raw_video_probe_and_stable_ids(root, tmp_path):
    video = make_video(tmp_path / "a.mp4", n_frames=15, width=96, height=64, fps=15)
    copy = tmp_path / "copy" / "same.mp4"
    copy.parent.mkdir()
    shutil.copy(video, copy)
    report = ingest(root, [video, copy], progress=False)
    assert len(report.added) == 1 and report.skipped == 1  # same bytes, same clip
    row = QueryEngine(root).cursor().execute(
        "SELECT kind, source, fps, n_frames, width, height, codec, duration_s FROM clips").fetchone()
    assert row == ("human", "video", 15.0, 15, 96, 64, "h264", pytest.approx(1.0))


def test_lerobot_v3_episodes_and_time_ranges(root, tmp_path):
    dataset = write_lerobot_v3(tmp_path / "toy_v3", lengths=(12, 8), fps=10.0)
    report = ingest(root, [dataset], progress=False)
    assert len(report.added) == 2 and not report.failures
    rows = QueryEngine(root).cursor().execute("""
        SELECT episode_index, n_frames, task, video_from_s, video_to_s, robot_type, state_names
        FROM clips ORDER BY episode_index""").fetchall()
    assert rows[0][:6] == (0, 12, "stack the cups", 0.0, pytest.approx(1.2), "toy_arm")
    assert rows[1][:5] == (1, 8, "open the box", pytest.approx(1.2), pytest.approx(2.0))
    assert json.loads(rows[0][6]) == ["j0", "j1", "j2", "j3"]
    states = QueryEngine(root).cursor().execute("""
        SELECT r.state FROM robot_frames r JOIN clips c USING (clip_id)
        WHERE c.episode_index = 1 ORDER BY r.frame_index""").fetchall()
    assert states[0][0][0] == pytest.approx(100.0) and len(states) == 8


def test_bad_inputs_fail_alone_with_reasons(root, tmp_path):
    good = make_video(tmp_path / "in" / "good.mp4", seed=1)
    (tmp_path / "in" / "empty.mp4").write_bytes(b"")
    truncated = make_video(tmp_path / "in" / "cut.mp4", n_frames=30, seed=2).read_bytes()
    (tmp_path / "in" / "cut.mp4").write_bytes(truncated[: len(truncated) // 3])
    (tmp_path / "in" / "text.mp4").write_text("not a video at all")
    write_egodex_pair(tmp_path / "in" / "egodex", drop="transforms/rightThumbTip")
    report = ingest(root, [tmp_path / "in"], progress=False)
    reasons = {f.item.rsplit("/", 1)[-1]: f.reason for f in report.failures}
    assert reasons["empty.mp4"] == "empty file (0 bytes)"
    assert "not a readable video" in reasons["text.mp4"]
    assert "cut.mp4" in reasons
    assert "transforms/rightThumbTip" in reasons["0.hdf5"]
    assert report.added and _count(root) == 1  # only the good clip, no partial rows
    assert _count(root, "SELECT count(*) FROM frames") == 0
    assert QueryEngine(root).cursor().execute("SELECT path FROM clips").fetchone()[0] == str(good.resolve())


def test_lying_lerobot_metadata(root, tmp_path):
    dataset = write_lerobot_v3(tmp_path / "liar", lengths=(5, 5, 5))
    info = json.loads((dataset / "meta" / "info.json").read_text())
    info["total_episodes"] = 10
    (dataset / "meta" / "info.json").write_text(json.dumps(info))
    (dataset / "videos" / "observation.images.cam" / "chunk-000" / "file-000.mp4").unlink()
    report = ingest(root, [dataset], progress=False)
    assert not report.ok and len(report.failures) == 3
    assert all("no video file" in f.reason for f in report.failures)
    assert any("says 10 episodes" in w for w in report.warnings)
    assert _count(root) == 0


def test_broken_info_json_and_missing_data_files(root, tmp_path):
    broken = write_lerobot_v3(tmp_path / "broken", lengths=(4,))
    (broken / "meta" / "info.json").write_text("{ not json")
    missing = write_lerobot_v3(tmp_path / "missing", lengths=(4,))
    (missing / "data" / "chunk-000" / "file-000.parquet").unlink()
    report = ingest(root, [broken, missing], progress=False)
    reasons = " | ".join(f.reason for f in report.failures)
    assert "info.json is not valid JSON" in reasons and "data file" in reasons and "missing" in reasons


def test_cli_exit_code_is_nonzero_only_when_nothing_was_ingested(root, tmp_path):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("hello")
    (junk / "table.csv").write_text("a,b")
    runner = CliRunner()
    result = runner.invoke(main, ["--root", str(root), "ingest", "--quiet", str(junk)])
    assert result.exit_code == 1
    assert "no ingestible media found" in result.output and "2 other files skipped" in result.output
    video = make_video(tmp_path / "ok.mp4")
    result = runner.invoke(main, ["--root", str(root), "ingest", "--quiet", str(junk), str(video)])
    assert result.exit_code == 0 and "1 clips added" in result.output
    result = runner.invoke(main, ["--root", str(root), "ingest", "--quiet", str(video)])
    assert result.exit_code == 0 and "1 already catalogued" in result.output


def test_cli_sql_json(root, tiny_video):
    runner = CliRunner()
    runner.invoke(main, ["--root", str(root), "ingest", "--quiet", str(tiny_video)])
    result = runner.invoke(main, ["--root", str(root), "sql", "--json", "SELECT kind, n_frames FROM clips"])
    assert result.exit_code == 0
    assert [json.loads(line) for line in result.output.splitlines()] == [{"kind": "human", "n_frames": 10}]
    result = runner.invoke(main, ["--root", str(root), "sql", "DELETE FROM clips"])
    assert result.exit_code != 0 and "read-only" in result.output
