"""The ASGI app: Streamlit's router plus our own routes (clip media with Range support).

Started by `egocurate app` as `streamlit run app/serve.py`. Streamlit's static serving cannot
reach the data root, so media are mounted here under `/media-files/`.
"""

from __future__ import annotations

import streamlit as st
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from db import paths

ROOT = paths.resolve_root()
(ROOT / paths.PROXY_DIR).mkdir(parents=True, exist_ok=True)

app = st.App(
    "streamlit_app.py",
    routes=[Mount("/proxies", app=StaticFiles(directory=ROOT / paths.PROXY_DIR), name="proxies")],
)
