"""SQL: read-only queries over the public views, capped in rows and time."""

import streamlit as st

from app import cache, state
from db.queries import SQL_ROW_CAP, SQL_TIMEOUT_S, SqlError, run_readonly_sql

st.title("SQL")
st.caption(f"One read-only SELECT over `clips`, `frames`, `robot_frames`, `retargets`, `metrics`, "
           f"`flags`, `labels`, `pairs`. At most {SQL_ROW_CAP} rows; stopped after {SQL_TIMEOUT_S:g} s.")
query = st.text_area("Query", key=state.SQL_QUERY, height=140)
if st.button("Run", type="primary"):
    try:
        result = run_readonly_sql(cache.engine(), query)
    except SqlError as exc:
        st.error(str(exc))
    else:
        note = " (truncated)" if result.truncated else ""
        st.caption(f"{len(result.frame)} rows{note} in {result.elapsed_s * 1000:.0f} ms")
        st.dataframe(result.frame, hide_index=True, use_container_width=True)
        st.download_button("Download CSV", result.frame.to_csv(index=False), "query.csv", "text/csv")
