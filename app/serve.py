"""The ASGI app: Streamlit's router plus our own routes (clip media with Range support).

Started by `egocurate app` as `streamlit run app/serve.py`. Streamlit's static serving cannot
reach the data root, so clip videos and thumbnails are served by `app/media.py` under
`/egocurate/`.
"""

from __future__ import annotations

import sys

import streamlit as st
from starlette.middleware import Middleware

from app.launch import BindRefused, check_bind
from app.media import media_routes
from app.page_shell import PageShell
from app.session_cookie import auth_routes
from db import paths

ROOT = paths.resolve_root()
# Also here, not only in `egocurate app`: `streamlit run app/serve.py --server.address=...` skips the CLI.
# Unset, Streamlit listens on every interface.
try:
    check_bind(ROOT, st.config.get_option("server.address") or "0.0.0.0")
except BindRefused as refused:  # the reason, not a traceback
    print(f"error: {refused}", file=sys.stderr, flush=True)
    raise SystemExit(2) from None

shell = Middleware(PageShell, base_path=st.config.get_option("server.baseUrlPath") or "")  # no 404 probes
app = st.App("streamlit_app.py", routes=[*media_routes(ROOT), *auth_routes()], middleware=[shell])
