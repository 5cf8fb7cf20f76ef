"""Overview: what is catalogued, by kind, source and task, and how much of it has hand poses."""

import streamlit as st

from app import cache
from app.components import charts
from app.components.clips import format_duration

st.title("Overview")
totals, tables = cache.overview(cache.lake_version())
if totals.clips == 0:
    st.info("No clips yet. Ingest some with `egocurate ingest PATH...` or build the demo set with "
            "`egocurate demo`.", icon=":material/info:")
    st.stop()

metrics = st.columns(4, border=True)
metrics[0].metric("Clips", f"{totals.clips:,}")
metrics[1].metric("Human video", format_duration(totals.human_hours * 3600), f"{totals.human_clips:,} clips",
                  delta_color="off", delta_arrow="off")
metrics[2].metric("Robot episodes", format_duration(totals.robot_hours * 3600), f"{totals.robot_clips:,} episodes",
                  delta_color="off", delta_arrow="off")
metrics[3].metric("Clips with hand poses", f"{totals.clips_with_poses:,}",
                  f"of {totals.human_clips:,} human clips", delta_color="off", delta_arrow="off")

left, right = st.columns(2)
left.plotly_chart(charts.hours_by_source(tables["source"]), width="stretch")
if totals.clips_with_poses:
    right.plotly_chart(charts.pose_coverage(tables["coverage"]), width="stretch")
else:
    right.info("No hand poses yet: EgoDex clips bring theirs; `egocurate label` computes them for the rest.",
               icon=":material/back_hand:")
st.plotly_chart(charts.hours_by_task(tables["tasks"]), width="stretch")
with st.expander("Totals by source"):
    st.dataframe(tables["source"], hide_index=True, width="stretch",
                 column_config={"hours": st.column_config.NumberColumn(format="%.3f")})
