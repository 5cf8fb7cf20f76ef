"""Train: launch a training run on an export in the background, follow its curves live, stop and resume it."""

from pathlib import Path

import streamlit as st

from app import auth_gate, cache, state
from app.components.train_runs import checkpoint_rows, run_curves, run_row, run_title
from trainer.runs import (
    ACTIVE,
    CONFIG_NAMES,
    RESUMABLE,
    checkpoints,
    export_choices,
    init_choices,
    list_runs,
    resume_run,
    run_log,
    start_run,
    stop_run,
)

REFRESH_S = 2  # how often the runs table and the selected run's curves are re-read while a run is active

state.init(st.session_state)
st.title("Train")
root = cache.data_root()
st.caption(f"Runs train in their own process on **{cache.train_device()}**: close the page and come back, they go on. "
           "Pretrain uses the export's human episodes; midtrain human + robot, from a pretrain checkpoint.")


# Write actions: small functions, so a role check can wrap them.
def launch_run(data_dir: str, stage: str, config_name: str, init: str | None, author: str) -> None:
    try:
        run_id = start_run(root, data_dir, stage, config_name, init, auth_gate.author("train", author or "app"))
        st.session_state[state.TRAIN_RUN_ID] = run_id
        st.session_state[state.TRAIN_MESSAGE] = ("success", f"Started run {run_id} ({stage}, {config_name}).")
    except (auth_gate.AuthError, ValueError) as exc:
        st.session_state[state.TRAIN_MESSAGE] = ("error", str(exc))


def stop(run_id: int) -> None:
    try:
        auth_gate.allow("train")
        stop_run(root, run_id)
        st.session_state[state.TRAIN_MESSAGE] = ("success", f"Asked run {run_id} to stop after its current step.")
    except (KeyError, auth_gate.AuthError, ValueError) as exc:
        st.session_state[state.TRAIN_MESSAGE] = ("error", str(exc))


def resume(run_id: int) -> None:
    try:
        auth_gate.allow("train")
        resume_run(root, run_id)
        st.session_state[state.TRAIN_MESSAGE] = ("success", f"Resuming run {run_id} from its last checkpoint.")
    except (KeyError, auth_gate.AuthError, ValueError) as exc:
        st.session_state[state.TRAIN_MESSAGE] = ("error", str(exc))


me = auth_gate.current()
blocked = auth_gate.why_not(me, "train")  # a courtesy: launch_run, stop and resume ask the store again
exports = export_choices(root)
if st.session_state[state.TRAIN_EXPORT] not in exports:
    st.session_state[state.TRAIN_EXPORT] = next(iter(exports), None)
inits = {state.TRAIN_NO_INIT: state.TRAIN_NO_INIT} | init_choices(root)
if st.session_state[state.TRAIN_INIT] not in inits:
    st.session_state[state.TRAIN_INIT] = next(iter(inits))
with st.container(border=True):
    row = st.columns([3, 2])
    row[0].selectbox("Export", list(exports), format_func=exports.get, key=state.TRAIN_EXPORT,
                     placeholder="No finished export yet: type a folder", help="Finished exports from the Export page.")
    row[1].text_input("or an export folder", key=state.TRAIN_EXPORT_PATH, placeholder="/path/to/export")
    row = st.columns([1.3, 1, 2.2, 1.2, 0.8])
    row[0].radio("Stage", ["pretrain", "midtrain"], key=state.TRAIN_STAGE, horizontal=True)
    row[1].selectbox("Config", CONFIG_NAMES, key=state.TRAIN_CONFIG,
                     help="trainer/configs/: smoke runs in seconds, demo in a minute.")
    row[2].selectbox("Init checkpoint (midtrain)", list(inits), format_func=inits.get, key=state.TRAIN_INIT,
                     disabled=st.session_state[state.TRAIN_STAGE] != "midtrain",
                     help="The last checkpoint of a finished pretrain run.")
    auth_gate.name_field(row[3], state.TRAIN_AUTHOR, me, "Your name", "recorded with the run")
    row[4].write("")
    if row[4].button("Launch", type="primary", icon=":material/play_arrow:", key="train_launch",
                     disabled=blocked is not None, help=blocked):
        data_dir = st.session_state[state.TRAIN_EXPORT_PATH].strip() or st.session_state[state.TRAIN_EXPORT]
        init = st.session_state[state.TRAIN_INIT]
        midtrain = st.session_state[state.TRAIN_STAGE] == "midtrain"
        if not data_dir:
            st.session_state[state.TRAIN_MESSAGE] = ("error", "Pick an export or type its folder.")
        else:
            launch_run(data_dir, st.session_state[state.TRAIN_STAGE], st.session_state[state.TRAIN_CONFIG],
                       init if midtrain and init != state.TRAIN_NO_INIT else None,
                       st.session_state[state.TRAIN_AUTHOR].strip())
if st.session_state[state.TRAIN_MESSAGE]:
    kind, text = st.session_state[state.TRAIN_MESSAGE]
    (st.error if kind == "error" else st.success)(text)

runs = list_runs(root)
if not runs:
    st.info("No training run yet. Pick an export above and launch one (the Scaling page launches scaling runs).")
    st.stop()
if st.session_state[state.TRAIN_RUN_ID] not in {r.run_id for r in runs}:
    st.session_state[state.TRAIN_RUN_ID] = runs[0].run_id
live = any(r.state in ACTIVE for r in runs)


@st.fragment(run_every=REFRESH_S if live else None)
def runs_and_curves() -> None:
    """Re-read from the store and the run folders every REFRESH_S while a run is active (started anywhere)."""
    current = list_runs(root)
    st.dataframe([run_row(r) for r in current], hide_index=True, width="stretch")
    if live and not any(r.state in ACTIVE for r in current):
        st.rerun()  # the last active run ended: redraw the page once, without the timer
    run = next((r for r in current if r.run_id == st.session_state[state.TRAIN_RUN_ID]), current[0])
    labels = {r.run_id: run_title(r) for r in current}  # states change while the page is open
    st.selectbox("Run", list(labels), format_func=labels.get, key=state.TRAIN_RUN_ID)
    row = st.columns([1, 1, 6])
    if row[0].button("Stop", icon=":material/stop:", disabled=run.state not in ACTIVE or blocked is not None,
                     help=blocked, key="train_stop"):
        stop(run.run_id)
        st.rerun()  # the whole page: its message, and the timer that follows the run
    if row[1].button("Resume", icon=":material/replay:", disabled=run.state not in RESUMABLE
                     or blocked is not None, help=blocked, key="train_resume"):
        resume(run.run_id)
        st.rerun()
    row[2].caption(f"**{run.state}** · {run.message or '—'} · {run.out_dir}")
    log = run_log(run)
    if log.empty:
        st.caption("No step logged yet.")
    else:
        st.plotly_chart(run_curves(log), key="train_curves")
    found = checkpoints(run)
    st.subheader("Checkpoints")
    if found:
        st.dataframe(checkpoint_rows(found), hide_index=True, width="stretch")
    else:
        st.caption(f"None yet in {Path(run.out_dir) / 'checkpoints'}.")


runs_and_curves()
