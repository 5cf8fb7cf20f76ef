"""Which episodes an export holds: a saved view, minus flagged clips and spans, restricted to accepted pairs.

    plan = plan_export(root, ExportConfig(out_dir=..., format="lerobot-v3", view_name="clean"))
    plan.episodes       # one row per episode to write: its clip and source frames, kind, embodiment, task,
                        # pair group, split, hours
    plan.summary()      # episodes and hours per task and embodiment (the Export page's preview)
    plan.cut_summary()  # frames and seconds cut per reason

A clip goes in only if the view selects it and it has no whole-clip flag in `exclude_flag_states`; a
flag there with a frame range cuts those frames instead, and `trim_idle` / `trim_absent` cut more
(`export_cuts` has the rules: a cut inside a clip splits it into episodes of at least `min_episode_s`).
A pair goes in only if both of its clips do (the others are listed in `dropped_pairs`, so nothing
excluded can come back in through a pair); with `unpaired_human` a human clip of the view in no pair
that goes in (in none accepted, or its pairs dropped) is written too, unpaired. Pairs that share a clip
form one group; the train / validation split is drawn per group from a hash of its clips, so no pair
straddles it and re-exports keep the split; the pieces of a clip share its group.

An episode's task is the clip's task text (a curator's correction wins); a clip without one is
written with `NO_TASK_PLACEHOLDER`, because every LeRobot episode needs a task string.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from db import paths
from db.engine import query_engine
from db.queries.annotations import accepted_pairs_in_view, export_flags, segment_labels, unpaired_human_clips
from db.queries.clips import clips_by_id, pairing_clips
from db.queries.embodiments import clip_embodiment_names
from db.queries.retargets import clips_with_retargets, retarget_rows
from db.view_spec import ViewSpec

from .action_layout import HAND22_EMBODIMENT
from .export_cuts import Cut, absent_cuts, flag_cuts, idle_end_cuts, kept_pieces, merged_cuts, tracked_hands
from .export_episodes import VideoSpec
from .metrics import MetricsConfig
from .pairing import has_task_text, human_state_62
from .views import load_view

FORMATS = ("lerobot-v2.1", "lerobot-v3")
CUT_COLUMNS = ["clip_id", "frame_from", "frame_to", "frames", "seconds", "reason", "flag_id"]
UNPAIRED = -1  # the `pair_id` of a human episode in no pair (ExportConfig.unpaired_human)
HUMAN_EMBODIMENT = "human"  # the `embodiment` of human episodes (their joints are egocurate_hand22)
# The task of an episode whose clip has no task text: LeRobot needs one per episode, and an empty
# string would read as a real (empty) instruction. The manifest counts the episodes that carry it.
NO_TASK_PLACEHOLDER = "(no task text)"
EXPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # the export folder's own name


@dataclass(frozen=True)
class ExportConfig:
    """One export run."""

    out_dir: Path  # the dataset folder to create; its parent must exist
    format: str = "lerobot-v3"  # lerobot-v2.1 | lerobot-v3
    view_name: str | None = None  # a saved view (curation.views); None: every clip
    gr00t: bool = False  # also write GR00T's meta/modality.json
    overwrite: bool = False  # replace an existing non-empty out_dir
    video: VideoSpec = field(default_factory=VideoSpec)  # size and codec of the videos
    validation_fraction: float = 0.2  # share of pair groups held out for validation
    # A whole-clip flag in these states keeps its clip out; one with a frame range cuts those frames.
    exclude_flag_states: tuple[str, ...] = ("confirmed",)
    embodiment: str = HAND22_EMBODIMENT  # retargets embodiment of the human episodes' joints
    # Also the view's human clips in no accepted pair, or whose pairs all drop (human pretraining data,
    # EgoScale's first stage); each is its own group for the split, with pair_id UNPAIRED.
    unpaired_human: bool = False
    fps: float | None = None  # export frame rate; None: the clips' (they must all agree)
    author: str = "export"  # recorded in the exports table and the audit log
    min_episode_s: float = 1.0  # seconds: a cut splits a clip into episodes at least this long, else keeps the longer
    trim_idle: bool = False  # also cut human clips' idle ends (every wrist slower than the idle metric's speed)
    trim_absent: bool = False  # also cut the frames where a hand a human clip tracks is not tracked
    # Write segment labels as subtasks (v3.0: LeRobot 0.6's language columns, which LeRobot 0.4 cannot read).
    subtasks: bool = True

    def __post_init__(self) -> None:
        """Check values; errors name the field."""
        if self.format not in FORMATS:
            raise ValueError(f"ExportConfig.format must be one of {FORMATS}, got {self.format!r}")
        if not EXPORT_NAME.match(Path(self.out_dir).name) or Path(self.out_dir).name in (".", ".."):
            raise ValueError(f"ExportConfig.out_dir must end in a plain folder name (letters, digits, . _ -), "
                             f"got {str(self.out_dir)!r}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"ExportConfig.validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"ExportConfig.fps must be > 0, got {self.fps}")
        if self.min_episode_s is None or not 0 <= self.min_episode_s < math.inf:
            raise ValueError(f"ExportConfig.min_episode_s must be a number of seconds >= 0, got {self.min_episode_s}")


@dataclass
class ExportPlan:
    """What an export will write, decided before anything is written."""

    view_name: str | None
    view_spec: dict  # the spec as saved (before flag exclusion)
    episodes: pd.DataFrame  # clip_id, frame_from, frame_to, kind, embodiment, task, pair_id, pair_ids, split, ...
    pairs: pd.DataFrame  # accepted pairs that go in: id, human_clip_id, robot_clip_id, cost, path, pair_id
    dropped_pairs: pd.DataFrame  # accepted pairs left out, with the reason
    excluded_flags: pd.DataFrame  # whole-clip flags that kept clips of the view out
    # Frames cut from the clips that go in: clip_id, frame_from, frame_to (half-open), frames, seconds,
    # reason (export_cuts.CUT_REASONS), flag_id.
    cuts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CUT_COLUMNS))
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)  # segment labels of those clips

    def cut_summary(self) -> pd.DataFrame:
        """Clips, frames and seconds cut per reason (the Export page's preview)."""
        if self.cuts.empty:
            return pd.DataFrame(columns=["reason", "clips", "frames", "seconds"])
        return self.cuts.groupby("reason", as_index=False).agg(
            clips=("clip_id", "nunique"), frames=("frames", "sum"), seconds=("seconds", "sum"))

    def summary(self) -> pd.DataFrame:
        """Episodes, frames and hours per task and embodiment."""
        if self.episodes.empty:
            return pd.DataFrame(columns=["task", "embodiment", "episodes", "frames", "hours"])
        grouped = self.episodes.groupby(["task", "embodiment"], as_index=False).agg(
            episodes=("clip_id", "size"), frames=("n_frames", "sum"), hours=("duration_s", "sum"))
        grouped["hours"] = grouped["hours"] / 3600.0
        return grouped.sort_values(["task", "embodiment"], ignore_index=True)


def resolve_view(root: Path, view_name: str | None) -> ViewSpec:
    return load_view(root, view_name) if view_name else ViewSpec()


def plan_export(root: Path, cfg: ExportConfig) -> ExportPlan:
    """Decide the episodes of an export (reads the catalog, writes nothing)."""
    engine = query_engine(root)
    spec = resolve_view(root, cfg.view_name)
    raw = accepted_pairs_in_view(engine, spec)
    solo = unpaired_human_clips(engine, spec, cfg.embodiment) if cfg.unpaired_human else []
    in_view = sorted(set(raw.loc[raw["human_in_view"], "human_clip_id"])
                     | set(raw.loc[raw["robot_in_view"], "robot_clip_id"]) | set(solo))
    flags = export_flags(engine, in_view, list(cfg.exclude_flag_states))
    whole = flags["frame_start"].isna()
    excluded, out = flags[whole], set(flags.loc[whole, "clip_id"])
    pairs = raw.copy()
    pairs["human_in_view"] &= ~pairs["human_clip_id"].isin(out)
    pairs["robot_in_view"] &= ~pairs["robot_clip_id"].isin(out)
    solo = [clip_id for clip_id in solo if clip_id not in out]
    # A human clip of the view whose accepted pairs all drop (its robot outside the view, flagged, unusable or
    # cut) is still human data: with `unpaired_human` it goes in unpaired.
    orphans = sorted(set(pairs.loc[pairs["human_in_view"], "human_clip_id"])
                     & clips_with_retargets(engine, cfg.embodiment)) if cfg.unpaired_human else []
    reasons = [_drop_reason(row, raw, usable) for row, usable in
               zip(pairs.itertuples(), _usable(engine, pairs, cfg.embodiment), strict=True)]
    # A boolean Series, not a list: with no accepted pair an empty list would select columns, not rows.
    candidates = pairs[pd.Series([r is None for r in reasons], index=pairs.index, dtype=bool)]
    clips = clips_by_id(engine, sorted(set(candidates["human_clip_id"]) | set(candidates["robot_clip_id"])
                                       | set(solo) | set(orphans))).set_index("clip_id")
    pieces, cuts = _pieces(engine, clips, flags[~whole], cfg)
    reasons = [r or (None if pieces.get(row.human_clip_id) and pieces.get(row.robot_clip_id)
                     else "every frame of a clip was cut") for r, row in zip(reasons, pairs.itertuples(), strict=True)]
    keep = pd.Series([r is None for r in reasons], index=pairs.index, dtype=bool)
    kept, dropped = pairs[keep].copy(), pairs[~keep].copy()
    dropped["reason"] = [r for r in reasons if r is not None]
    kept["pair_id"] = pair_groups(kept)
    member_ids = sorted(set(kept["human_clip_id"]) | set(kept["robot_clip_id"]))
    solo = sorted({*solo, *(set(orphans) - set(kept["human_clip_id"]))})
    solo = [clip_id for clip_id in solo if pieces.get(clip_id)]
    episodes = _episodes(engine, kept, member_ids, cfg, solo, clips, pieces)
    written = set(member_ids) | set(solo)
    return ExportPlan(view_name=cfg.view_name, view_spec=spec.to_dict(), episodes=episodes,
                      pairs=kept.drop(columns=["human_in_view", "robot_in_view"]),
                      dropped_pairs=dropped.drop(columns=["path"]), excluded_flags=excluded.drop(
                          columns=["frame_start", "frame_end", "hand"]).reset_index(drop=True),
                      cuts=cuts[cuts["clip_id"].isin(written)].reset_index(drop=True),
                      segments=segment_labels(engine, sorted(written)))


def _pieces(engine: object, clips: pd.DataFrame, span_flags: pd.DataFrame, cfg: ExportConfig
            ) -> tuple[dict[str, list[tuple[int, int]]], pd.DataFrame]:
    """Per clip, the source frame ranges that become episodes; and every frame range cut, with its reason."""
    pieces, records = {}, []
    flags_of = {clip_id: group.to_dict("records") for clip_id, group in span_flags.groupby("clip_id")}
    for clip_id, clip in clips.iterrows():
        n, fps = int(clip["n_frames"]), float(clip["fps"])
        cuts = flag_cuts(flags_of.get(clip_id, []), n) + _trims(engine, clip_id, clip, cfg)
        pieces[clip_id], short = kept_pieces(n, cuts, max(1, math.ceil(cfg.min_episode_s * fps - 1e-9)))
        records += [{"clip_id": clip_id, "frame_from": c.frame_from, "frame_to": c.frame_to, "frames": c.frames,
                     "seconds": c.frames / fps, "reason": c.reason, "flag_id": c.flag_id}
                    for c in merged_cuts(cuts, n) + short]
    # flag_id as a nullable int: beside a cut with no flag a float column would write the manifest's ids as 10.0
    return pieces, pd.DataFrame(records, columns=CUT_COLUMNS).astype({"flag_id": "Int64"})


def _trims(engine: object, clip_id: str, clip: pd.Series, cfg: ExportConfig) -> list[Cut]:
    """The idle-end and untracked-hand cuts of a human clip, as `cfg` asks (its retargets' wrists and hands)."""
    if clip["kind"] != "human" or not (cfg.trim_idle or cfg.trim_absent):
        return []
    n = int(clip["n_frames"])
    rows = retarget_rows(engine, [clip_id], cfg.embodiment)
    cuts = []
    if cfg.trim_idle:
        cuts += idle_end_cuts(human_state_62(rows, n)[0], float(clip["fps"]), MetricsConfig().idle_speed_m_s)
    if cfg.trim_absent:
        cuts += absent_cuts(tracked_hands(rows, n))
    return cuts


def _usable(engine: object, pairs: pd.DataFrame, embodiment: str) -> list[str | None]:
    """Per pair, why its clips cannot be written (None when they can): the human in the 62-D layout, the
    robot in its own (a robot of another layout goes to its own dataset: curation/export_mixture.py)."""
    retargeted = clips_with_retargets(engine, embodiment)
    robots = clips_by_id(engine, sorted(set(pairs["robot_clip_id"]))).set_index("clip_id")
    out = []
    for row in pairs.itertuples():
        names = robots["state_names"].get(row.robot_clip_id)
        width = len(json.loads(names) or []) if isinstance(names, str) else 0
        if row.human_clip_id not in retargeted:
            out.append(f"the human clip has no {embodiment} retargets")
        elif width == 0:
            out.append("the robot episode declares no state dimensions")
        else:
            out.append(None)
    return out


def _drop_reason(row: object, raw: pd.DataFrame, unusable: str | None) -> str | None:
    if not (row.human_in_view and row.robot_in_view):
        before = raw.set_index("id").loc[row.id]
        if not (before["human_in_view"] and before["robot_in_view"]):
            return "a clip is outside the view"
        return "a clip has an excluding flag"
    return unusable


def pair_groups(pairs: pd.DataFrame) -> list[int]:
    """The group of every pair: the smallest pair id connected to it through shared clips."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for row in pairs.itertuples():
        parent[find("h:" + row.human_clip_id)] = find("r:" + row.robot_clip_id)
    smallest: dict[str, int] = {}
    for row in pairs.itertuples():
        root = find("h:" + row.human_clip_id)
        smallest[root] = min(smallest.get(root, row.id), row.id)
    return [smallest[find("h:" + row.human_clip_id)] for row in pairs.itertuples()]


def split_of(member_clip_ids: list[str], validation_fraction: float) -> str:
    """`validation` for a stable hash share of groups, else `train` (the same group always lands the same)."""
    digest = hashlib.sha256("\n".join(sorted(member_clip_ids)).encode()).digest()
    return "validation" if int.from_bytes(digest[:8], "big") / 2 ** 64 < validation_fraction else "train"


def _episodes(engine: object, kept: pd.DataFrame, member_ids: list[str], cfg: ExportConfig,
              solo: list[str], clips: pd.DataFrame, pieces: dict[str, list[tuple[int, int]]]) -> pd.DataFrame:
    columns = ["clip_id", "frame_from", "frame_to", "kind", "embodiment", "task", "pair_id", "pair_ids", "split",
               "n_frames", "clip_n_frames", "fps", "duration_s", "path", "video_from_s", "robot_type", "state_names"]
    if not member_ids and not solo:
        return pd.DataFrame(columns=columns)
    tasks = pairing_clips(engine).set_index("clip_id")["task"]  # a curator's corrected task wins
    specs = clip_embodiment_names(engine, member_ids)  # a robot's embodiment spec names its embodiment
    groups: dict[int, list[str]] = {}
    pair_ids: dict[str, list[int]] = {}
    group_of: dict[str, int] = {}
    for row in kept.itertuples():
        for clip_id in (row.human_clip_id, row.robot_clip_id):
            groups.setdefault(row.pair_id, []).append(clip_id)
            pair_ids.setdefault(clip_id, []).append(int(row.id))
            group_of[clip_id] = int(row.pair_id)
    for index, clip_id in enumerate(solo, start=1):  # one group each, keyed below every pair id
        groups[-index], pair_ids[clip_id], group_of[clip_id] = [clip_id], [], -index
    split = {g: split_of(ids, cfg.validation_fraction) for g, ids in groups.items()}
    _ensure_both_splits(split, cfg.validation_fraction)
    rows = []
    for clip_id in member_ids + solo:
        clip = clips.loc[clip_id]
        human = clip["kind"] == "human"
        for frame_from, frame_to in pieces[clip_id]:
            rows.append({"clip_id": clip_id, "frame_from": frame_from, "frame_to": frame_to, "kind": clip["kind"],
                         "embodiment": HUMAN_EMBODIMENT if human else (specs.get(clip_id) or clip["robot_type"]
                                                                       or "robot"),
                         "task": episode_task(tasks.get(clip_id)),
                         "pair_id": max(group_of[clip_id], UNPAIRED), "pair_ids": sorted(pair_ids[clip_id]),
                         "split": split[group_of[clip_id]], "n_frames": frame_to - frame_from,
                         "clip_n_frames": int(clip["n_frames"]),
                         "fps": float(clip["fps"]), "duration_s": (frame_to - frame_from) / float(clip["fps"]),
                         "path": clip["path"],
                         "video_from_s": float(clip["video_from_s"]) if pd.notna(clip["video_from_s"]) else 0.0,
                         "robot_type": clip["robot_type"], "state_names": clip["state_names"]})
    frame = pd.DataFrame(rows, columns=columns)
    # Train groups first, then validation, so each split is one `start:end` range of episode indices.
    frame["order"] = (frame["split"] == "validation").astype(int)
    return frame.sort_values(["order", "pair_id", "kind", "clip_id", "frame_from"],
                             ignore_index=True).drop(columns="order")


def episode_task(text: object) -> str:
    """The task an episode is written with: the clip's text, or `NO_TASK_PLACEHOLDER` when it has none."""
    return text.strip() if has_task_text(text) else NO_TASK_PLACEHOLDER


def _ensure_both_splits(split: dict[int, str], fraction: float) -> None:
    """With two groups or more and a non-zero fraction, hold out at least one group and train on one."""
    if len(split) < 2 or fraction <= 0:
        return
    ordered = sorted(split)
    if all(s == "train" for s in split.values()):
        split[ordered[-1]] = "validation"
    elif all(s == "validation" for s in split.values()):
        split[ordered[0]] = "train"


def preview_export(root: Path, view_name: str | None, unpaired_human: bool = False, min_episode_s: float = 1.0,
                   trim_idle: bool = False, trim_absent: bool = False) -> ExportPlan:
    """The plan of an export of `view_name` (what the Export page shows before anything is written)."""
    return plan_export(root, ExportConfig(out_dir=Path("preview"), view_name=view_name, unpaired_human=unpaired_human,
                                          min_episode_s=min_episode_s, trim_idle=trim_idle, trim_absent=trim_absent))


def default_out_dir(root: Path, view_name: str | None, fmt: str) -> Path:
    """`<root>/exports/<view>-<format>`: where the Export page suggests writing."""
    # EXPORT_NAME wants a letter or digit first: a view named "_x" or "☕ x" must still give a valid folder.
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", view_name or "all").strip("-._")[:100] or "all"
    return root / paths.EXPORTS_DIR / f"{stem}-{fmt}"


def split_ranges(episodes: pd.DataFrame) -> dict[str, str]:
    """LeRobot `splits` of one dataset: each split one `start:end` range (a plan puts train episodes first)."""
    out, start = {}, 0
    for name in ("train", "validation"):
        count = int((episodes["split"] == name).sum())
        if count:
            out[name] = f"{start}:{start + count}"
            start += count
    return out
