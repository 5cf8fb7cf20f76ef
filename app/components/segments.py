"""A clip's segment labels on a page with the player: the form that adds one, and the list of those it has.

The player (viewer.js, with `viewer.with_segment_marks`) sets a segment's in / out frame with `i` / `o`
and announces them as an `egocurate:marks` event on the page; a Streamlit custom component
(components v2, JavaScript only: `MARKS_JS`), hears it and hands the frames to Python, which fills the form's In
and Out. The curator types the text and saves: `curation.labels.add_segment`, as `egocurate segment add`
does, with the name `auth_gate.author("label-text")` allows at that moment.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import auth_gate
from app.state import SEGMENT_FIELDS
from curation.flags import StaleUpdateError
from curation.labels import LabelRecord, add_segment, list_labels

MARKS_JS = """
export default function (component) {
  const { setStateValue, data } = component;
  const onMarks = (event) => {
    const marks = event.detail || {};
    if (!data || marks.clip !== data.clip) return;  // another page's player, or a stale one
    setStateValue('marks', {clip: marks.clip, in: marks.in, out: marks.out});
  };
  window.addEventListener('egocurate:marks', onMarks);
  return () => window.removeEventListener('egocurate:marks', onMarks);
}
"""


def segments_of(root: Path, clip_id: str) -> list[LabelRecord]:
    """The clip's segment labels, by first frame."""
    return [label for label in list_labels(root, clip_id) if label.kind == "segment"]


def segment_spans(labels: list[LabelRecord]) -> list[tuple[int, int]]:
    """Their frame ranges (inclusive), for the player's timeline."""
    return [(int(label.frame_start), int(label.frame_end)) for label in labels if label.frame_start is not None]


def segment_table(labels: list[LabelRecord]) -> pd.DataFrame:
    return pd.DataFrame([{"id": s.id, "frames": f"{s.frame_start}:{s.frame_end}", "text": s.text, "author": s.author,
                          "updated_at": s.updated_at} for s in labels],
                        columns=["id", "frames", "text", "author", "updated_at"])


def _take_marks(prefix: str, clip_id: str, marks: dict | None) -> None:
    """A new clip empties the form; new marks from the player become its In / Out."""
    if st.session_state[f"{prefix}.clip"] != clip_id:
        for field, value in SEGMENT_FIELDS.items():
            st.session_state[f"{prefix}.{field}"] = value
        st.session_state[f"{prefix}.clip"] = clip_id
    if not marks or marks.get("clip") != clip_id or marks == st.session_state[f"{prefix}.seen"]:
        return
    st.session_state[f"{prefix}.seen"] = marks
    for field in ("in", "out"):
        if marks.get(field) is not None:
            st.session_state[f"{prefix}.{field}"] = int(marks[field])


def _save(root: Path, prefix: str, clip_id: str, curator: str) -> None:
    state = st.session_state
    try:
        label = add_segment(root, clip_id, int(state[f"{prefix}.in"]), int(state[f"{prefix}.out"]),
                            state[f"{prefix}.text"], auth_gate.author("label-text", curator))
    except (StaleUpdateError, auth_gate.AuthError, ValueError) as exc:
        state[f"{prefix}.message"] = ("error", str(exc))
        return
    state[f"{prefix}.message"] = ("success", f"Segment {label.id} saved: frames {label.frame_start}-{label.frame_end}, "
                                             f"{label.text!r}.")
    state[f"{prefix}.text"] = ""


def segment_editor(root: Path, clip_id: str, n_frames: int, curator: str, blocked: str | None, prefix: str) -> None:
    """The segment form (In / Out filled by the player's i / o keys) and the clip's segments."""
    # Registered on every run (the same definition is a no-op): the registry belongs to the running app.
    marks = st.components.v2.component("egocurate_segment_marks", js=MARKS_JS)
    result = marks(key=f"{prefix}.marks", data={"clip": clip_id}, default={"marks": None},
                   on_marks_change=lambda: None, height=0)
    _take_marks(prefix, clip_id, getattr(result, "marks", None))
    last = max(n_frames - 1, 0)
    cols = st.columns([1, 1, 4, 1.2], vertical_alignment="bottom")
    cols[0].number_input("In (i)", min_value=0, max_value=last, step=1, key=f"{prefix}.in",
                         help="The segment's first frame: press i in the player")
    cols[1].number_input("Out (o)", min_value=0, max_value=last, step=1, key=f"{prefix}.out",
                         help="Its last frame: press o in the player")
    cols[2].text_input("Segment text", key=f"{prefix}.text", placeholder="what happens in it, e.g. grasp the cup")
    cols[3].button("Save segment", key=f"{prefix}.save", icon=":material/segment:", on_click=_save,
                   args=(root, prefix, clip_id, curator), disabled=not curator or blocked is not None,
                   help=blocked or ("Type your name first" if not curator else None), width="stretch")
    message = st.session_state[f"{prefix}.message"]
    if message:
        (st.error if message[0] == "error" else st.success)(message[1])
        st.session_state[f"{prefix}.message"] = None
    labels = segments_of(root, clip_id)
    if labels:
        st.dataframe(segment_table(labels), hide_index=True, width="stretch")
    else:
        st.caption("No segments yet. Exports write them as subtasks (LeRobot 0.6) and GR00T annotations.")
