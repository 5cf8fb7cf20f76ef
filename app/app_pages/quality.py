"""Quality: a histogram per metric over a view's clips, the rule limits drawn on it; click a bar for its clips."""

import plotly.graph_objects as go
import streamlit as st

from app import auth_gate, cache, state
from app.state import (
    QUALITY_CHART,
    QUALITY_COLUMN,
    QUALITY_TASKS,
    QUALITY_VIEW,
)
from curation.review import (
    bin_clips,
    column_label,
    metric_catalog,
    quality_chart,
    resolve_view,
    rules_table,
    selected_bar,
    task_groups,
    view_choices,
)
from curation.rules import RuleSet
from curation.score import run_score
from db.view_spec import METRIC_COLUMNS

SEVERITY_COLORS = {"error": "#b91c1c", "warning": "#d97706", "info": "#2563eb"}

state.init(st.session_state)

st.title("Quality")
engine, root = cache.engine(), cache.data_root()
tasks = task_groups(engine)
if not tasks:
    st.info("No quality metrics yet. Score the catalog with `egocurate score`, or here.", icon=":material/info:")
    blocked = auth_gate.why_not(auth_gate.current(), "score")  # a courtesy: the click asks the store again
    if st.button("Score now", type="primary", icon=":material/speed:", disabled=blocked is not None, help=blocked):
        try:
            auth_gate.allow("score")  # scoring writes as 'rules'; the role is checked at the click all the same
        except auth_gate.AuthError as exc:
            st.error(str(exc))
            st.stop()
        with st.spinner("Scoring clips and applying the noisy-demo rules..."):
            report = run_score(root)
        st.success(f"{report.scored} clips scored, {report.flags.created} flags proposed.")
        st.rerun()
    st.stop()

row = st.columns([1.4, 2, 2])
row[0].selectbox("View", view_choices(root), key=QUALITY_VIEW)
row[1].multiselect("Tasks", tasks, key=QUALITY_TASKS, placeholder="All tasks")
row[2].selectbox("Metric", METRIC_COLUMNS, key=QUALITY_COLUMN, format_func=column_label)
spec = resolve_view(root, st.session_state[QUALITY_VIEW], tuple(st.session_state[QUALITY_TASKS]))
rules = RuleSet.from_yaml()
chart = quality_chart(engine, spec, st.session_state[QUALITY_COLUMN], rules)
st.caption(chart.meaning)

if chart.bins.empty:
    st.info("No clip in this view has a value for this metric (a hand never seen, or not retargeted yet).")
    st.stop()
figure = go.Figure(go.Bar(x=chart.bins["mid"], y=chart.bins["count"], width=chart.bins["width"],
                          customdata=chart.bins[["lo", "hi"]], marker_color="#0f766e",
                          hovertemplate="%{customdata[0]:.4g} - %{customdata[1]:.4g}: %{y} clips<extra></extra>"))
for line in chart.lines:
    figure.add_vline(x=line.value, line_dash="dash", line_color=SEVERITY_COLORS.get(line.severity, "#374151"),
                     annotation_text=line.label, annotation_textangle=-90, annotation_font_size=10)
figure.update_layout(xaxis_title=chart.label, yaxis_title="clips", bargap=0.05, height=380,
                     margin={"l": 10, "r": 10, "t": 30, "b": 10}, clickmode="event+select")
event = st.plotly_chart(figure, key=QUALITY_CHART, on_select="rerun", selection_mode="points")
st.caption("Dashed lines: rule limits (one per task and pose source for task-relative rules). Click a bar to list "
           "its clips.")

bar = selected_bar(event)
if bar:
    lo, hi = bar
    clips = bin_clips(engine, spec, chart.column, lo, hi)
    st.subheader(f"{len(clips)} clips with {chart.label} in [{lo:.4g}, {hi:.4g}]", anchor=False)
    st.dataframe(clips, hide_index=True, width="stretch")

with st.expander("Rules", icon=":material/rule:"):
    st.dataframe(rules_table(rules), hide_index=True, width="stretch")
with st.expander("What each metric means", icon=":material/menu_book:"):
    st.dataframe(metric_catalog(), hide_index=True, width="stretch")
