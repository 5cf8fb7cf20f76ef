"""Pairing quality and export throughput on the synthetic demo set.

    .venv/bin/python bench/bench_export.py [--root DIR] [--codecs h264,av1] [--formats lerobot-v2.1,lerobot-v3]

1. Builds the demo set (36 human clips, 12 robot episodes, 480x360 @ 30 fps) unless `--root` already
   has one, and writes the generator's ground-truth `retargets` for its human clips
   (tests/curation/demo_retargets.py; the retargeting stage's own accuracy is not measured here).
2. Pairing: `egocurate pair`'s function; then the DTW cost of every human clip against every robot
   episode, split into the replayed take (the right pair), other takes of the same task, and wrong
   tasks; and how well the path recovers the known time warp of each right pair.
3. Export: accepts the right pairs and writes each format (320x240 video), timing the whole run
   (decode, resize, encode, Parquet, read-back check, hashes). Prints frames/s and MB per hour of video.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.demo import build_demo  # noqa: E402
from curation.align import align_states, robot_to_human_frames  # noqa: E402
from curation.export_episodes import VideoSpec  # noqa: E402
from curation.export_lerobot import run_export  # noqa: E402
from curation.export_plan import ExportConfig  # noqa: E402
from curation.pair_store import decide_pair, get_pair  # noqa: E402
from curation.pairing import PairConfig, _human_states, _robot_states, run_pairing  # noqa: E402
from db.engine import query_engine  # noqa: E402
from db.queries.annotations import pair_rows  # noqa: E402
from db.queries.clips import pairing_clips  # noqa: E402
from db.queries.door import fetch_value  # noqa: E402
from labeling.synthetic.plan import warp_times  # noqa: E402
from tests.curation.demo_retargets import robot_episodes, source_clip_of_robot, write_demo_retargets  # noqa: E402


def prepare(root: Path) -> None:
    build_demo(root, seed=0, progress=False)
    if not fetch_value(query_engine(root), "SELECT count(*) FROM retargets"):
        write_demo_retargets(root)


def cost_table(root: Path) -> pd.DataFrame:
    """DTW cost of every (human, robot) combination, labelled right / same task / wrong task."""
    engine = query_engine(root)
    clips = pairing_clips(engine)
    info = clips.set_index("clip_id")
    humans, robots = clips[clips.kind == "human"].clip_id.tolist(), clips[clips.kind == "robot"].clip_id.tolist()
    human_states, robot_states = _human_states(engine, humans, info, "egocurate_hand22"), _robot_states(engine, robots)
    source = source_clip_of_robot(root)
    rows = []
    for robot in robots:
        for human in humans:
            kind = ("right pair" if source[robot] == human else
                    "same task, other take" if info.loc[human, "task"] == info.loc[robot, "task"] else "wrong task")
            rows.append({"kind": kind, "cost": align_states(human_states[human], robot_states[robot]).cost})
    return pd.DataFrame(rows)


def warp_errors(root: Path) -> pd.DataFrame:
    """Per right pair: mean and max |path human frame - true human frame| over the robot's frames."""
    engine = query_engine(root)
    info = pairing_clips(engine).set_index("clip_id")
    pairs = pair_rows(engine)
    episodes = robot_episodes(root)
    rows = []
    for robot, human in source_clip_of_robot(root).items():
        match = pairs[(pairs.robot_clip_id == robot) & (pairs.human_clip_id == human)]
        episode = episodes[robot]
        truth = warp_times(episode.n_frames, episode.warp_amplitude) * (info.loc[human, "n_frames"] - 1)
        error = np.abs(robot_to_human_frames(get_pair(root, int(match.iloc[0].id)).path, len(truth)) - truth)
        rows.append({"mean_frames": error.mean(), "median_frames": np.median(error), "max_frames": error.max()})
    return pd.DataFrame(rows)


def accept_right_pairs(root: Path) -> None:
    pairs = pair_rows(query_engine(root))
    for robot, human in source_clip_of_robot(root).items():
        pair = get_pair(root, int(pairs[(pairs.robot_clip_id == robot) & (pairs.human_clip_id == human)].iloc[0].id))
        if pair.state != "accepted":
            decide_pair(root, pair.id, "accepted", "bench", pair.version)


def bench_exports(root: Path, out: Path, formats: list[str], codecs: list[str]) -> pd.DataFrame:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for fmt in formats:
        for codec in codecs:
            target = out / f"{fmt}-{codec}"
            started = time.perf_counter()
            result = run_export(root, ExportConfig(out_dir=target, format=fmt, gr00t=fmt == "lerobot-v2.1",
                                                   video=VideoSpec(codec=codec), overwrite=True))
            elapsed = time.perf_counter() - started
            manifest = result.manifest
            video_bytes = sum((target / p).stat().st_size for p in manifest["files"] if p.endswith(".mp4"))
            rows.append({"format": fmt, "codec": codec, "episodes": manifest["counts"]["episodes"],
                         "frames": manifest["counts"]["frames"], "seconds": round(elapsed, 1),
                         "frames_per_s": round(manifest["counts"]["frames"] / elapsed, 1),
                         "MB_per_hour": round(manifest["bytes"] / 1e6 / manifest["hours"], 1),
                         "video_MB_per_hour": round(video_bytes / 1e6 / manifest["hours"], 1)})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="data root (default: a temporary one)")
    parser.add_argument("--formats", default="lerobot-v2.1,lerobot-v3")
    parser.add_argument("--codecs", default="h264,av1")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-export-"))
    root = args.root or scratch / "root"
    try:
        prepare(root)
        started = time.perf_counter()
        report = run_pairing(root, PairConfig())
        print(f"pairing: {len(report.frame)} candidates, {report.proposed} proposed, "
              f"{time.perf_counter() - started:.2f} s (task match + DTW + store)")
        costs = cost_table(root)
        print("\nDTW cost per step (every human x robot combination):")
        print(costs.groupby("kind")["cost"].describe()[["count", "min", "50%", "max"]].round(3).to_string())
        print(f"proposal threshold max_cost = {PairConfig().max_cost}")
        print("\nwarp recovery on the right pairs (frames):")
        print(warp_errors(root).describe().loc[["mean", "50%", "max"]].round(2).to_string())
        accept_right_pairs(root)
        print("\nexport throughput (whole run: decode, 320x240 resize, encode, Parquet, read-back, hashes):")
        print(bench_exports(root, scratch / "out", args.formats.split(","), args.codecs.split(",")).to_string(
            index=False))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
