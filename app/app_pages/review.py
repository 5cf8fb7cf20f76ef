"""Review: decide on a view's flags one by one with the keyboard, or all at once; a clip's segments and audit history.

Keys: c confirm · d dismiss · f flag the clip yourself · j or → next · k or ← previous · i / o a segment's in / out.
"""

import json

import streamlit as st

from app import auth_gate, cache, guard, state
from app.components import viewer
from app.components.segments import segment_editor, segment_spans, segments_of
from app.media import with_media_key
from app.state import (
    REVIEW_BULK_SURE,
    REVIEW_CURATOR,
    REVIEW_FLAG_FORM,
    REVIEW_FLAG_ID,
    REVIEW_MESSAGE,
    REVIEW_SEGMENTS,
    REVIEW_STATES,
    REVIEW_VIEW,
)
from curation.flags import StaleUpdateError, create_flag, set_flag_state
from curation.labels import set_task_text, task_label
from curation.review import (
    HAND_CHOICES,
    QUEUE_STATES,
    clip_flags,
    decide_view,
    describe_flag,
    flag_span,
    flag_table,
    history_table,
    queue_item,
    resolve_view,
    review_queue,
    timeline_marks,
    view_choices,
)
from curation.rules import SEVERITIES
from db.models import FLAG_STATES
from labeling.media.proxy import clip_playable_path, needs_proxy
from labeling.media.video import VideoError

FLAG_ROW_COLOR = "#dc2626"
# Button keys: Streamlit gives each button's container the class `st-key-<key>`, which the keys use.
KEYS = {"c": "review_confirm", "d": "review_dismiss", "f": "review_flag", "j": "review_next", "k": "review_prev",
        "ArrowRight": "review_next", "ArrowLeft": "review_prev"}
KEYBOARD_JS = """<script>
(() => {
  if (window.__egoReviewKeys) return;
  window.__egoReviewKeys = true;
  const keys = __KEYS__;
  window.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target, tag = ((target && target.tagName) || '').toLowerCase();
    if (['input', 'textarea', 'select'].includes(tag) || (target && target.isContentEditable)) return;
    const key = keys[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    const button = key && document.querySelector('.st-key-' + key + ' button');
    if (!button || button.disabled) return;
    event.preventDefault();
    event.stopPropagation();
    button.click();
  }, true);
})();
</script>""".replace("__KEYS__", json.dumps(KEYS))

state.init(st.session_state)

st.title("Review")
engine, root = cache.engine(), cache.data_root()
row = st.columns([1.4, 1.6, 1.6])
me = auth_gate.current()
curator = auth_gate.name_field(row[0], REVIEW_CURATOR, me, "Curator name", "your name, written with each decision")
row[1].selectbox("View", view_choices(root), key=REVIEW_VIEW)
row[2].multiselect("Flag states", FLAG_STATES, key=REVIEW_STATES, placeholder="proposed")
spec = resolve_view(root, st.session_state[REVIEW_VIEW])
queue = review_queue(engine, spec, tuple(st.session_state[REVIEW_STATES]) or QUEUE_STATES)
item = queue_item(queue, st.session_state[REVIEW_FLAG_ID])

if st.session_state[REVIEW_MESSAGE]:
    kind, text = st.session_state[REVIEW_MESSAGE]
    (st.error if kind == "error" else st.success)(text)
    st.session_state[REVIEW_MESSAGE] = None
if item is None:
    st.success("Nothing to review in this view.", icon=":material/task_alt:")
    st.stop()
flag = item.flag
st.session_state[REVIEW_FLAG_ID] = int(flag["id"])


def go_to(flag_id: int | None) -> None:
    st.session_state[REVIEW_FLAG_ID] = flag_id


def decide(state_name: str, flag_id: int, version: int, after_id: int | None) -> None:
    """Write the decision on the version on screen; a stale one, or one the role does not allow, is refused."""
    try:
        actor = auth_gate.author("review", curator)
        set_flag_state(root, flag_id, state_name, actor, expected_version=version)
    except (StaleUpdateError, auth_gate.AuthError, ValueError) as exc:
        st.session_state[REVIEW_MESSAGE] = ("error", str(exc))
        return
    st.session_state[REVIEW_MESSAGE] = ("success", f"Flag {flag_id} {state_name} by {actor}.")
    st.session_state[REVIEW_FLAG_ID] = after_id


def decide_all(state_name: str) -> None:
    """Bulk decision on every listed flag of the view, each at the version listed."""
    try:
        actor = auth_gate.author("review", curator)
    except (auth_gate.AuthError, ValueError) as exc:
        st.session_state[REVIEW_MESSAGE] = ("error", str(exc))
        return
    result = decide_view(root, engine, spec, state_name, actor, tuple(st.session_state[REVIEW_STATES]) or QUEUE_STATES)
    stale = f"; {len(result.stale)} changed meanwhile and were left alone" if result.stale else ""
    st.session_state[REVIEW_MESSAGE] = ("success", f"{len(result.updated)} flags {state_name} by {actor}{stale}.")
    st.session_state[REVIEW_BULK_SURE] = False


def toggle_flag_form() -> None:
    st.session_state[REVIEW_FLAG_FORM] = not st.session_state[REVIEW_FLAG_FORM]


st.markdown(f"**Flag {item.position + 1} of {item.total}** · {describe_flag(flag)}")
st.markdown(f"> {flag['reason']}")
after = item.next_id or item.previous_id
buttons = st.columns(5)
version = int(flag["version"])
blocked = auth_gate.why_not(me, "review")  # a courtesy: decide() asks the store again at the click
disabled = not curator or blocked is not None
buttons[0].button("Previous (k)", key=KEYS["k"], icon=":material/chevron_left:", on_click=go_to,
                  args=(item.previous_id,), disabled=item.previous_id is None, width="stretch")
buttons[1].button("Confirm (c)", key=KEYS["c"], type="primary", icon=":material/check:", on_click=decide,
                  args=("confirmed", int(flag["id"]), version, after), disabled=disabled, help=blocked,
                  width="stretch")
buttons[2].button("Dismiss (d)", key=KEYS["d"], icon=":material/close:", on_click=decide,
                  args=("dismissed", int(flag["id"]), version, after), disabled=disabled, help=blocked,
                  width="stretch")
flag_blocked = auth_gate.why_not(me, "flag")
buttons[3].button("Flag (f)", key=KEYS["f"], icon=":material/flag:", on_click=toggle_flag_form,
                  disabled=not curator or flag_blocked is not None, help=flag_blocked, width="stretch")
buttons[4].button("Next (j)", key=KEYS["j"], icon=":material/chevron_right:", on_click=go_to,
                  args=(item.next_id,), disabled=item.next_id is None, width="stretch")
st.html(KEYBOARD_JS, unsafe_allow_javascript=True)
if blocked:
    st.caption(f"You can look but not decide here: {blocked}")
elif not curator:
    st.caption("Type your name above to decide; decisions are written with it.")

clip_id = flag["clip_id"]
n_frames = int(flag["n_frames"] or 1)
flags_of_clip = guard.attempt(clip_flags, root, clip_id, what="read the clip's flags", clip_id=clip_id, default=[])
if st.session_state[REVIEW_FLAG_FORM]:
    with st.form("review.flag_form_widget", border=True):
        st.markdown(f"Flag clip `{clip_id}` yourself (saved as confirmed, by {curator or '?'})")
        reason = st.text_input("Reason", placeholder="e.g. the hand leaves the table")
        cols = st.columns(3)
        severity = cols[0].selectbox("Severity", SEVERITIES, index=1)
        hand = cols[1].selectbox("Hand", HAND_CHOICES, format_func=lambda h: h or "both / clip")
        span = cols[2].slider("Frames", 0, max(n_frames - 1, 1), flag_span(flag, n_frames))
        if st.form_submit_button("Save flag", type="primary") and reason.strip() and curator:
            try:
                create_flag(root, clip_id, reason.strip(), auth_gate.author("flag", curator), severity=severity,
                            frame_start=span[0], frame_end=span[1], hand=hand or None)
                st.session_state[REVIEW_FLAG_FORM] = False
                st.session_state[REVIEW_MESSAGE] = ("success", f"Flag saved on clip {clip_id}.")
            except (auth_gate.AuthError, ValueError) as exc:
                st.session_state[REVIEW_MESSAGE] = ("error", str(exc))
            st.rerun()

version_token = cache.lake_version()
clip = cache.clip(version_token, clip_id)
try:
    if clip and needs_proxy(clip["codec"]):
        with st.spinner(f"Making a browser-playable copy of this {clip['codec']} clip..."):
            clip_playable_path(root, clip)
    sources = cache.pose_sources(version_token, clip_id)
    config = cache.viewer_config(version_token, clip_id, tuple(sources[:1]), (), ())
except VideoError as exc:
    st.warning(f"This clip's video cannot be played: {exc}", icon=":material/error:")
    config = None
except Exception as exc:  # noqa: BLE001 (one message naming the clip; the queue and its buttons still work)
    guard.show_failure("load the clip's video and poses", exc, clip_id)
    config = None
if config:
    marks = {"label": "flagged", "color": FLAG_ROW_COLOR, "score": timeline_marks(n_frames, flags_of_clip)}
    config = {**config, "timeline": [*config["timeline"], marks],  # a copy: the cached config stays as it was
              "src": with_media_key(config["src"], auth_gate.media_key())}
    config = viewer.with_segment_marks(config, segment_spans(segments_of(root, clip_id)))
    st.iframe(viewer.viewer_html(config), height=viewer.viewer_height(config))
    st.caption("The red 'flagged' row of the timeline marks the frames the clip's open flags point at.")

tabs = st.tabs(["Flags of this clip", "Task text", "History", "Bulk decision", "Segments"])
tabs[0].dataframe(flag_table(flags_of_clip), hide_index=True, width="stretch")
with tabs[1]:
    correction = task_label(root, clip_id)
    st.caption(f"Catalogued task: {flag['task'] or '(none)'}" + (
        f" · corrected by {correction.author} (v{correction.version})" if correction else ""))
    with st.form("review.task_form", border=False):
        text = st.text_input("Corrected task text", value=correction.text if correction else (flag["task"] or ""))
        text_blocked = auth_gate.why_not(me, "label-text")
        if st.form_submit_button("Save task text", disabled=not curator or text_blocked is not None,
                                 help=text_blocked):
            try:
                set_task_text(root, clip_id, text, auth_gate.author("label-text", curator),
                              correction.version if correction else None)
                st.session_state[REVIEW_MESSAGE] = ("success", f"Task text of clip {clip_id} saved.")
            except (StaleUpdateError, auth_gate.AuthError, ValueError) as exc:
                st.session_state[REVIEW_MESSAGE] = ("error", str(exc))
            st.rerun()
with tabs[2]:
    history = guard.attempt(history_table, root, clip_id, what="read the clip's history", clip_id=clip_id)
    if history is not None:
        st.dataframe(history, hide_index=True, width="stretch")
with tabs[3]:
    st.markdown(f"Decide on all **{item.total}** listed flags of this view at once (each at the version listed; "
                "flags someone changed meanwhile are left alone and reported).")
    sure = st.checkbox(f"Yes, all {item.total}", key=REVIEW_BULK_SURE)
    cols = st.columns(2)
    for col, (label, target) in zip(cols, (("Confirm all", "confirmed"), ("Dismiss all", "dismissed")), strict=True):
        col.button(label, key=f"review_bulk_{target}", on_click=decide_all, args=(target,),
                   disabled=not (sure and curator) or blocked is not None, help=blocked, width="stretch")
with tabs[4]:
    segment_editor(root, clip_id, n_frames, curator, auth_gate.why_not(me, "label-text"), REVIEW_SEGMENTS)
