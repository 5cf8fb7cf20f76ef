"""Segment labels as the readers want them: LeRobot 0.6 subtasks (v3.0) and GR00T annotations (v2.1).

    piece_subtasks(segments, frame_from, frame_to)     a clip's segments inside one exported episode
    language_columns(table, subtasks, fps)             + `language_persistent` / `language_events` (v3.0)
    annotation_column(table, subtasks, task_index)     + `annotation.human.subtask` (GR00T, v2.1)

LeRobot 0.6 writes a subtask as a row of its `language_persistent` column (`lerobot.datasets.language`,
written by `lerobot.annotations.steerable_pipeline.writer`): `{role: "assistant", content: text, style:
"subtask", timestamp: <its first frame's timestamp>, camera: null, tool_calls: null}`, every row of the
episode carrying the episode's whole (sorted) list; `language_render.active_at(t, style="subtask")` gives
the one active at `t`: the latest started. LeRobot's subtasks have no end (each holds until the next
starts), so a segment's out point is kept in the episode metadata (`sub_tasks`: start, end exclusive,
text, in episode frames), which is also what GR00T N1.6's loader reads for its `sub_task` language key.
GR00T's annotation channels are per-frame task indices (`annotation.<source>.<type>`): a frame inside a
segment points at the segment's text, any other frame at the episode's task.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa

from labeling.sources.lerobot_layout import LANGUAGE_EVENTS, LANGUAGE_PERSISTENT, SUBTASK_ANNOTATION, SUBTASK_STYLE

ANNOTATION_COLUMN = f"annotation.{SUBTASK_ANNOTATION}"  # GR00T's column for the segment channel
SUBTASK_ROLE = "assistant"  # the role LeRobot's annotation pipeline gives subtask rows
_ROW_FIELDS = [pa.field("role", pa.string(), nullable=False), pa.field("content", pa.string()),
               pa.field("style", pa.string())]
_TAIL_FIELDS = [pa.field("camera", pa.string()), pa.field("tool_calls", pa.list_(pa.string()))]
PERSISTENT_ROW = pa.struct([*_ROW_FIELDS, pa.field("timestamp", pa.float32(), nullable=False), *_TAIL_FIELDS])
EVENT_ROW = pa.struct([*_ROW_FIELDS, *_TAIL_FIELDS])
# The `huggingface` schema metadata of the two columns: datasets' `List({role, content, style, [timestamp,]
# camera, tool_calls: List(Json)})`, as `lerobot.datasets.language` declares them.
_STRING = {"dtype": "string", "_type": "Value"}
_ROW_FEATURE = {"role": _STRING, "content": _STRING, "style": _STRING}
_TOOLS_FEATURE = {"camera": _STRING, "tool_calls": {"feature": _STRING, "_type": "List"}}
HF_LANGUAGE_FEATURES = {
    LANGUAGE_PERSISTENT: {"feature": {**_ROW_FEATURE, "timestamp": {"dtype": "float32", "_type": "Value"},
                                      **_TOOLS_FEATURE}, "_type": "List"},
    LANGUAGE_EVENTS: {"feature": {**_ROW_FEATURE, **_TOOLS_FEATURE}, "_type": "List"},
}


def piece_subtasks(segments: list[dict], frame_from: int, frame_to: int) -> list[dict]:
    """The segments (`frame_start`/`frame_end` inclusive, source frames) inside the episode of source frames
    `[frame_from, frame_to)`, in episode frames: `{start, end (exclusive), text}`, by start.

    A segment cut by the episode's ends keeps its inside part; two starting on one frame are joined
    ("a; b"), since a reader can tell only one subtask per start apart.
    """
    by_start: dict[int, dict] = {}
    for segment in sorted(segments, key=lambda s: (int(s["frame_start"]), int(s["frame_end"]))):
        start = max(int(segment["frame_start"]), frame_from) - frame_from
        end = min(int(segment["frame_end"]) + 1, frame_to) - frame_from
        if end <= start:
            continue
        if start in by_start:
            same = by_start[start]
            same["end"], same["text"] = max(same["end"], end), f"{same['text']}; {segment['text']}"
        else:
            by_start[start] = {"start": start, "end": end, "text": str(segment["text"])}
    return [by_start[s] for s in sorted(by_start)]


def segments_by_clip(segments: pd.DataFrame) -> dict[str, list[dict]]:
    """The plan's segment labels (`ExportPlan.segments`) grouped by clip."""
    if segments.empty:
        return {}
    return {clip_id: group.to_dict("records") for clip_id, group in segments.groupby("clip_id")}


def with_segment_tasks(tasks: list[str], segments: list[dict]) -> list[str]:
    """`tasks` and then the segments' texts not among them: GR00T's annotation column points into the tasks."""
    return tasks + [text for text in dict.fromkeys(str(s["text"]) for s in segments) if text not in tasks]


def episode_subtasks(segments: list[dict], frame_from: int, frame_to: int, tasks: list[str]) -> list[dict]:
    """`piece_subtasks` of one episode, each with the `task_index` of its text (-1 when the tasks lack it)."""
    return [s | {"task_index": tasks.index(s["text"]) if s["text"] in tasks else -1}
            for s in piece_subtasks(segments, frame_from, frame_to)]


def persistent_rows(subtasks: list[dict], fps: float) -> list[dict]:
    """LeRobot's `language_persistent` rows of one episode: one subtask row at each segment's first frame."""
    return [{"role": SUBTASK_ROLE, "content": s["text"], "style": SUBTASK_STYLE,
             "timestamp": float(np.float32(s["start"] / fps)), "camera": None, "tool_calls": None}
            for s in subtasks]


def _with_column(table: pa.Table, name: str, values: pa.Array, hf_feature: dict) -> pa.Table:
    """`table` plus one column, its `huggingface` schema metadata naming the column's feature too."""
    metadata = dict(table.schema.metadata or {})
    if b"huggingface" in metadata:
        hf = json.loads(metadata[b"huggingface"])
        hf["info"]["features"][name] = hf_feature
        metadata[b"huggingface"] = json.dumps(hf).encode()
    out = table.append_column(pa.field(name, values.type), values)
    return out.replace_schema_metadata(metadata)


def language_columns(table: pa.Table, subtasks: list[dict], fps: float) -> pa.Table:
    """An episode's rows plus LeRobot 0.6's language columns: its subtask rows on every frame, no events."""
    rows = persistent_rows(subtasks, fps)
    n = table.num_rows
    persistent = pa.array([rows] * n, pa.list_(PERSISTENT_ROW))
    events = pa.array([[]] * n, pa.list_(EVENT_ROW))
    table = _with_column(table, LANGUAGE_PERSISTENT, persistent, HF_LANGUAGE_FEATURES[LANGUAGE_PERSISTENT])
    return _with_column(table, LANGUAGE_EVENTS, events, HF_LANGUAGE_FEATURES[LANGUAGE_EVENTS])


def annotation_indices(n_frames: int, subtasks: list[dict], task_index: int) -> np.ndarray:
    """Per frame, the task index of the segment covering it (the latest started), else `task_index`."""
    out = np.full(n_frames, task_index, np.int64)
    for subtask in subtasks:  # by start: a later segment wins where two overlap, as LeRobot's active_at
        out[subtask["start"]:subtask["end"]] = subtask["task_index"]
    return out


def annotation_column(table: pa.Table, subtasks: list[dict], task_index: int) -> pa.Table:
    """An episode's rows plus GR00T's `annotation.human.subtask` (task indices, see `annotation_indices`)."""
    values = pa.array(annotation_indices(table.num_rows, subtasks, task_index))
    return _with_column(table, ANNOTATION_COLUMN, values, {"dtype": "int64", "_type": "Value"})


def annotation_feature() -> dict[str, dict]:
    """`info.json` feature of the GR00T annotation column."""
    return {ANNOTATION_COLUMN: {"dtype": "int64", "shape": [1], "names": None}}
