"""The manifest every export carries (`meta/egocurate_manifest.json`) and records in the `exports` table.

It says how to reproduce the export and what it holds: the view spec, the flags that kept clips out,
the frames cut (per clip and reason) and each episode's source clip and kept frames, the pairs in and
out, counts and hours per embodiment and split, the code version, and a sha256 of every other file of
the dataset.
"""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from labeling.sources.lerobot_layout import MANIFEST_PATH

from .export_cuts import EpisodesOfClip
from .export_plan import NO_TASK_PLACEHOLDER, ExportConfig, ExportPlan

HASH_CHUNK_BYTES = 1 << 20


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (but the manifest), by POSIX path relative to `root`."""
    hashes = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative == MANIFEST_PATH:
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
        hashes[relative] = digest.hexdigest()
    return hashes


def code_version() -> dict[str, object]:
    """The installed egocurate version and, in a git checkout, its commit and whether it has local edits."""
    try:
        version = metadata.version("egocurate")
    except metadata.PackageNotFoundError:
        version = None
    repo = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10, check=True).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"egocurate": version, "git_commit": commit, "git_dirty": dirty}


def _totals(episodes: pd.DataFrame, by: str) -> dict[str, dict[str, float]]:
    grouped = episodes.groupby(by).agg(episodes=("clip_id", "size"), frames=("n_frames", "sum"),
                                      seconds=("duration_s", "sum"))
    return {str(key): {"episodes": int(row.episodes), "frames": int(row.frames), "hours": float(row.seconds) / 3600}
            for key, row in grouped.iterrows()}


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    present = [c for c in columns if c in frame.columns]
    return [{k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame[present].to_dict(orient="records")]


def _cuts(cfg: ExportConfig, plan: ExportPlan) -> dict[str, object]:
    """The cutting options, frames cut per reason, and every clip's cuts."""
    clips = {clip_id: _records(group, ["frame_from", "frame_to", "reason", "flag_id"])
             for clip_id, group in plan.cuts.groupby("clip_id")}
    summary = {row.reason: {"clips": int(row.clips), "frames": int(row.frames), "seconds": float(row.seconds)}
               for row in plan.cut_summary().itertuples()}
    return {"min_episode_s": cfg.min_episode_s, "trim_idle": cfg.trim_idle, "trim_absent": cfg.trim_absent,
            "by_reason": summary, "clips": clips}


def _sources(episodes_of_clip: EpisodesOfClip) -> list[dict]:
    """Every episode's source clip and kept frames, in episode order (by dataset in a mixture)."""
    out = [({"episode_index": ref} if isinstance(ref, int) else dict(ref)) | {"clip_id": clip_id,
                                                                              "kept_frames": [[start, end]]}
           for clip_id, found in episodes_of_clip.items() for ref, start, end in found]
    return sorted(out, key=lambda e: (str(e.get("dataset", "")), e.get("episode_index", e.get("episode", 0))))


def build_manifest(root: Path, cfg: ExportConfig, plan: ExportPlan, fps: object, export_id: int,
                   episodes_of_clip: EpisodesOfClip) -> dict[str, object]:
    """The manifest of a written (not yet renamed) export under `root`.

    `episodes_of_clip`: per clip, its episodes as (reference, first source frame, end source frame): the
    reference is the episode index, or `{dataset, episode}` in a mixed-embodiment export.
    """
    episodes = plan.episodes
    refs = {clip_id: [e[0] for e in found] for clip_id, found in episodes_of_clip.items()}
    pairs = [{"pair_id": int(r.id), "pair_group": int(r.pair_id), "human_clip_id": r.human_clip_id,
              "robot_clip_id": r.robot_clip_id, "human_episode": refs[r.human_clip_id][0],
              "robot_episode": refs[r.robot_clip_id][0], "human_episodes": refs[r.human_clip_id],
              "robot_episodes": refs[r.robot_clip_id], "cost": None if pd.isna(r.cost) else float(r.cost)}
             for r in plan.pairs.itertuples()]
    hashes = file_hashes(root)
    return {
        "egocurate_export": 1, "export_id": export_id, "format": cfg.format, "gr00t": cfg.gr00t,
        "created_at": datetime.now(UTC).isoformat(), "author": cfg.author, "code_version": code_version(),
        "view": {"name": plan.view_name, "spec": plan.view_spec},
        "exclude_flag_states": list(cfg.exclude_flag_states), "unpaired_human": cfg.unpaired_human,
        "flags_excluded": _records(plan.excluded_flags, ["id", "clip_id", "state", "severity", "rule", "reason"]),
        "cuts": _cuts(cfg, plan),
        "episodes": _sources(episodes_of_clip),
        "segments": {"labels": len(plan.segments), "written": cfg.subtasks and not plan.segments.empty},
        "pairs": pairs,
        "pairs_dropped": _records(plan.dropped_pairs, ["id", "human_clip_id", "robot_clip_id", "reason"]),
        "counts": {"episodes": len(episodes), "frames": int(episodes["n_frames"].sum()), "pairs": len(pairs),
                   "pair_groups": int(episodes.loc[episodes["pair_id"] >= 0, "pair_id"].nunique()),
                   "unpaired_human": int((episodes["pair_id"] < 0).sum()), "tasks": int(episodes["task"].nunique()),
                   "by_embodiment": _totals(episodes, "embodiment"), "by_split": _totals(episodes, "split")},
        "no_task": {"placeholder": NO_TASK_PLACEHOLDER,
                    "episodes": int((episodes["task"] == NO_TASK_PLACEHOLDER).sum())},
        "hours": float(episodes["duration_s"].sum()) / 3600, "fps": fps,
        "video": {"width": cfg.video.width, "height": cfg.video.height, "codec": cfg.video.codec,
                  "crf": cfg.video.crf, "gop_frames": cfg.video.gop_frames, "keep_aspect": cfg.video.keep_aspect},
        "files": hashes, "bytes": sum((root / p).stat().st_size for p in hashes),
    }
