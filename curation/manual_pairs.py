"""Pairs a curator makes by hand: a human clip and a robot episode task similarity cannot pair (no task text).

    choices = hand_pair_choices(engine)                               # the Pairs page's two pickers
    record = pair_by_hand(root, human_clip_id, robot_clip_id, actor)  # stored accepted, aligned if it can be

`egocurate pair` proposes only clips whose task texts agree, so a raw video nobody described is
never proposed; here a curator pairs it with the robot episode they know it matches. The pair is
stored `accepted` (it is their decision) with the DTW alignment when both clips have what alignment
needs (the human clip's egocurate_hand22 retargets and a 62-D robot state), so the Pairs page plays
it in sync and exports take it like any accepted pair; re-pairing never withdraws it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from db.engine import QueryEngine, query_engine
from db.queries.clips import clips_by_id, pairing_clips
from db.queries.frames import robot_state_rows
from db.queries.retargets import retarget_rows

from .action_layout import HAND22_EMBODIMENT, STATE_WIDTH
from .align import AlignConfig, align_states
from .pair_store import PairProposal, PairRecord, add_decided_pair
from .pairing import has_task_text, human_state_62, robot_state, task_similarity

NO_TASK = "(no task text)"  # how a clip without task text is listed


def hand_pair_choices(engine: QueryEngine) -> dict[str, pd.DataFrame]:
    """Human clips and robot episodes a curator can pair, clips without task text first.

    Returns {"human": ..., "robot": ...}, each with clip_id, task, label (what a picker shows).
    """
    clips = pairing_clips(engine)
    out = {}
    for kind in ("human", "robot"):
        mine = clips[clips["kind"] == kind].copy()
        described = [has_task_text(t) for t in mine["task"]]
        mine["described"] = described
        mine["label"] = [f"{(t if d else NO_TASK)[:60]} · {s or ''} · {c}" for t, d, s, c in
                         zip(mine["task"], described, mine["task_slug"], mine["clip_id"], strict=True)]
        out[kind] = mine.sort_values(["described", "clip_id"]).loc[:, ["clip_id", "task", "label"]].reset_index(
            drop=True)
    return out


def pair_by_hand(root: Path, human_clip_id: str, robot_clip_id: str, actor: str, reason: str | None = None,
                 align: AlignConfig | None = None) -> PairRecord:
    """Pair a human clip with a robot episode as a curator's decision (accepted), aligned when possible.

    Raises:
        ValueError: an unknown clip, the wrong kinds, no actor, or the two are a pair already.
    """
    engine = query_engine(root)
    clips = clips_by_id(engine, [human_clip_id, robot_clip_id]).set_index("clip_id")
    for clip_id, kind in ((human_clip_id, "human"), (robot_clip_id, "robot")):
        if clip_id not in clips.index:
            raise ValueError(f"no clip with id {clip_id!r} in the catalog")
        if clips.at[clip_id, "kind"] != kind:
            raise ValueError(f"clip {clip_id} is a {clips.at[clip_id, 'kind']} clip, not a {kind} one")
    tasks = pairing_clips(engine).set_index("clip_id")["task"]
    similarity = task_similarity(tasks.get(human_clip_id), tasks.get(robot_clip_id))
    cost, path = None, None
    rows = retarget_rows(engine, [human_clip_id], HAND22_EMBODIMENT)
    robot = robot_state(robot_state_rows(engine, [robot_clip_id]))
    if rows.num_rows and robot is not None and robot.shape[1] == STATE_WIDTH:
        human, _ = human_state_62(rows, int(clips.at[human_clip_id, "n_frames"]))
        try:
            alignment = align_states(human, robot, align or AlignConfig())
            cost, path = alignment.cost, alignment.as_pairs()
        except ValueError:  # lengths the band cannot join: the pair stands, unaligned
            pass
    proposal = PairProposal(human_clip_id, robot_clip_id, similarity, cost, path)
    return add_decided_pair(root, proposal, "accepted", actor, reason)
