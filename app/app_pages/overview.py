"""Overview: what is catalogued, by kind, source and task."""

import plotly.express as px
import streamlit as st

from app import cache
from db.queries import clip_summary, pose_coverage

st.title("Overview")
summary = clip_summary(cache.engine())
if summary.empty:
    st.info("No clips yet. Ingest some with `egocurate ingest PATH...` or build the demo set with "
            "`egocurate demo`.")
    st.stop()

by_kind = summary.groupby("kind", as_index=False)[["clips", "hours"]].sum()
columns = st.columns(len(by_kind) + 1)
columns[0].metric("Clips", int(summary["clips"].sum()))
for column, row in zip(columns[1:], by_kind.itertuples(), strict=True):
    column.metric(f"{row.kind} hours", f"{row.hours:.2f}", f"{row.clips} clips", delta_color="off")

left, right = st.columns(2)
left.plotly_chart(px.bar(summary, x="task", y="clips", color="source", title="Clips per task"),
                  use_container_width=True)
right.plotly_chart(px.bar(summary, x="task", y="hours", color="kind", title="Hours per task"),
                   use_container_width=True)
coverage = pose_coverage(cache.engine())
if not coverage.empty:
    st.plotly_chart(px.bar(coverage, x="pose_source", y="present_fraction", text="clips",
                           title="Hand presence by pose source (label: clips with poses)"),
                    use_container_width=True)
st.dataframe(summary, hide_index=True, use_container_width=True)
