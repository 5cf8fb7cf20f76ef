"""A paired demo whose human clip has frames 10-29 flagged and confirmed and a segment labelled, all from the
CLI (`egocurate flag add / confirm`, `segment add`), and its exports: built once per session, shared by the
export and LeRobot-oracle tests.

    built = cut_exports(tmp_path_factory.getbasetemp())
    built.split_v3, built.split_v21      # min_episode_s 0.3: the clip splits at the cut (10 + n-30 frames)
    built.plain_v3                       # the same without subtasks (what LeRobot 0.4.4 can read)
    built.longer_v3                      # min_episode_s 1 s: the 10-frame piece is too short, the longer stays
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from curation.export_episodes import VideoSpec
from curation.export_lerobot import run_export
from curation.export_plan import ExportConfig
from db.engine import query_engine

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
    plain_v3: Path  # split, no subtasks
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
        plain_v3=export("plain-v3", "lerobot-v3", min_episode_s=SPLIT_MIN_S, subtasks=False),
        longer_v3=export("longer-v3", "lerobot-v3"))
    _built["built"] = built
    return built
