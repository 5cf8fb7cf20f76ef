"""The clip viewer component: data shaping and the HTML page (no Streamlit here).

The page gets `clip_viewer_config(engine, clip_id, ...)` (through app/cache.py) and renders
`viewer_html(config)` with `st.iframe`. Everything the player needs for the whole clip travels once as
compact JSON: keypoints rounded to 0.1 px (in the clip's original resolution; the browser scales
them to the displayed size), per-frame scores, and the robot state/action curves. A human clip's
retargeted robot hand (`app.components.robot_overlay`) joins the config through `with_robot`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from app.media import media_url
from db.engine import QueryEngine
from db.queries.clips import get_clip
from db.queries.frames import clip_pose_track, clip_robot_frames
from labeling.media.proxy import needs_proxy, served_range_s
from labeling.media.video import VideoError, frame_times_s
from labeling.pose.hand21 import CONNECTIONS

HAND_COLORS = {"left": "#ff8c1a", "right": "#1fb4ff"}  # also in viewer.js; orange/blue read on most scenes
HUMAN_VIDEO_HEIGHT_PX = 480  # the video box's height when the column is wide enough
ROBOT_VIDEO_HEIGHT_PX = 360  # robot episodes leave room for the curves beside the video
BAR_HEIGHT_PX = 48  # the play/step/speed bar under the video
HINT_HEIGHT_PX = 24  # the keyboard hint under everything
TIMELINE_ROW_PX = 18  # one presence/score row per hand and pose source
TIMELINE_AXIS_PX = 16
MAX_SERIES_DIMS = 12  # curves per chart: more turn into noise, the page caps its selection
ROBOT_PANEL_HEIGHT_PX = 260  # the robot hand's 3D view (square) and joint curves under the timeline
DEFAULT_SERIES_DIMS = 6  # curves shown first: the dims that move most in the episode
ROBOT_COLUMNS = ("state", "action")
_TEMPLATE_DIR = Path(__file__).resolve().parent
# Concatenated into the page's one script in this order: viewer.js uses what the others define.
SCRIPT_FILES = ("viewer_charts.js", "viewer_robot.js", "viewer.js")


@dataclass(frozen=True)
class ClipVideo:
    """Where and how to play one clip."""

    clip_id: str
    src: str  # URL of the playable video (the media route)
    fps: float
    n_frames: int
    width: int  # original resolution, the keypoints' pixel space
    height: int
    from_s: float = 0.0  # the clip's range inside the file (LeRobot v3 concatenates episodes)
    to_s: float = 0.0
    frame_times_s: tuple[float, ...] | None = None  # a variable-frame-rate video's frame times (None: f / fps)


def _clean(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def pose_tracks(track: pd.DataFrame, n_frames: int, primary_source: str | None = None) -> list[dict]:
    """Per (pose source, hand): `kp` (n_frames × 42 floats or None) and `score` (float or None).

    `track` has the columns of `db.queries.frames.clip_pose_track`. Sources other than
    `primary_source` are drawn dashed.
    """
    tracks = []
    for (source, hand), group in track.groupby(["pose_source", "hand"], sort=True):
        kp: list[list[float | None] | None] = [None] * n_frames
        score: list[float | None] = [None] * n_frames
        for frame, present, conf, points in zip(group["frame_index"], group["present"], group["score"],
                                                group["kp"], strict=True):
            if not (0 <= frame < n_frames) or not present or points is None:
                continue
            kp[frame] = [_clean(v) for v in points]
            conf = _clean(conf)
            score[frame] = 1.0 if conf is None else round(conf, 3)
        tracks.append({"source": source, "hand": hand, "kp": kp, "score": score,
                       "dashed": primary_source is not None and source != primary_source})
    return tracks


def timeline_rows(tracks: list[dict]) -> list[dict]:
    """One timeline row per track: label, colour and the per-frame score (None = hand absent)."""
    several = len({t["source"] for t in tracks}) > 1
    rows = []
    for t in tracks:
        label = f"{t['hand']} hand" if not several else f"{t['source'][:8]} {t['hand'][0].upper()}"
        rows.append({"label": label, "color": HAND_COLORS.get(t["hand"], "#6b7280"), "score": t["score"]})
    return rows


def robot_series(frames: pd.DataFrame, n_frames: int, dims: dict[str, list[int]],
                 names: dict[str, list[str]]) -> list[dict]:
    """Curves for the viewer: per column (`state`, `action`) the chosen dims over the frames.

    `frames` has the columns of `db.queries.frames.clip_robot_frames`; `dims[column]` are indexes into
    its vectors and `names[column]` their names. Values keep 4 significant digits.
    """
    series = []
    for column, chosen in dims.items():
        chosen = chosen[:MAX_SERIES_DIMS]
        if not chosen or column not in frames:
            continue
        values: list[list[float | None]] = [[None] * n_frames for _ in chosen]
        for frame, vector in zip(frames["frame_index"], frames[column], strict=True):
            if vector is None or not (0 <= frame < n_frames):
                continue
            for slot, d in enumerate(chosen):
                if d < len(vector):
                    v = _clean(vector[d])
                    values[slot][frame] = None if v is None else float(f"{v:.4g}")
        labels = names.get(column, [])
        series.append({"title": column, "values": values,
                       "names": [labels[d] if d < len(labels) else f"{column}[{d}]" for d in chosen]})
    return series


def viewer_config(video: ClipVideo, tracks: list[dict] | None = None, series: list[dict] | None = None,
                  autoplay: bool = False, page_keys: bool = True) -> dict:
    """The JSON the player reads (see viewer.js).

    `page_keys`: the arrow keys and space pressed anywhere on the page drive this player (turn it
    off where a page shows several players).
    """
    tracks = tracks or []
    series = series or []
    return {
        "clipId": video.clip_id, "src": video.src, "fps": video.fps, "nFrames": video.n_frames,
        "width": video.width, "height": video.height, "fromS": video.from_s, "toS": video.to_s,
        "frameTimesS": None if video.frame_times_s is None else list(video.frame_times_s),
        "videoMaxHeight": ROBOT_VIDEO_HEIGHT_PX if series else HUMAN_VIDEO_HEIGHT_PX,
        "tracks": tracks, "timeline": timeline_rows(tracks), "series": series, "autoplay": autoplay,
        "pageKeys": page_keys, "robot": None, "belowHeight": 0,
    }


def with_robot(config: dict, layer: dict | None) -> dict:
    """A copy of a human clip's `config` that also draws the robot hand of `layer`.

    `layer` is `robot_overlay.clip_robot_layer`'s result (None leaves the config as it is): the
    robot's links go over the video, its 3D view and joint curves under the timeline.
    """
    if layer is None:
        return config
    return {**config, "robot": layer["robot"], "series": layer["series"], "belowHeight": ROBOT_PANEL_HEIGHT_PX}


SEGMENT_COLOR = "#0f766e"  # the segments row of the timeline (the in / out band is this colour too)


def with_segment_marks(config: dict, segments: list[tuple[int, int]]) -> dict:
    """A copy of `config` whose player marks a segment's in / out with `i` / `o` (heard by
    app/components/segments.py) and whose timeline has a row for the clip's `segments` (inclusive ranges)."""
    n = int(config["nFrames"])
    score: list[float | None] = [None] * n
    for start, end in segments:
        for frame in range(max(0, start), min(n - 1, end) + 1):
            score[frame] = 1.0
    row = {"label": "segments", "color": SEGMENT_COLOR, "score": score, "hud": False}
    return {**config, "marks": True, "timeline": [*config["timeline"], row]}


def viewer_height(config: dict) -> int:
    """The iframe height (pixels) that fits the player for this config."""
    rows = len(config["timeline"])
    timeline = rows * TIMELINE_ROW_PX + TIMELINE_AXIS_PX + 8 if rows else 0
    below = config.get("belowHeight", 0) + 8 if config.get("robot") else 0
    return config["videoMaxHeight"] + BAR_HEIGHT_PX + timeline + below + HINT_HEIGHT_PX + 8


@cache
def _template() -> tuple[str, str]:
    script = "\n".join((_TEMPLATE_DIR / name).read_text() for name in SCRIPT_FILES)
    return (_TEMPLATE_DIR / "viewer.html").read_text(), script


def viewer_html(config: dict) -> str:
    """The self-contained player page for `config`."""
    page, script = _template()
    # `<` escaped so no string in the data can close the <script> element it travels in.
    with_bones = {**config, "bones": [list(edge) for edge in CONNECTIONS]}  # the skeleton has one definition
    data = json.dumps(with_bones, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    return page.replace("/*__EGO_JS__*/", script).replace("__EGO_CONFIG__", data)


def clip_extra(clip: dict) -> dict:
    """The clip's `extra` JSON as a dict ({} when absent or unreadable: it is metadata, never required)."""
    try:
        extra = json.loads(clip.get("extra") or "{}")
    except (TypeError, ValueError):
        return {}
    return extra if isinstance(extra, dict) else {}


def robot_vectors_note(clip: dict) -> str | None:
    """Words for a robot episode read without a state or action vector (None when it has both, or for
    episodes catalogued before ingest recorded which features it read)."""
    vectors = clip_extra(clip).get("vectors")
    if clip.get("kind") != "robot" or not isinstance(vectors, dict):
        return None
    state, action = clip.get("state_key"), clip.get("action_key")
    if state and action:
        return None
    found = ", ".join(str(k) for k in vectors.get("float_vectors") or []) or "none"
    if not state and not action:
        return ("Video-only episode: its dataset has no state or action vector EgoCurate recognises (float vector "
                f"features: {found}). It plays, but has no curves, cannot be aligned with a human clip and is "
                "exported without its data. Re-ingest the dataset with `egocurate ingest DATASET --state-key KEY "
                "--action-key KEY` to read them.")
    missing = "action" if state else "state"
    return (f"This episode has no {missing} vector: its dataset has none EgoCurate recognises (float vector "
            f"features: {found}); `--{missing}-key KEY` at ingest names it.")


def vector_labels(clip: dict, column: str, size: int, joints: dict[str, str] | None = None) -> list[str]:
    """Names of a robot vector's dims: `group.i` from GR00T modality groups, else the dataset's names; state dims
    that an embodiment spec maps (`joints`: dimension -> `side joint`) are named for their URDF joint."""
    extra = clip_extra(clip)
    groups = (extra.get("modality") or {}).get(column) or {}
    labels = [f"{column}[{d}]" for d in range(size)]
    try:
        names = json.loads(clip.get(f"{column}_names") or "[]")
    except (TypeError, ValueError):
        names = []
    names = names if isinstance(names, list) else []
    while names and isinstance(names[0], list):  # some datasets nest the list once
        names = names[0]
    for d, name in enumerate(names[:size]):
        labels[d] = str(name)
    for group, span in groups.items():
        start, end = int(span.get("start", 0)), int(span.get("end", 0))
        for d in range(start, min(end, size)):
            labels[d] = f"{group}.{d - start}"
    if column == "state":  # a spec describes the state only: actions may be in other units
        for d, name in enumerate(names[:size]):
            if str(name) in (joints or {}):
                labels[d] = f"{joints[str(name)]} ({name})"
    return labels


def spec_joint_labels(engine: QueryEngine, clip_id: str) -> dict[str, str]:
    """Dimension -> `side joint` for a robot episode that follows an embodiment spec (empty without one)."""
    from labeling.embodiment.spec import EmbodimentSpec
    from labeling.embodiment.store import episode_specs

    spec = episode_specs(engine, [clip_id]).get(clip_id)
    if not isinstance(spec, EmbodimentSpec):
        return {}
    return {m.dim: f"{side} {m.joint}" for side, hand in spec.hands.items() for m in hand.joints}


def robot_dim_choices(engine: QueryEngine, clip_id: str) -> dict[str, dict[str, list]]:
    """Per robot column: `labels` of every dim and the `default` dims (those that move most)."""
    clip = get_clip(engine, clip_id)
    frames = clip_robot_frames(engine, clip_id)
    choices: dict[str, dict[str, list]] = {}
    joints = spec_joint_labels(engine, clip_id)
    for column in ROBOT_COLUMNS:
        vectors = [v for v in frames[column] if v is not None] if column in frames else []
        if not vectors or clip is None:  # a video-only episode, or frames whose vector was NaN at ingest
            continue
        widths = pd.Series([len(v) for v in vectors])
        width = int(widths.mode().iloc[0])  # a dataset that changed its vector mid-episode: the usual width
        matrix = np.asarray([v for v in vectors if len(v) == width], dtype=np.float64)
        spread = np.nan_to_num(matrix.std(axis=0), nan=0.0)
        top = sorted(int(d) for d in np.argsort(-spread, kind="stable")[:DEFAULT_SERIES_DIMS])
        choices[column] = {"labels": vector_labels(clip, column, matrix.shape[1], joints), "default": top}
    return choices


def played_frame_times_s(clip: dict) -> tuple[float, ...] | None:
    """The frame times the browser will see for a variable-frame-rate clip played as it is, else None.

    A proxy (made for codecs browsers cannot play) is written at a constant rate, so f / fps holds there.
    """
    extra = clip_extra(clip)
    if not extra.get("vfr") or needs_proxy(clip.get("codec")):
        return None
    try:
        times = frame_times_s(str(clip["path"]))
    except VideoError:  # the player reports an unreadable file itself
        return None
    n_frames = int(clip.get("n_frames") or 0)
    return tuple(round(float(t), 6) for t in times[:n_frames]) if len(times) >= n_frames else None


def clip_viewer_config(engine: QueryEngine, clip_id: str, pose_sources: tuple[str, ...] = (),
                       dims: dict[str, list[int]] | None = None) -> dict | None:
    """Everything the player needs for one clip (None when the clip is unknown).

    Human clips get the 2D keypoints of `pose_sources` (the first one drawn solid); robot
    episodes get curves of `dims` (per column, indexes into the state/action vectors).
    """
    clip = get_clip(engine, clip_id)
    if clip is None:
        return None
    n_frames = int(clip.get("n_frames") or 0)
    from_s, to_s = served_range_s(clip)
    video = ClipVideo(clip_id=clip_id, src=media_url(clip_id), fps=float(clip.get("fps") or 30.0),
                      n_frames=n_frames, width=int(clip.get("width") or 1), height=int(clip.get("height") or 1),
                      from_s=from_s, to_s=to_s, frame_times_s=played_frame_times_s(clip))
    tracks, series = [], []
    if pose_sources:
        track = clip_pose_track(engine, clip_id, list(pose_sources))
        tracks = pose_tracks(track, n_frames, primary_source=pose_sources[0])
    if clip.get("kind") == "robot" and dims:
        frames = clip_robot_frames(engine, clip_id)
        sizes = {c: max((len(v) for v in frames[c] if v is not None), default=0) for c in ROBOT_COLUMNS
                 if c in frames}
        names = {c: vector_labels(clip, c, size) for c, size in sizes.items()}
        drawable = {c: d for c, d in dims.items() if sizes.get(c)}  # a video-only episode has no curves to draw
        series = robot_series(frames, n_frames, drawable, names)
    return viewer_config(video, tracks, series)


DETAIL_FIELDS = (  # (clips column, label) shown beside the player, when set
    ("task_slug", "task name"), ("dataset", "dataset"), ("episode_index", "episode"), ("robot_type", "robot"),
    ("video_key", "camera"), ("video_from_s", "from (s)"), ("video_to_s", "to (s)"), ("fx", "fx (px)"),
    ("fy", "fy (px)"), ("cx", "cx (px)"), ("cy", "cy (px)"), ("path", "file"), ("ingested_at", "ingested"),
)


def clip_details(clip: dict) -> pd.DataFrame:
    """Two columns (`field`, `value`, as text) of the clip's metadata worth showing."""
    rows = []
    for column, label in DETAIL_FIELDS:
        value = clip.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            continue
        text = f"{value:g}" if isinstance(value, float) else str(value)
        rows.append({"field": label, "value": text})
    return pd.DataFrame(rows, columns=["field", "value"])
