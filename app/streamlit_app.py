"""The router: one `st.navigation` with the app's sections; pages live in app_pages/."""

from __future__ import annotations

import streamlit as st

from app import state
from app.components.brand import favicon

st.set_page_config(page_title="EgoCurate", page_icon=favicon(), layout="wide")
state.init(st.session_state)

pages = {
    "Curate": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("app_pages/clips.py", title="Clips", icon=":material/video_library:", url_path="clips"),
        st.Page("app_pages/viewer.py", title="Clip viewer", icon=":material/play_circle:", url_path="viewer"),
        st.Page("app_pages/quality.py", title="Quality", icon=":material/monitoring:", url_path="quality"),
        st.Page("app_pages/review.py", title="Review", icon=":material/rule:", url_path="review"),
        st.Page("app_pages/sql.py", title="SQL", icon=":material/terminal:", url_path="sql"),
    ],
    "Label": [
        st.Page("app_pages/label.py", title="Label", icon=":material/back_hand:", url_path="label"),
    ],
    "Align": [
        st.Page("app_pages/pairs.py", title="Pairs", icon=":material/compare_arrows:", url_path="pairs"),
    ],
    "Export": [
        st.Page("app_pages/export.py", title="Export", icon=":material/download:", url_path="export"),
    ],
}
st.navigation(pages).run()
