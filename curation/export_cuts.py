"""Which frames of a clip an export keeps: cut flagged spans, trim idle ends and untracked spans, split.

    cuts = flag_cuts(flags, n_frames) + idle_end_cuts(state, fps, idle_speed_m_s) + absent_cuts(tracked)
    pieces, dropped = kept_pieces(n_frames, cuts, min_frames)   # [(from, to), ...] half-open source frames
    remap_path(path, human_pieces, robot_pieces)                # a pair's DTW path on the episodes kept

Pure: arrays and rows in, frame ranges out (`export_plan` reads the store). The rules:
- a confirmed flag with a frame range removes frames `frame_start..frame_end` (inclusive; a hand's flag
  too: an episode holds both hands); a whole-clip flag is not a cut, it keeps the clip out (`export_plan`);
- `trim idle`: the leading and trailing frames where every hand's wrist is slower than the idle metric's
  `idle_speed_m_s` (curation.metrics: the wrist speed between two frames);
- `trim absent`: frames where a hand the clip tracks somewhere is not tracked (what the export would
  otherwise interpolate);
- the frames left form runs; every run of at least `min_frames` becomes its own episode (a cut inside
  a clip splits it), and when none is that long the longest run alone is kept (first on a tie).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from .action_layout import SIDES, hand_slices

CUT_REASONS = ("flag", "idle", "absent", "short")  # why frames leave an export ("short": a too-short piece)


@dataclass(frozen=True)
class Cut:
    """Frames `[frame_from, frame_to)` of a clip removed from its export, and why."""

    frame_from: int
    frame_to: int
    reason: str  # one of CUT_REASONS
    flag_id: int | None = None  # the flag behind a `flag` cut

    @property
    def frames(self) -> int:
        return self.frame_to - self.frame_from

    def record(self) -> dict[str, object]:
        """JSON-able, for the manifest."""
        return {"frames": [self.frame_from, self.frame_to], "reason": self.reason,
                **({"flag_id": self.flag_id} if self.flag_id is not None else {})}


def flag_cuts(flags: Iterable[dict], n_frames: int) -> list[Cut]:
    """One cut per flag with a frame range (`frame_start`..`frame_end` inclusive), clamped to the clip."""
    out = []
    for flag in flags:
        start, end = flag.get("frame_start"), flag.get("frame_end")
        if start is None or end is None or start != start or end != end:  # NaN: a whole-clip flag
            continue
        lo, hi = max(0, int(start)), min(n_frames, int(end) + 1)
        if hi > lo:
            out.append(Cut(lo, hi, "flag", int(flag["id"])))
    return out


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open `[from, to)` runs of True in a 1-D mask."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def wrist_speeds_m_s(state: npt.ArrayLike, fps: float) -> npt.NDArray[np.float64]:
    """`(T, 2)` speed of each wrist (62-D layout, metres) between a frame and the one before; row 0 is row 1's."""
    s = np.asarray(state, dtype=np.float64)
    if len(s) < 2:
        return np.zeros((len(s), len(SIDES)))
    steps = np.stack([np.linalg.norm(np.diff(s[:, hand_slices(h)[0]], axis=0), axis=1) * fps
                      for h in range(len(SIDES))], axis=1)
    return np.concatenate([steps[:1], steps], axis=0)


def idle_end_cuts(state: npt.ArrayLike, fps: float, idle_speed_m_s: float) -> list[Cut]:
    """The idle run at each end of a clip: frames where every wrist moves slower than `idle_speed_m_s`."""
    idle = (wrist_speeds_m_s(state, fps) < idle_speed_m_s).all(axis=1)
    n = len(idle)
    if n == 0 or idle.all():
        return [Cut(0, n, "idle")] if n else []
    first, last = int(np.argmin(idle)), n - int(np.argmin(idle[::-1]))
    return [c for c in (Cut(0, first, "idle"), Cut(last, n, "idle")) if c.frames > 0]


def tracked_hands(rows: pa.Table, n_frames: int) -> npt.NDArray[np.bool_]:
    """`(n_frames, 2)`: whether each hand (left, right) has a retarget at each frame (`retargets` rows of one clip)."""
    out = np.zeros((n_frames, len(SIDES)), bool)
    hands = rows.column("hand").to_pylist()
    frames = rows.column("frame_index").to_pylist()
    q_rad, wrist = rows.column("q_rad").to_pylist(), rows.column("wrist_pose").to_pylist()
    for hand, frame, q, pose in zip(hands, frames, q_rad, wrist, strict=True):
        if hand in SIDES and frame is not None and 0 <= frame < n_frames and q is not None and pose is not None:
            out[frame, SIDES.index(hand)] = True
    return out


def absent_cuts(tracked: npt.ArrayLike) -> list[Cut]:
    """Cuts where a hand is not tracked: `tracked` is `(T, hands)`; hands never tracked do not count."""
    mask = np.asarray(tracked, dtype=bool).reshape(len(tracked), -1)
    seen = mask.any(axis=0)
    if not seen.any():
        return []
    missing = ~mask[:, seen].all(axis=1)
    return [Cut(a, b, "absent") for a, b in _runs(missing)]


def kept_pieces(n_frames: int, cuts: Iterable[Cut], min_frames: int) -> tuple[list[tuple[int, int]], list[Cut]]:
    """The episodes a clip becomes, `[(from, to), ...]` in source frames, and the runs dropped as too short.

    Every run of kept frames at least `min_frames` long is an episode; with none that long, the
    longest run alone is kept. Nothing is kept when the cuts cover the whole clip.
    """
    keep = np.ones(n_frames, bool)
    for cut in cuts:
        keep[max(0, cut.frame_from):min(n_frames, cut.frame_to)] = False
    runs = _runs(keep)
    pieces = [r for r in runs if r[1] - r[0] >= min_frames]
    if not pieces and runs:
        pieces = [max(runs, key=lambda r: (r[1] - r[0], -r[0]))]
    dropped = [Cut(a, b, "short") for a, b in runs if (a, b) not in pieces]
    return pieces, dropped


def merged_cuts(cuts: Iterable[Cut], n_frames: int) -> list[Cut]:
    """The cuts with each frame counted once, for the first reason in CUT_REASONS that cuts it."""
    reason = np.full(n_frames, len(CUT_REASONS))
    flag = np.full(n_frames, -1)
    for cut in sorted(cuts, key=lambda c: CUT_REASONS.index(c.reason), reverse=True):  # first reason last: it wins
        span = slice(max(0, cut.frame_from), min(n_frames, cut.frame_to))
        reason[span] = CUT_REASONS.index(cut.reason)
        flag[span] = -1 if cut.flag_id is None else cut.flag_id
    out = []
    for code, name in enumerate(CUT_REASONS):
        for flag_id in np.unique(flag[reason == code]):
            for a, b in _runs((reason == code) & (flag == flag_id)):
                out.append(Cut(a, b, name, None if flag_id < 0 else int(flag_id)))
    return sorted(out, key=lambda c: (c.frame_from, c.reason))


def piece_of(frame: int, pieces: list[tuple[int, int]]) -> int | None:
    """Which piece holds source frame `frame` (its position in `pieces`), or None when it was cut."""
    for position, (lo, hi) in enumerate(pieces):
        if lo <= frame < hi:
            return position
    return None


def remap_path(path: list[list[int]] | None, human_pieces: list[tuple[int, int]],
               robot_pieces: list[tuple[int, int]]) -> dict[tuple[int, int], list[list[int]]]:
    """A DTW path `[[human_frame, robot_frame], ...]` on the frames kept: for each (human piece, robot piece)
    that some step falls in, that step's frames inside those two episodes. Steps on a cut frame go."""
    out: dict[tuple[int, int], list[list[int]]] = {}
    for human, robot in path or []:
        h, r = piece_of(int(human), human_pieces), piece_of(int(robot), robot_pieces)
        if h is not None and r is not None:
            out.setdefault((h, r), []).append([int(human) - human_pieces[h][0], int(robot) - robot_pieces[r][0]])
    return out


# Per clip, its episodes: (a reference to the episode: its index, or {dataset, episode} in a mixture,
# first source frame, end source frame).
EpisodesOfClip = dict[str, list[tuple[object, int, int]]]


def pair_parts(pairs: pd.DataFrame, episodes_of_clip: EpisodesOfClip) -> Iterator[tuple[object, object, object, list]]:
    """For each accepted pair (a row of `ExportPlan.pairs`) and each (human episode, robot episode) its warping
    path crosses: the row, both episode references and the path's steps in those episodes' frames (a pair
    without a path: every combination, path None; a path crossing nothing kept: the first two, no steps)."""
    for row in pairs.itertuples():
        human, robot = episodes_of_clip[row.human_clip_id], episodes_of_clip[row.robot_clip_id]
        path = json.loads(row.path) if isinstance(row.path, str) else None
        parts = (remap_path(path, [e[1:] for e in human], [e[1:] for e in robot]) if path is not None
                 else {(h, r): None for h in range(len(human)) for r in range(len(robot))})
        for (h, r), steps in sorted(parts.items()) or [((0, 0), [])]:
            yield row, human[h][0], robot[r][0], steps
