"""Scaling: human validation loss against human hours, fitted as L = a + b ln(hours), and the robot validation loss
after midtraining against it, from a scaling run (or launch one)."""

import streamlit as st

from app import auth_gate, cache, state
from app.components.train_runs import run_row, run_title, scaling_metrics, scaling_rows, validation_caption
from trainer.runs import ACTIVE, CONFIG_NAMES, export_choices, list_runs, start_run
from trainer.scaling import read_scaling
from trainer.scaling_figures import scaling_figure, transfer_figure

REFRESH_S = 3  # how often an active scaling run is re-read
TABLE_ROW_PX, TABLE_MAX_PX = 35, 800  # st.dataframe's row height; the runs table grows to at most this

state.init(st.session_state)
st.title("Scaling")
root = cache.data_root()
st.caption("EgoScale's two claims on your export: human validation loss falls log-linearly with hours of human data "
           "(nested shares of the human training hours, steps in proportion, several seeds each with its own draw of "
           "episodes, all scored on the "
           "same held-out episodes; the fit is L = a + b·ln(hours)), and that loss predicts the robot validation loss "
           "after midtraining each checkpoint on the same robot episodes.")


# A write action: a small function, so a role check can wrap it.
def launch_scaling(data_dir: str, config_name: str, fractions: list[float], seeds: int, author: str) -> None:
    try:
        run_id = start_run(root, data_dir, "scaling", config_name, author=auth_gate.author("train", author or "app"),
                           fractions=fractions, seeds=seeds)
        st.session_state[state.SCALING_RUN_ID] = run_id
        st.session_state[state.SCALING_MESSAGE] = ("success", f"Started scaling run {run_id} "
                                                              f"on {cache.train_device()}.")
    except (auth_gate.AuthError, ValueError) as exc:
        st.session_state[state.SCALING_MESSAGE] = ("error", str(exc))


runs = list_runs(root, "scaling")
exports = export_choices(root)
if st.session_state[state.SCALING_EXPORT] not in exports:
    st.session_state[state.SCALING_EXPORT] = next(iter(exports), None)
with st.expander("Launch a scaling run", expanded=not runs):
    row = st.columns([3, 2])
    row[0].selectbox("Export", list(exports), format_func=exports.get, key=state.SCALING_EXPORT,
                     placeholder="No finished export yet: type a folder")
    row[1].text_input("or an export folder", key=state.SCALING_EXPORT_PATH, placeholder="/path/to/export")
    row = st.columns([1, 2.5, 0.8, 1.5, 1])
    row[0].selectbox("Config", CONFIG_NAMES, key=state.SCALING_CONFIG)
    row[1].multiselect("Fractions of the human hours", state.SCALING_FRACTION_CHOICES, key=state.SCALING_FRACTIONS)
    row[2].number_input("Seeds", min_value=1, max_value=99, step=1, key=state.SCALING_SEEDS,
                        help="Pretrain runs per fraction, each with its own draw of episodes (the seed spread)")
    me = auth_gate.current()
    blocked = auth_gate.why_not(me, "train")  # a courtesy: launch_scaling asks the store again
    auth_gate.name_field(row[3], state.SCALING_AUTHOR, me, "Your name", "recorded with the run")
    row[4].write("")
    if row[4].button("Launch", type="primary", icon=":material/play_arrow:", key="scaling_launch",
                     disabled=blocked is not None, help=blocked):
        data_dir = st.session_state[state.SCALING_EXPORT_PATH].strip() or st.session_state[state.SCALING_EXPORT]
        if not data_dir:
            st.session_state[state.SCALING_MESSAGE] = ("error", "Pick an export or type its folder.")
        else:
            launch_scaling(data_dir, st.session_state[state.SCALING_CONFIG], st.session_state[state.SCALING_FRACTIONS],
                           int(st.session_state[state.SCALING_SEEDS]), st.session_state[state.SCALING_AUTHOR].strip())
        st.rerun()
if st.session_state[state.SCALING_MESSAGE]:
    kind, text = st.session_state[state.SCALING_MESSAGE]
    (st.error if kind == "error" else st.success)(text)

if not runs:
    st.info("No scaling run yet. Launch one above (`egocurate demo` starts one on the demo export).")
    st.stop()
ids = {r.run_id: run_title(r) for r in runs}
if st.session_state[state.SCALING_RUN_ID] not in ids:
    done = [r.run_id for r in runs if r.state == "done"]
    st.session_state[state.SCALING_RUN_ID] = done[0] if done else runs[0].run_id
st.selectbox("Scaling run", list(ids), format_func=ids.get, key=state.SCALING_RUN_ID)
chosen = next(r for r in runs if r.run_id == st.session_state[state.SCALING_RUN_ID])


@st.fragment(run_every=REFRESH_S if chosen.state in ACTIVE else None)
def progress() -> None:
    """While the run trains: where it is (re-read every REFRESH_S); once it ends, the whole page once more."""
    run = next(r for r in list_runs(root, "scaling") if r.run_id == chosen.run_id)
    if run.state != chosen.state:
        st.rerun()
    st.dataframe([run_row(run)], hide_index=True, width="stretch")
    if run.state in ACTIVE:
        st.info(f"Training {run.part or 'its first fraction'} (step {run.step}/{run.max_steps or '?'}) of fractions "
                f"{', '.join(f'{f:g}' for f in run.fractions)}; the fit appears when the last one is done.")
    elif run.state != "done":
        st.warning(f"This scaling run is {run.state}: {run.message}. Resume it on the Train page, or launch "
                   "a new one.")


progress()
if chosen.state == "done":
    result = read_scaling(chosen.out_dir)
    metrics = scaling_metrics(result)
    for col, (label, value) in zip(st.columns([1, 1, 1.8, 0.8, 0.7, 1]), metrics.items(), strict=True):
        col.metric(label, value)
    st.caption(validation_caption(result))
    left, right = st.columns(2)
    left.plotly_chart(scaling_figure(result), key="scaling_fit")
    if result.transfer is not None:
        right.plotly_chart(transfer_figure(result), key="scaling_transfer")
    else:
        right.info("No transfer curve: this study midtrained nothing (no robot episodes in the export, or turned off).")
    rows = scaling_rows(result)
    # Tall enough for every run (3 seeds x 4 fractions and more) without an inner scrollbar, up to a screen's worth.
    st.dataframe(rows, hide_index=True, width="stretch", height=min(TABLE_MAX_PX, TABLE_ROW_PX * (len(rows) + 1) + 3))
