"""Clip viewer: the clip playing with its hand skeleton (or robot curves) in sync, plus its metadata.

A human clip retargeted to robot hands (`egocurate retarget`) can also show a robot hand over the
video, in 3D and as joint-angle curves. The URL `?clip=<clip_id>` names the clip, so a viewer link
can be shared.
"""

import streamlit as st

from app import auth_gate, cache, guard, state
from app.components import robot3d, viewer
from app.components.clips import clip_title, format_duration, sorted_by
from app.components.robot_overlay import ROBOT_NONE
from app.components.segments import segment_editor, segment_spans, segments_of
from app.media import with_media_key
from labeling.media.proxy import clip_playable_path, needs_proxy
from labeling.media.video import VideoError

CLIPS_PAGE = "app_pages/clips.py"
ALL_SOURCES = "all"

version = cache.lake_version()
clip_id = st.query_params.get("clip") or st.session_state[state.VIEWER_CLIP_ID]
clip = cache.clip(version, clip_id) if clip_id else None
if clip is None:
    st.title("Clip viewer")
    if clip_id:
        st.warning(f"No clip with id `{clip_id}` in the catalog.", icon=":material/search_off:")
    st.info("Pick a clip on the Clips page, or paste a clip id.", icon=":material/video_library:")
    st.page_link(CLIPS_PAGE, label="Browse clips", icon=":material/video_library:")
    typed = st.text_input("Clip id", placeholder="e.g. 4f0f315080cb51b6")
    if typed:
        st.query_params["clip"] = typed.strip()
        st.rerun()
    st.stop()

st.session_state[state.VIEWER_CLIP_ID] = clip_id
st.query_params["clip"] = clip_id
spec = sorted_by(st.session_state[state.CLIPS_FILTER], st.session_state[state.CLIPS_SORT],
                 st.session_state[state.CLIPS_DESCENDING])
previous_id, next_id = cache.clip_neighbours(version, clip_id, spec)

head = st.columns([3, 1], vertical_alignment="center")
head[0].subheader(clip.get("task") or clip_title(clip), anchor=False)
with head[1].container(horizontal=True, horizontal_alignment="right"):
    for label, icon, target in (("Previous", ":material/chevron_left:", previous_id),
                                ("Next", ":material/chevron_right:", next_id)):
        st.page_link("app_pages/viewer.py", label=label, icon=icon, query_params={"clip": target or clip_id},
                     disabled=target is None, help="The neighbouring clip in the Clips page's filter and order")
st.caption(" · ".join(str(part) for part in (
    clip["kind"], clip["source"], clip.get("task_slug") or "", f"`{clip_id}`", format_duration(clip["duration_s"]),
    f"{clip['n_frames']} frames at {clip['fps']:g} fps", f"{clip['width']}x{clip['height']}", clip["codec"]) if part))



@st.fragment
def robot_figure(view3d: dict, embodiment: str, n_frames: int) -> None:
    """The plotly 3D view at a chosen frame (a fragment: moving the slider reruns only this)."""
    last = max(0, n_frames - 1)
    if not isinstance(st.session_state[state.VIEWER_ROBOT_FRAME], int) or st.session_state[
            state.VIEWER_ROBOT_FRAME] > last:
        st.session_state[state.VIEWER_ROBOT_FRAME] = last // 2
    frame = st.slider("Frame", 0, max(1, last), key=state.VIEWER_ROBOT_FRAME,
                      help="The live 3D view above follows the video; this one stays on the frame chosen here")
    st.plotly_chart(robot3d.robot_figure(view3d, frame, embodiment), width="stretch")


pose_sources: tuple[str, ...] = ()
embodiment, robot_hand, joint_dims = ROBOT_NONE, None, []
dims: dict[str, list[int]] = {"state": [], "action": []}
if clip["kind"] == "human":
    available = cache.pose_sources(version, clip_id)
    if available:
        options = available + ([ALL_SOURCES] if len(available) > 1 else [])
        if st.session_state[state.VIEWER_POSE_SOURCE] not in options:
            st.session_state[state.VIEWER_POSE_SOURCE] = options[0]
        choice = st.segmented_control("Hand poses", options, key=state.VIEWER_POSE_SOURCE, required=True,
                                      persist_state="session", help="Which pose source to draw; 'all' draws "
                                      "every source, the first solid and the others dashed")
        pose_sources = tuple(available) if choice == ALL_SOURCES else (choice,)
    else:
        st.info("No hand poses for this clip yet; `egocurate label` computes them.", icon=":material/back_hand:")
    robots = cache.robot_choices(version, clip_id)
    if robots:
        options = [*robots, ROBOT_NONE]
        if st.session_state[state.VIEWER_ROBOT] not in options:
            st.session_state[state.VIEWER_ROBOT] = options[0]
        pickers = st.columns([3, 2, 5])
        embodiment = pickers[0].segmented_control(
            "Robot hand", options, key=state.VIEWER_ROBOT, required=True, persist_state="session",
            help="Draw this retargeted robot hand over the video, beside the human skeleton")
    if embodiment != ROBOT_NONE:
        hands = robots[embodiment]
        if st.session_state[state.VIEWER_ROBOT_HAND] not in hands:
            st.session_state[state.VIEWER_ROBOT_HAND] = hands[-1]
        robot_hand = pickers[1].segmented_control("In 3D and curves", hands, key=state.VIEWER_ROBOT_HAND,
                                                  required=True, persist_state="session")
        joints = guard.attempt(cache.robot_joint_choices, version, clip_id, robot_hand, embodiment,
                               what=f"read the {embodiment} joint angles", clip_id=clip_id,
                               default={"labels": [], "default": []})
        if st.session_state[state.VIEWER_JOINTS_FOR] != (clip_id, embodiment, robot_hand):
            st.session_state[state.VIEWER_JOINTS_FOR] = (clip_id, embodiment, robot_hand)
            st.session_state[state.VIEWER_JOINT_DIMS] = joints["default"]
        joint_dims = pickers[2].multiselect(
            "Joint angles", range(len(joints["labels"])), key=state.VIEWER_JOINT_DIMS,
            format_func=joints["labels"].__getitem__, max_selections=viewer.MAX_SERIES_DIMS,
            persist_state="session", help="The robot joints drawn as curves under the video (radians)")
else:
    choices = guard.attempt(cache.robot_dim_choices, version, clip_id, what="read this episode's state and action",
                            clip_id=clip_id, default={})
    note = viewer.robot_vectors_note(clip)
    if note:
        st.info(note, icon=":material/videocam:")
    elif not choices:
        st.info("No state or action values to draw for this episode (every frame's vector is missing or NaN).",
                icon=":material/show_chart:")
    if st.session_state[state.VIEWER_DIMS_CLIP] != clip_id:  # a new episode starts with its busiest dims
        st.session_state[state.VIEWER_DIMS_CLIP] = clip_id
        for column, key in (("state", state.VIEWER_STATE_DIMS), ("action", state.VIEWER_ACTION_DIMS)):
            st.session_state[key] = choices.get(column, {}).get("default", [])
    own_hands = cache.robot_episode_hands(version, cache.store_revision(), clip_id)  # its embodiment spec's
    pickers = st.columns([2, 2, 1] if own_hands else 2)
    for picker, (column, key) in zip(pickers, (("state", state.VIEWER_STATE_DIMS),
                                               ("action", state.VIEWER_ACTION_DIMS)), strict=False):
        if column in choices:
            labels = choices[column]["labels"]
            dims[column] = picker.multiselect(
                f"{column.capitalize()} curves", range(len(labels)), key=key, format_func=labels.__getitem__,
                max_selections=viewer.MAX_SERIES_DIMS, persist_state="session")
    if own_hands:
        if st.session_state[state.VIEWER_EPISODE_HAND] not in own_hands:
            st.session_state[state.VIEWER_EPISODE_HAND] = own_hands[-1]
        robot_hand = pickers[2].segmented_control("Hand in 3D", own_hands, key=state.VIEWER_EPISODE_HAND,
                                                  required=True, persist_state="session",
                                                  help="Drawn from the episode's state through its URDF")

try:
    if needs_proxy(clip["codec"]):
        with st.spinner(f"Making a browser-playable H.264 copy of this {clip['codec']} clip..."):
            clip_playable_path(cache.data_root(), clip)
except VideoError as exc:
    st.error(f"This clip's video cannot be played: {exc}", icon=":material/error:")
    st.stop()
except Exception as exc:  # noqa: BLE001 (a message naming the clip, not a traceback)
    guard.show_failure("make a browser-playable copy of the video", exc, clip_id)
    st.stop()
config = guard.attempt(cache.viewer_config, version, clip_id, pose_sources, tuple(dims["state"]),
                       tuple(dims["action"]), what="load the clip's poses and curves", clip_id=clip_id)
if config is None:
    st.stop()
layer = None
if embodiment != ROBOT_NONE:
    layer = guard.attempt(cache.robot_layer, version, clip_id, embodiment, robot_hand,
                          pose_sources[0] if pose_sources else None, tuple(joint_dims),
                          what=f"draw the {embodiment} hand", clip_id=clip_id, default=False)
    if layer is False:  # the guard said why
        layer = None
    elif layer is None:
        st.warning(f"The {embodiment} retargets of this clip cannot be drawn: the lake does not say which robot "
                   "model they used.", icon=":material/precision_manufacturing:")
    config = viewer.with_robot(config, layer)
if clip["kind"] == "robot" and robot_hand is not None:
    episode_layer = cache.robot_episode_layer(version, cache.store_revision(), clip_id, robot_hand)
    config = viewer.with_robot(config, episode_layer and {"robot": episode_layer, "series": config["series"]})
config = {**config, "src": with_media_key(config["src"], auth_gate.media_key())}  # a copy: the cache's is shared
root = cache.data_root()
config = viewer.with_segment_marks(config, segment_spans(segments_of(root, clip_id)))
st.iframe(viewer.viewer_html(config), height=viewer.viewer_height(config))
if layer is not None:
    st.caption(f"Robot hand: {embodiment}'s links placed at the human wrist (white, outlined), projected "
               f"through the clip's camera ({layer['robot']['camera']}).")
    with st.expander("Robot hand in 3D at a chosen frame", icon=":material/view_in_ar:"):
        robot_figure(layer["robot"]["view3d"], embodiment, clip["n_frames"])

st.markdown("**Segments** · press `i` and `o` in the player to mark a segment's first and last frame")
me = auth_gate.current()
curator = auth_gate.name_field(st, state.VIEWER_CURATOR, me, "Your name", "written with the segments you save")
segment_editor(root, clip_id, int(clip["n_frames"]), curator, auth_gate.why_not(me, "label-text"),
               state.VIEWER_SEGMENTS)

with st.expander("Details", icon=":material/info:"):
    st.dataframe(viewer.clip_details(clip), hide_index=True, width="stretch")
