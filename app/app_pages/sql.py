"""SQL: read-only queries over the public views, capped in rows and time."""

import streamlit as st

from app import cache, state
from db.queries.door import SQL_ROW_CAP, SQL_TIMEOUT_S, SqlError, run_readonly_sql

EXAMPLES = {
    "Clips per kind and source": state.DEFAULTS[state.SQL_QUERY],
    "Longest human clips": "SELECT clip_id, source, task, duration_s FROM clips WHERE kind = 'human'\n"
                           "ORDER BY duration_s DESC LIMIT 20",
    "Hand presence per clip": "SELECT clip_id, pose_source, hand, avg(present::INT) AS present, avg(score) AS score\n"
                              "FROM frames GROUP BY ALL ORDER BY present",
    "Robot episodes per task": "SELECT task, count(*) AS episodes, sum(n_frames) AS frames FROM clips\n"
                               "WHERE kind = 'robot' GROUP BY task ORDER BY episodes DESC",
}


def use_example() -> None:
    st.session_state[state.SQL_QUERY] = EXAMPLES[st.session_state[state.SQL_EXAMPLE]]


st.title("SQL")
st.caption(f"One read-only `SELECT` over the public views. At most {SQL_ROW_CAP:,} rows; "
           f"stopped after {SQL_TIMEOUT_S:g} s. Ctrl+Enter runs it.")
left, right = st.columns([3, 1])
right.selectbox("Examples", list(EXAMPLES), key=state.SQL_EXAMPLE, index=None, placeholder="Load an example",
                on_change=use_example)
with right.expander("Views and columns", icon=":material/table_view:"):
    st.dataframe(cache.public_columns(cache.lake_version()), hide_index=True, width="stretch", height=360)
with left.form("sql.form", border=False):
    query = st.text_area("Query", key=state.SQL_QUERY, height=160, persist_state="session")
    run = st.form_submit_button("Run", type="primary", icon=":material/play_arrow:")
if run:
    try:
        result = run_readonly_sql(cache.engine(), query)
    except SqlError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        note = f" (truncated to the first {SQL_ROW_CAP:,})" if result.truncated else ""
        st.caption(f"{len(result.frame):,} rows{note} in {result.elapsed_s * 1000:.0f} ms")
        st.dataframe(result.frame, hide_index=True, width="stretch")
        st.download_button("Download CSV", result.frame.to_csv(index=False), "query.csv", "text/csv",
                           icon=":material/download:")
