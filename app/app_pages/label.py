"""Label: start a MediaPipe labelling job on a selection and follow it live (it outlives the page)."""

import streamlit as st

from app import auth_gate, cache, state
from app.components.label_jobs import fraction_done, job_row, label_choices
from labeling.pose.label_jobs import job_status, label_jobs, start_label_job

state.init(st.session_state)
st.title("Label")
st.caption("MediaPipe Hands (bundled models, tracking mode) on human clips without MediaPipe poses. "
           "The job runs in its own process: close the page and come back, it goes on.")
root, choices = cache.data_root(), label_choices(cache.engine())
columns = st.columns(3)
columns[0].metric("Human clips", choices.human_clips)
columns[1].metric("With MediaPipe poses", choices.labelled)
columns[2].metric("Without", len(choices.unlabelled_ids))

with st.form("label.form", border=True):
    scope = st.radio("Clips", ["All without MediaPipe poses", "Choose clips"], horizontal=True,
                     key=state.LABEL_SCOPE)
    chosen = st.multiselect("Chosen clips", list(choices.choosable), format_func=choices.choosable.get,
                            key=state.LABEL_CLIPS, placeholder="Pick clips (used with 'Choose clips')")
    row = st.columns(5)
    stride = row[0].number_input("Frame stride", 1, 100, key=state.LABEL_STRIDE,
                                 help="Label every k-th frame.")
    complexity = row[1].selectbox("Model", [1, 0], key=state.LABEL_COMPLEXITY,
                                  format_func=lambda c: "full" if c else "lite")
    max_side = row[2].number_input("Max side (px)", 64, 8192, step=64, key=state.LABEL_MAX_SIDE,
                                   help="Frames are scaled so their longer side is at most this for detection.")
    workers = row[3].number_input("Workers", 1, 64, key=state.LABEL_WORKERS)
    executor = row[4].selectbox("Executor", ["local", "ray"], key=state.LABEL_EXECUTOR)
    blocked = auth_gate.why_not(auth_gate.current(), "label-job")  # a courtesy: the start asks the store again
    start = st.form_submit_button("Start labelling", type="primary", icon=":material/play_arrow:",
                                  disabled=blocked is not None, help=blocked)

if start:
    clip_ids = list(choices.unlabelled_ids) if scope.startswith("All") else chosen
    if not clip_ids:
        st.warning("Nothing to label: every human clip has MediaPipe poses, or no clip is chosen.")
    else:
        try:
            auth_gate.allow("label-job")  # jobs record no author; the role is checked at the click all the same
            st.session_state[state.LABEL_JOB_ID] = start_label_job(
                root, clip_ids=clip_ids, stride=int(stride), model_complexity=int(complexity),
                max_side_px=int(max_side), workers=int(workers), executor=executor)
        except (auth_gate.AuthError, ValueError) as exc:
            st.error(str(exc))


@st.fragment(run_every=2)
def live_progress() -> None:
    """Re-drawn every 2 s from the store, so it shows jobs started anywhere (page, CLI)."""
    jobs = label_jobs(root)
    if not jobs:
        st.info("No labelling job yet.")
        return
    job_id = st.session_state[state.LABEL_JOB_ID] or jobs[0].job_id
    current = job_status(root, job_id)
    st.subheader(f"Job {current.job_id}: {current.state}")
    st.progress(fraction_done(current), text=" · ".join(f"{k} {v}" for k, v in job_row(current).items()
                                                        if k in ("clips", "frames", "frames/s", "ETA")))
    if current.failures:
        st.dataframe([{"item": f.item, "reason": f.reason} for f in current.failures], hide_index=True)
    st.dataframe([job_row(job) for job in jobs], hide_index=True, use_container_width=True)


live_progress()
