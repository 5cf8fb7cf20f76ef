"""A paired demo whose human clip has frames 10-29 flagged and confirmed and a segment labelled, all from the
CLI (`egocurate flag add / confirm`, `segment add`), and its exports: built once per session, shared by the
export and LeRobot-oracle tests.

    built = cut_exports(tmp_path_factory.getbasetemp())
    built.split_v3, built.split_v21      # min_episode_s 0.3: the clip splits at the cut (10 + n-30 frames)
    built.plain_v3                       # the same without subtasks (what LeRobot 0.4.4 can read), + unpaired
    built.longer_v3                      # min_episode_s 1 s: the 10-frame piece is too short, the longer stays
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from click.testing import CliRunner

from curation.export_episodes import VideoSpec
from curation.export_lerobot import run_export
from curation.export_plan import ExportConfig
from db.engine import query_engine
from labeling.media.video import iter_frames_rgb

from .demo_retargets import accept_replayed_pairs, paired_demo_root

FLAG_FRAMES = (10, 29)  # inclusive: 20 frames
SEGMENT = (40, 90, "grasp the cup")  # inclusive source frames, text
LATE_SEGMENT = (100, 150, "place the cup")
SPLIT_MIN_S = 0.3  # 9 frames at 30 fps: both pieces (10 and n-30 frames) are long enough
VIDEO = VideoSpec(width=96, height=72, crf=8)  # near-lossless: frames one step apart stay apart
_built: dict[str, CutExports] = {}


@dataclass(frozen=True)
class CutExports:
    root: Path
    clip_id: str  # the flagged human clip
    n_frames: int  # its length
    flag_id: int
    segment_ids: tuple[int, int]
    split_v3: Path
    split_v21: Path  # with GR00T's modality.json
    plain_v3: Path  # split, no subtasks, with the unpaired human clips
    longer_v3: Path  # the default min_episode_s


def cli(root: Path, *args: str) -> str:
    """Run `egocurate --root ROOT ARGS...` and return its stdout (it must succeed)."""
    from app.cli import main

    result = CliRunner().invoke(main, ["--root", str(root), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def cut_exports(base: Path) -> CutExports:
    if "built" in _built:
        return _built["built"]
    root = paired_demo_root(base)
    accept_replayed_pairs(root)
    clip_id, n_frames = query_engine(root).cursor().execute(
        "SELECT c.clip_id, c.n_frames FROM clips c JOIN pairs p ON p.human_clip_id = c.clip_id "
        "WHERE p.state = 'accepted' ORDER BY c.clip_id LIMIT 1").fetchone()
    flag_id = int(cli(root, "flag", "add", clip_id, "--frames", f"{FLAG_FRAMES[0]}:{FLAG_FRAMES[1]}",
                      "--reason", "hand occluded by the cup", "--proposed", "--user", "ann"))
    assert int(cli(root, "flag", "confirm", str(flag_id), "--user", "ann")) == flag_id
    segments = tuple(int(cli(root, "segment", "add", clip_id, "--frames", f"{a}:{b}", "--text", text, "--user", "ann"))
                     for a, b, text in (SEGMENT, LATE_SEGMENT))
    out = base / "cut-exports"
    out.mkdir(exist_ok=True)

    def export(name: str, fmt: str, **options: object) -> Path:
        return run_export(root, ExportConfig(out_dir=out / name, format=fmt, video=VIDEO, **options)).out_dir

    built = CutExports(
        root=root, clip_id=clip_id, n_frames=int(n_frames), flag_id=flag_id, segment_ids=segments,
        split_v3=export("split-v3", "lerobot-v3", min_episode_s=SPLIT_MIN_S),
        split_v21=export("split-v21", "lerobot-v2.1", gr00t=True, min_episode_s=SPLIT_MIN_S),
        plain_v3=export("plain-v3", "lerobot-v3", min_episode_s=SPLIT_MIN_S, subtasks=False, unpaired_human=True),
        longer_v3=export("longer-v3", "lerobot-v3"))
    _built["built"] = built
    return built


def episodes_of(out: Path) -> list[dict]:
    """meta/episodes rows (v3.0) or episodes.jsonl lines (v2.1), with `first` (their global first index)."""
    if (out / "meta" / "episodes.jsonl").is_file():
        rows = [json.loads(line) for line in (out / "meta" / "episodes.jsonl").read_text().splitlines()]
    else:
        rows = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    first = 0
    for row in rows:
        row["first"], first = first, first + row["length"]
    return rows


def exported_frames(out: Path, episode: dict) -> list[np.ndarray]:
    """The decoded frames of one exported episode."""
    if (out / "meta" / "episodes.jsonl").is_file():
        path = out / f"videos/chunk-000/observation.images.ego_view/episode_{episode['episode_index']:06d}.mp4"
        return [f for _, f in iter_frames_rgb(path)]
    path = out / "videos/observation.images.ego_view/chunk-000/file-000.mp4"
    start = round(episode["videos/observation.images.ego_view/from_timestamp"] * 30)
    return [f for i, f in iter_frames_rgb(path) if start <= i < start + episode["length"]]


def exported_states(out: Path, episode: dict) -> np.ndarray:
    if (out / "meta" / "episodes.jsonl").is_file():
        table = pq.read_table(out / f"data/chunk-000/episode_{episode['episode_index']:06d}.parquet")
    else:
        data = pq.read_table(out / "data/chunk-000/file-000.parquet").to_pandas()
        table = data[data["episode_index"] == episode["episode_index"]]
        return np.stack(table["observation.state"].to_numpy())
    return np.asarray(table.column("observation.state").to_pylist())
