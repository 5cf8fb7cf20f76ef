"""Session-state keys, declared once, page-prefixed; pages set them with `setdefault`."""

from __future__ import annotations

CLIPS_PAGE = "clips.page"
CLIPS_FILTER = "clips.filter"
VIEWER_CLIP_ID = "viewer.clip_id"
SQL_QUERY = "sql.query"

DEFAULTS: dict[str, object] = {
    CLIPS_PAGE: 0,
    CLIPS_FILTER: None,
    VIEWER_CLIP_ID: None,
    SQL_QUERY: "SELECT kind, source, count(*) AS clips FROM clips GROUP BY ALL",
}


def init(session_state) -> None:  # noqa: ANN001 (streamlit's SessionStateProxy)
    for key, value in DEFAULTS.items():
        session_state.setdefault(key, value)
