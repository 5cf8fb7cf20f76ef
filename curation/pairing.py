"""Human-robot pairs: candidates by task, DTW alignment, proposals in the annotation store (`egocurate pair`).

    report = run_pairing(root, PairConfig())          # propose + align every candidate pair
    report.frame                                      # one row per candidate: similarity, cost, outcome

1. Candidates: every (human clip, robot episode) whose normalised task texts are similar enough
   (token-set Jaccard after lower-casing, dropping stop words and plural/verb endings; plus the
   cosine of a sentence-embedding model when one is installed locally, see `load_task_embedder`).
2. Trajectories: a robot episode with an embodiment spec (`labeling.embodiment`) is compared in its
   own hand space (`curation.hand_space`): the spec's joints in radians (plus wrist motion when the
   spec names wrists) against human clips retargeted to that robot's hand. A robot without a spec
   whose state is the built-in 62-D layout is compared with the human clip's `retargets` rows for
   `PairConfig.embodiment` (22 joint angles and the camera-frame wrist pose per hand).
3. `curation.align.align_sequences`: banded, subsequence DTW. The cost is the RMS distance per joint
   and path step (radians), so hands of any number of joints share one threshold: pairs costlier than
   `max_cost` are not proposed (`too_costly`), nor are pairs whose path collapses one side (`degenerate`:
   the matched human stretch and the robot episode last more than `1 / min_speed_ratio` times apart).
   A candidate that cannot be aligned (no retargets, a robot with another state layout and no spec, clips
   too short or too different in length for the band) is still proposed on its task alone, with no cost and
   no path; `note` says why, or why one was not proposed. A clip without task text (`None` or blank: raw
   video nobody described yet) is never a candidate, whatever the threshold; a curator pairs it by hand
   (`curation.manual_pairs`).

The defaults were measured on the shared EgoDex clips retargeted to Inspire, Allegro and Ability
hands, against robot episodes built from the same motion (time-warped 0.8-1.5x, plus 0.05-0.1 rad noise,
a 0.1 rad offset, 50-70% of the amplitude or a 5-frame lag): every true pair costs at most 0.10 and
keeps a speed ratio of 0.32 or more. Robot episodes built from another clip's motion cost 0.127 or more
(Allegro; 0.18 on Inspire) and all but none collapse to a ratio under 0.2; the GR00T PickNPlace episodes
against EgoDex cost 0.49 or more. On the synthetic demo (62-D layout) the replayed takes cost at most
0.022 and wrong-task pairs 0.109 or more.
4. `curation.pair_store.sync_proposals` writes the proposals; curators' decisions are never touched.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from db.engine import query_engine
from db.queries.clips import pairing_clips
from db.queries.frames import robot_state_rows
from db.queries.retargets import retarget_rows
from labeling.embodiment.store import episode_specs

from .action_layout import (
    HAND22_EMBODIMENT,
    SIDES,
    STATE_WIDTH,
    WRIST_POSE_DIMS,
    fill_gaps,
    layout_from_retarget_order,
    rest_hand,
)
from .align import AlignConfig, Alignment, align_sequences, align_states
from .hand_space import spec_sequences
from .pair_store import PairProposal, SyncReport, sync_proposals

STOP_WORDS = frozenset({"a", "an", "the", "of", "on", "in", "into", "onto", "to", "from", "with", "and", "or", "it",
                        "its", "at", "by", "for", "up", "then", "this", "that"})
TASK_MODEL_ENV = "EGOCURATE_TASK_MODEL"  # a local sentence-transformers model folder, optional
Embedder = Callable[[Sequence[str]], npt.NDArray[np.float64]]  # texts -> (N, D) unit vectors


@dataclass(frozen=True)
class PairConfig:
    """What `egocurate pair` proposes."""

    min_task_similarity: float = 0.5  # candidate pairs need at least this task similarity, in [0, 1]
    max_cost: float = 0.1  # aligned pairs costlier than this (RMS per joint and path step, rad) are not proposed
    min_speed_ratio: float = 0.2  # shorter / longer of the matched human stretch and the robot episode (seconds)
    embodiment: str = HAND22_EMBODIMENT  # retargets embodiment compared with the robot's joints
    align: AlignConfig = field(default_factory=AlignConfig)  # the DTW settings

    def __post_init__(self) -> None:
        """Check ranges; errors name the field."""
        if not 0.0 <= self.min_task_similarity <= 1.0:
            raise ValueError(f"PairConfig.min_task_similarity must be in [0, 1], got {self.min_task_similarity}")
        if not self.max_cost > 0:
            raise ValueError(f"PairConfig.max_cost must be > 0, got {self.max_cost}")
        if not 0.0 <= self.min_speed_ratio <= 1.0:
            raise ValueError(f"PairConfig.min_speed_ratio must be in [0, 1], got {self.min_speed_ratio}")
        if not self.embodiment:
            raise ValueError("PairConfig.embodiment must name a retargets embodiment")


def _stem(token: str) -> str:
    for suffix in ("ing", "ed", "s"):
        if len(token) > len(suffix) + 2 and token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def has_task_text(text: object) -> bool:
    """Whether a clip has task text to compare: a string with more than white space (None is absent)."""
    return isinstance(text, str) and bool(text.strip())


def task_tokens(text: str | None) -> frozenset[str]:
    """Normalised content words of a task text: lower case, no punctuation or stop words, crude stems.

    An absent text (None, or anything that is not a string) has no words.
    """
    words = re.findall(r"[a-z0-9]+", text.lower()) if isinstance(text, str) else []
    return frozenset(_stem(w) for w in words if w not in STOP_WORDS)


def task_similarity(a: str | None, b: str | None) -> float:
    """Jaccard similarity of the two texts' `task_tokens`, in [0, 1] (0 when either is empty)."""
    ta, tb = task_tokens(a), task_tokens(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def load_task_embedder(model_dir: str | None = None) -> Embedder | None:
    """A sentence-embedding function from a locally installed model, or None when there is none.

    Looks at `model_dir`, else `$EGOCURATE_TASK_MODEL`; never downloads (offline flags are set).
    """
    model_dir = model_dir or os.environ.get(TASK_MODEL_ENV)
    if not model_dir:
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_dir, local_files_only=True)
    except (ImportError, OSError, ValueError):
        return None
    return lambda texts: np.asarray(model.encode(list(texts), normalize_embeddings=True), dtype=np.float64)


def similarity_matrix(human_tasks: Sequence[str | None], robot_tasks: Sequence[str | None],
                      embedder: Embedder | None = None) -> npt.NDArray[np.float64]:
    """`(H, R)` task similarity: the token Jaccard, or the embedding cosine where that is higher."""
    text = np.array([[task_similarity(h, r) for r in robot_tasks] for h in human_tasks], dtype=np.float64)
    if embedder is None or not len(human_tasks) or not len(robot_tasks):
        return text.reshape(len(human_tasks), len(robot_tasks))
    eh = embedder([h or "" for h in human_tasks])
    er = embedder([r or "" for r in robot_tasks])
    return np.maximum(text, np.clip(eh @ er.T, 0.0, 1.0))


def candidate_pairs(clips: pd.DataFrame, min_similarity: float, embedder: Embedder | None = None) -> pd.DataFrame:
    """(human_clip_id, robot_clip_id, task_similarity) of every pair at or above `min_similarity`.

    Clips without task text are left out first: a threshold of 0 (or an embedding of the empty
    string) must not pair every silent clip with every robot episode.
    """
    described = clips[[has_task_text(t) for t in clips["task"]]] if len(clips) else clips
    humans, robots = described[described["kind"] == "human"], described[described["kind"] == "robot"]
    sims = similarity_matrix(humans["task"].tolist(), robots["task"].tolist(), embedder)
    hi, ri = np.nonzero(sims >= min_similarity)
    return pd.DataFrame({"human_clip_id": humans["clip_id"].to_numpy()[hi],
                         "robot_clip_id": robots["clip_id"].to_numpy()[ri],
                         "task_similarity": sims[hi, ri]})


def human_state_62(rows: pa.Table, n_frames: int) -> tuple[npt.NDArray[np.float64], int]:
    """`(n_frames, 62)` state of a human clip from its `retargets` rows (one clip, one embodiment).

    Frames a hand was not retargeted are interpolated from its neighbours; a hand never retargeted
    rests (no wrist motion, joints at zero). Returns the state and the number of filled hand-frames.

    Raises:
        ValueError: a row's `q_rad` is not 22 angles or its `wrist_pose` not 9 floats.
    """
    state, filled = np.zeros((n_frames, STATE_WIDTH)), 0
    hands = rows.column("hand").to_numpy(zero_copy_only=False)
    for h, side in enumerate(SIDES):
        mine = rows.filter(pa.array(hands == side))
        if mine.num_rows == 0 or mine.column("q_rad").null_count == mine.num_rows:  # never seen: it rests
            state[:, h * 31:(h + 1) * 31] = rest_hand(n_frames)
            filled += n_frames
            continue
        hand, valid = np.full((n_frames, 31), np.nan), np.zeros(n_frames, bool)
        frames = mine.column("frame_index").to_numpy()
        keep = (frames >= 0) & (frames < n_frames)
        wrist = _fixed_rows(mine.column("wrist_pose"), WRIST_POSE_DIMS, "wrist_pose")[keep]
        joints = _fixed_rows(mine.column("q_rad"), 22, "q_rad")[keep][:, layout_from_retarget_order(side)]
        hand[frames[keep], :9], hand[frames[keep], 9:] = wrist, joints
        valid[frames[keep]] = True
        hand, missing = fill_gaps(hand, valid)
        state[:, h * 31:(h + 1) * 31], filled = hand, filled + missing
    return state, filled


def _fixed_rows(column: pa.ChunkedArray, width: int, name: str) -> npt.NDArray[np.float64]:
    values = column.to_pylist()
    bad = next((v for v in values if v is not None and len(v) != width), None)
    if bad is not None:
        raise ValueError(f"retargets.{name} must hold {width} values per row, got {len(bad)}")
    return np.array([v if v is not None else [np.nan] * width for v in values], dtype=np.float64).reshape(-1, width)


def robot_state(rows: pa.Table) -> npt.NDArray[np.float64] | None:
    """`(T, D)` state of one robot episode from its `robot_frames` rows, or None without states.

    Frames stored without a state (NaN at ingest) are interpolated from their neighbours; an episode
    with no state at all (video-only) or with vectors of different widths has none.
    """
    values = rows.column("state").to_pylist()
    present = [v for v in values if v is not None]
    if not present or len({len(v) for v in present}) != 1:
        return None
    valid = np.array([v is not None for v in values])
    matrix = np.full((len(values), len(present[0])), np.nan)
    matrix[valid] = np.asarray(present, dtype=np.float64)
    return fill_gaps(matrix, valid)[0]


@dataclass
class PairReport:
    """What `run_pairing` did."""

    frame: pd.DataFrame  # one row per candidate: ids, task_similarity, cost, human_start/end, outcome, note, tasks
    sync: SyncReport  # what changed in the store
    embedder_used: bool  # whether a local embedding model helped with task similarity

    @property
    def proposed(self) -> int:
        return int((self.frame["outcome"] == "proposed").sum()) if len(self.frame) else 0


def run_pairing(root: Path, cfg: PairConfig = PairConfig(), actor: str = "pairing",
                embedder: Embedder | None = None, progress: bool = False) -> PairReport:
    """Propose and align human-robot pairs over the whole catalog and sync them into the store."""
    engine = query_engine(root)
    clips = pairing_clips(engine)
    embedder = embedder if embedder is not None else load_task_embedder()
    candidates = candidate_pairs(clips, cfg.min_task_similarity, embedder)
    info = clips.set_index("clip_id")
    robot_ids = candidates["robot_clip_id"].unique().tolist()
    robot_states = _robot_states(engine, robot_ids)
    specs = episode_specs(engine, robot_ids)
    spec_pairs = [(h, r) for h, r in zip(candidates["human_clip_id"], candidates["robot_clip_id"], strict=True)
                  if r in specs]
    spaced = spec_sequences(root, engine, spec_pairs, info["n_frames"].astype(int).to_dict(), specs,
                            {r: _names(info.loc[r, "state_names"]) for r in specs}, robot_states)
    plain = candidates[~candidates["robot_clip_id"].isin(list(specs))]
    human_states = _human_states(engine, plain["human_clip_id"].unique().tolist(), info, cfg.embodiment)
    records, proposals = [], []
    iterator = candidates.itertuples(index=False)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(candidates), desc="egocurate pair", unit="pair")
    for row in iterator:
        key = (row.human_clip_id, row.robot_clip_id)
        fps = (_fps(info.loc[row.human_clip_id, "fps"]), _fps(info.loc[row.robot_clip_id, "fps"]))
        if key in spaced:
            record, alignment = _align_spaced(row, spaced[key], cfg, fps)
        else:
            record, alignment = _align_one(row, human_states.get(row.human_clip_id),
                                           robot_states.get(row.robot_clip_id), cfg, fps)
        records.append(record)
        if record["outcome"] == "proposed":
            proposals.append(PairProposal(row.human_clip_id, row.robot_clip_id, float(row.task_similarity),
                                          alignment.cost if alignment else None,
                                          alignment.as_pairs() if alignment else None))
    sync = sync_proposals(root, proposals, actor)
    frame = pd.DataFrame(records, columns=["human_clip_id", "robot_clip_id", "task_similarity", "cost",
                                           "human_start", "human_end", "outcome", "note"])
    frame["human_task"] = info["task"].reindex(frame["human_clip_id"]).to_numpy()
    frame["robot_task"] = info["task"].reindex(frame["robot_clip_id"]).to_numpy()
    return PairReport(frame=frame, sync=sync, embedder_used=embedder is not None)


def _fps(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and value == value and value > 0 else 0.0


def _names(value: object) -> list[str] | None:
    names = json.loads(value) if isinstance(value, str) else None
    return [str(n) for n in names] if isinstance(names, list) else None


def speed_ratio(alignment: Alignment, fps: tuple[float, float]) -> tuple[float, float, float]:
    """(shorter / longer duration, matched human seconds, robot seconds) of an alignment; `fps` is (human, robot).

    A frame rate that is unknown (0) counts as the other side's, so frame counts are compared.
    """
    fps_h, fps_r = fps
    fps_h, fps_r = (fps_h or fps_r or 1.0), (fps_r or fps_h or 1.0)
    human_s = (alignment.human_end - alignment.human_start + 1) / fps_h
    robot_s = (int(alignment.path[:, 1].max()) + 1) / fps_r
    return min(human_s, robot_s) / max(human_s, robot_s), human_s, robot_s


def _record(row: object, alignment: Alignment | None, cfg: PairConfig, note: str | None = None,
            fps: tuple[float, float] = (0.0, 0.0)) -> dict:
    record = {"human_clip_id": row.human_clip_id, "robot_clip_id": row.robot_clip_id,
              "task_similarity": float(row.task_similarity), "cost": None, "human_start": None, "human_end": None,
              "outcome": "proposed", "note": note}
    if alignment is None:
        return record
    outcome, note = judge_alignment(alignment, cfg, fps)
    return record | {"cost": alignment.cost, "human_start": alignment.human_start, "human_end": alignment.human_end,
                     "outcome": outcome, "note": note}


def judge_alignment(alignment: Alignment, cfg: PairConfig, fps: tuple[float, float]) -> tuple[str, str | None]:
    """`proposed`, `degenerate` or `too_costly`, and why not proposed; `fps` is (human, robot)."""
    ratio, human_s, robot_s = speed_ratio(alignment, fps)
    if ratio < cfg.min_speed_ratio:  # a path that collapses one side matches nothing, however cheap
        return "degenerate", (f"the warping path collapses one side: robot frames 0-{int(alignment.path[:, 1].max())} "
                              f"({robot_s:.1f} s) onto human frames {alignment.human_start}-{alignment.human_end} "
                              f"({human_s:.1f} s), speed ratio {ratio:.2f} < {cfg.min_speed_ratio:g}")
    if alignment.cost > cfg.max_cost:
        return "too_costly", f"cost {alignment.cost:.3f} > max {cfg.max_cost:g} (rad per joint)"
    return "proposed", None


def _align_spaced(row: object, item: tuple | str, cfg: PairConfig, fps: tuple[float, float]
                  ) -> tuple[dict, Alignment | None]:
    """A robot with a spec: aligned in its hand space, or proposed on its task alone with the reason."""
    if isinstance(item, str):
        return _record(row, None, cfg, item), None
    space, human, robot = item
    if len(human) < 2 or len(robot) < 2:
        return _record(row, None, cfg, "a clip has fewer than 2 frames"), None
    try:
        alignment = align_sequences(human, robot, space.features, cfg.align)
    except ValueError as exc:  # too short or too different in length for the band: proposed on its task alone
        return _record(row, None, cfg, f"cannot be aligned ({exc})"), None
    return _record(row, alignment, cfg, fps=fps), alignment


def _align_one(row: object, human: npt.NDArray[np.float64] | None, robot: npt.NDArray[np.float64] | None,
               cfg: PairConfig, fps: tuple[float, float]) -> tuple[dict, Alignment | None]:
    if robot is None or robot.shape[1] != STATE_WIDTH:  # first: retargets alone would not fix it
        width = "no" if robot is None else f"a {robot.shape[1]}-D"
        return _record(row, None, cfg, f"the robot episode has {width} state and no embodiment spec "
                                       f"(egocurate embodiment set SPEC.yml --clips ID)"), None
    if human is None:  # "unaligned: no retargets" shows as a null cost
        return _record(row, None, cfg, f"the human clip has no {cfg.embodiment} retargets"), None
    try:
        alignment = align_states(human, robot, cfg.align)
    except ValueError as exc:  # too short or too different in length for the band: proposed on its task alone
        return _record(row, None, cfg, f"cannot be aligned ({exc})"), None
    return _record(row, alignment, cfg, fps=fps), alignment


def _human_states(engine: object, clip_ids: list[str], info: pd.DataFrame, embodiment: str
                  ) -> dict[str, npt.NDArray[np.float64]]:
    rows = retarget_rows(engine, clip_ids, embodiment)
    ids = rows.column("clip_id").to_numpy(zero_copy_only=False)
    states = {}
    for clip_id in np.unique(ids):
        mine = rows.filter(pa.array(ids == clip_id))
        try:
            states[str(clip_id)], _ = human_state_62(mine, int(info.loc[clip_id, "n_frames"]))
        except ValueError:  # retargets of another joint layout under this name: the clip stays unaligned
            continue
    return states


def _robot_states(engine: object, clip_ids: list[str]) -> dict[str, npt.NDArray[np.float64]]:
    rows = robot_state_rows(engine, clip_ids)
    ids = rows.column("clip_id").to_numpy(zero_copy_only=False)
    states = {}
    for clip_id in np.unique(ids):
        state = robot_state(rows.filter(pa.array(ids == clip_id)))
        if state is not None:
            states[str(clip_id)] = state
    return states


def report_json(report: PairReport) -> str:
    """The CLI's one-line summary as JSON."""
    costs = report.frame["cost"].dropna()
    return json.dumps({"candidates": len(report.frame), "proposed": report.proposed,
                       "aligned": int(costs.size), "too_costly": int((report.frame["outcome"] == "too_costly").sum()),
                       "degenerate": int((report.frame["outcome"] == "degenerate").sum()),
                       "created": report.sync.created, "updated": report.sync.updated, "kept": report.sync.kept,
                       "withdrawn": report.sync.withdrawn, "embedder": report.embedder_used})
