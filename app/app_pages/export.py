"""Export: choose a saved view and a format, see what goes in and which frames are cut, write it (atomically),
list past exports."""

from pathlib import Path

import streamlit as st

from app import auth_gate, cache, state
from app.state import (
    EXPORT_AUTHOR,
    EXPORT_CODEC,
    EXPORT_FORMAT,
    EXPORT_GR00T,
    EXPORT_MESSAGE,
    EXPORT_MIN_EPISODE_S,
    EXPORT_OUT_DIR,
    EXPORT_OVERWRITE,
    EXPORT_SUBTASKS,
    EXPORT_TRIM_ABSENT,
    EXPORT_TRIM_IDLE,
    EXPORT_UNPAIRED,
    EXPORT_VIEW,
)
from curation.export_episodes import CODECS, VideoSpec
from curation.export_lerobot import ExportError, list_exports, run_export
from curation.export_mixture import embodiment_summary
from curation.export_plan import FORMATS, ExportConfig, default_out_dir, preview_export
from curation.views import list_views

state.init(st.session_state)

st.title("Export")
root = cache.data_root()
views = [state.EXPORT_ALL_CLIPS, *list_views(root)["name"].tolist()]
row = st.columns([1.5, 1.2, 1, 1])
row[0].selectbox("Saved view", views, key=EXPORT_VIEW)
row[1].radio("Format", FORMATS, key=EXPORT_FORMAT, horizontal=True)
row[2].selectbox("Video codec", sorted(CODECS), key=EXPORT_CODEC)
row[3].checkbox("GR00T modality.json", key=EXPORT_GR00T, help="meta/modality.json for Isaac GR00T")
view_name = None if st.session_state[EXPORT_VIEW] == state.EXPORT_ALL_CLIPS else st.session_state[EXPORT_VIEW]
suggested = default_out_dir(root, view_name, st.session_state[EXPORT_FORMAT])
row = st.columns([3, 1, 1, 1])
row[0].text_input("Destination folder", key=EXPORT_OUT_DIR, placeholder=str(suggested))
me = auth_gate.current()
typed_author = auth_gate.name_field(row[1], EXPORT_AUTHOR, me, "Your name", "recorded with the export")
row[2].checkbox("Overwrite", key=EXPORT_OVERWRITE, help="replace an existing non-empty folder")
row[3].checkbox("Unpaired human clips", key=EXPORT_UNPAIRED,
                help="also the view's retargeted human clips in no accepted pair: data for human pretraining")
unpaired = st.session_state[EXPORT_UNPAIRED]
row = st.columns([1, 1, 1, 1])
row[0].number_input("Min episode (s)", min_value=0.0, step=0.5, key=EXPORT_MIN_EPISODE_S,
                    help="A cut inside a clip splits it into episodes at least this long; else the longer piece stays")
row[1].checkbox("Trim idle ends", key=EXPORT_TRIM_IDLE,
                help="Also cut a human clip's first and last frames where every wrist is slower than the idle "
                "metric's speed")
row[2].checkbox("Trim untracked hands", key=EXPORT_TRIM_ABSENT,
                help="Also cut the frames where a hand the clip tracks is lost (they would be interpolated)")
row[3].checkbox("Segments as subtasks", key=EXPORT_SUBTASKS,
                help="v3: LeRobot 0.6's subtask rows (LeRobot 0.4 cannot read them); v2.1 + GR00T: annotations")
cutting = {"min_episode_s": st.session_state[EXPORT_MIN_EPISODE_S], "trim_idle": st.session_state[EXPORT_TRIM_IDLE],
           "trim_absent": st.session_state[EXPORT_TRIM_ABSENT]}

plan = preview_export(root, view_name, unpaired_human=unpaired, **cutting)
summary = plan.summary()
st.subheader("What will go in")
cols = st.columns(4)
cols[0].metric("Episodes", len(plan.episodes))
cols[1].metric("Pairs", len(plan.pairs))
cols[2].metric("Hours", f"{summary['hours'].sum():.3f}" if not summary.empty else "0")
cols[3].metric("Pairs left out", len(plan.dropped_pairs))
st.dataframe(summary, hide_index=True, width="stretch")
by_embodiment = embodiment_summary(plan)
if not by_embodiment.empty:
    st.caption("Per embodiment: robots whose state is not the 62-D human layout are written in their own layout, "
               "one LeRobot dataset per embodiment, with a mixture.json and pairs.jsonl linking them.")
    st.dataframe(by_embodiment, hide_index=True, width="stretch",
                 column_config={"hours": st.column_config.NumberColumn(format="%.4f")})
if not plan.dropped_pairs.empty:
    with st.expander(f"{len(plan.dropped_pairs)} accepted pairs left out, and why"):
        st.dataframe(plan.dropped_pairs, hide_index=True, width="stretch")
if not plan.excluded_flags.empty:
    with st.expander(f"{len(plan.excluded_flags)} flags keep clips of this view out"):
        st.dataframe(plan.excluded_flags, hide_index=True, width="stretch")
cut = plan.cut_summary()
if cut.empty:
    st.caption("No frames are cut: no confirmed flag with a frame range, and no trim chosen.")
else:
    st.markdown(f"**Frames cut**: {int(cut['frames'].sum())} ({cut['seconds'].sum():.1f} s) from the clips that go "
                "in; `flag` a confirmed flag's range, `idle` / `absent` the trims, `short` a piece under the minimum.")
    st.dataframe(cut, hide_index=True, width="stretch", column_config={
        "seconds": st.column_config.NumberColumn(format="%.2f")})
    with st.expander(f"{len(plan.cuts)} cut frame ranges"):
        st.dataframe(plan.cuts, hide_index=True, width="stretch")
if not plan.segments.empty:
    st.caption(f"{len(plan.segments)} segment labels on these clips"
               + (" go in as subtasks." if st.session_state[EXPORT_SUBTASKS] else " are left out."))

if st.session_state[EXPORT_MESSAGE]:
    kind, text = st.session_state[EXPORT_MESSAGE]
    (st.error if kind == "error" else st.success)(text)
blocked = auth_gate.why_not(me, "export")  # a courtesy: the click asks the store again below
if not typed_author and not blocked:
    st.caption("Type your name above to export; it is recorded with the export (as on the Pairs page).")
if st.button("Export", type="primary", icon=":material/download:", key="export_run", help=blocked,
             disabled=plan.episodes.empty or bool(blocked) or not typed_author):
    bar = st.progress(0.0, text="starting")
    try:
        author = auth_gate.author("export", typed_author)
        config = ExportConfig(out_dir=Path(st.session_state[EXPORT_OUT_DIR].strip() or suggested),
                              format=st.session_state[EXPORT_FORMAT], view_name=view_name,
                              gr00t=st.session_state[EXPORT_GR00T], overwrite=st.session_state[EXPORT_OVERWRITE],
                              video=VideoSpec(codec=st.session_state[EXPORT_CODEC], keep_aspect=True),
                              author=author, unpaired_human=unpaired, subtasks=st.session_state[EXPORT_SUBTASKS],
                              **cutting)
        result = run_export(root, config, progress=lambda done, total, text: bar.progress(done / max(total, 1),
                                                                                         text=text))
        st.session_state[EXPORT_MESSAGE] = ("success", f"Wrote {result.manifest['counts']['episodes']} episodes "
                                                       f"to {result.out_dir}.")
    except (ExportError, auth_gate.AuthError, ValueError) as exc:
        st.session_state[EXPORT_MESSAGE] = ("error", str(exc))
    st.rerun()

st.subheader("Past exports")
past = list_exports(root)
if past.empty:
    st.caption("No exports yet.")
else:
    # Shown as naive UTC: pyarrow's pandas conversion of tz-aware columns goes through a deprecated pandas path.
    shown = past.drop(columns=["manifest"]).assign(created_at=lambda f: f["created_at"].dt.tz_convert(None))
    st.dataframe(shown, hide_index=True, width="stretch",
                 column_config={"created_at": st.column_config.DatetimeColumn("created (UTC)")})
    chosen = st.selectbox("Manifest of export", past["id"].tolist(), key="export.manifest_id",
                          format_func=lambda i: f"#{i} · {past.set_index('id').loc[i, 'out_dir']}")
    st.json(past.set_index("id").loc[chosen, "manifest"] or {}, expanded=False)
