"""The router: one `st.navigation` with the app's sections; pages live in app_pages/.

Sign-in comes first (app/auth_gate.py): once the store has users, no page runs without a live session.
"""

from __future__ import annotations

import streamlit as st

from app import auth_gate, guard, state
from app.components.brand import favicon

st.set_page_config(page_title="EgoCurate", page_icon=favicon(), layout="wide")
state.init(st.session_state)
signed_in = auth_gate.gate() is not None  # False: it drew the sign-in form, and no page may run

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
        st.Page("app_pages/embodiments.py", title="Embodiments", icon=":material/precision_manufacturing:",
                url_path="embodiments"),
    ],
    "Export": [
        st.Page("app_pages/export.py", title="Export", icon=":material/download:", url_path="export"),
    ],
    "Train": [
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("app_pages/scaling.py", title="Scaling", icon=":material/trending_down:", url_path="scaling"),
    ],
}
page = st.navigation(pages, position="sidebar" if signed_in else "hidden")  # hidden still keeps a deep link's page
if signed_in:
    try:
        page.run()
    except Exception as exc:  # noqa: BLE001 (what a page's own guards did not catch: a message, not a traceback)
        guard.show_failure(f"show the {page.title} page", exc, st.query_params.get("clip"),
                           hint="Other pages still work; the details are in the server log (the terminal running "
                                "`egocurate app`).")
