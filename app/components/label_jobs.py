"""Data for the Label page: what can be labelled, and labelling jobs as table rows. No Streamlit."""

from __future__ import annotations

from dataclasses import dataclass

from db.engine import QueryEngine
from db.queries.clips import label_candidates
from labeling.pose.label import LabelProgress
from labeling.pose.label_worker import POSE_SOURCE

CHOOSABLE_CLIPS = 500  # the clip picker lists at most this many unlabelled clips


@dataclass(frozen=True)
class LabelChoices:
    human_clips: int
    labelled: int  # human clips that already have MediaPipe poses
    unlabelled_ids: tuple[str, ...]  # every human clip without them
    choosable: dict[str, str]  # clip_id -> label for the picker (the first CHOOSABLE_CLIPS)


def label_choices(engine: QueryEngine) -> LabelChoices:
    """Human clips with and without MediaPipe poses."""
    frame = label_candidates(engine, POSE_SOURCE)
    todo = frame[~frame["has_pose"].astype(bool)]
    choosable = {row.clip_id: f"{row.path.rsplit('/', 1)[-1]} · {row.source} · {int(row.n_frames)} frames · "
                              f"{row.clip_id}" for row in todo.head(CHOOSABLE_CLIPS).itertuples()}
    return LabelChoices(len(frame), int(frame["has_pose"].astype(bool).sum()), tuple(todo["clip_id"]), choosable)


def job_row(progress: LabelProgress) -> dict[str, object]:
    """One labelling job as a table row: state, clips, frames, speed, ETA."""
    eta = progress.eta_s
    return {
        "job": progress.job_id, "state": progress.state,
        "clips": f"{progress.n_done}/{progress.n_total}", "failed": progress.n_failed,
        "frames": f"{progress.frames_done}/{progress.frames_total}",
        "frames/s": round(progress.frames_per_s, 1),
        "ETA": "—" if eta is None else f"{eta:.0f} s",
        "message": progress.message,
    }


def fraction_done(progress: LabelProgress) -> float:
    """0..1 by frames when known, else by clips."""
    if progress.frames_total:
        return min(1.0, progress.frames_done / progress.frames_total)
    return min(1.0, progress.n_done / progress.n_total) if progress.n_total else 0.0
