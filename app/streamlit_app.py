"""The router: one `st.navigation` with the app's sections; pages live in app_pages/."""

from __future__ import annotations

import streamlit as st

from app import state

st.set_page_config(page_title="EgoCurate", page_icon=":material/back_hand:", layout="wide")
state.init(st.session_state)

pages = {
    "Curate": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("app_pages/sql.py", title="SQL", icon=":material/terminal:"),
    ],
}
st.navigation(pages).run()
