"""Session-state keys, declared once, page-prefixed; pages set them with `setdefault`.

Widgets bound to these keys pass `persist_state="session"`, so filters and choices survive a
trip to the viewer and back (Streamlit otherwise drops the state of widgets a run does not draw).
"""

from __future__ import annotations

# Clips page
CLIPS_KINDS = "clips.kinds"  # multiselect: 'human' / 'robot'
CLIPS_SOURCES = "clips.sources"  # multiselect of ingest sources
CLIPS_TASK = "clips.task"  # task text contains
CLIPS_DURATION = "clips.duration"  # (min_s, max_s) slider, None until the page knows the range
CLIPS_DURATION_BOUNDS = "clips.duration_bounds"  # the slider's range when it was set (new clips reset it)
CLIPS_SORT = "clips.sort"  # a db.queries.CLIP_SORT_COLUMNS entry
CLIPS_DESCENDING = "clips.descending"
CLIPS_VIEW = "clips.view"  # 'Grid' | 'Table'
CLIPS_PAGE_SIZE = "clips.page_size"
CLIPS_PAGE = "clips.page"  # 0-based page number
CLIPS_FILTER = "clips.filter"  # the db.queries.ClipFilter last shown (the page resets to 0 when it changes)

# Clip viewer
VIEWER_CLIP_ID = "viewer.clip_id"
VIEWER_POSE_SOURCE = "viewer.pose_source"  # a pose source name, or 'all'
VIEWER_STATE_DIMS = "viewer.state_dims"  # robot: state vector indexes shown as curves
VIEWER_ACTION_DIMS = "viewer.action_dims"
VIEWER_DIMS_CLIP = "viewer.dims_clip"  # the clip the dims above were chosen for

# SQL page
SQL_QUERY = "sql.query"
SQL_EXAMPLE = "sql.example"  # the examples selectbox (loads its query into SQL_QUERY)

VIEWS = ("Grid", "Table")
PAGE_SIZES = (24, 48, 96)

DEFAULTS: dict[str, object] = {
    CLIPS_KINDS: [],
    CLIPS_SOURCES: [],
    CLIPS_TASK: "",
    CLIPS_DURATION: None,
    CLIPS_DURATION_BOUNDS: None,
    CLIPS_SORT: "clip_id",
    CLIPS_DESCENDING: False,
    CLIPS_VIEW: VIEWS[0],
    CLIPS_PAGE_SIZE: PAGE_SIZES[0],
    CLIPS_PAGE: 0,
    CLIPS_FILTER: None,
    VIEWER_CLIP_ID: None,
    VIEWER_POSE_SOURCE: None,
    VIEWER_STATE_DIMS: [],
    VIEWER_ACTION_DIMS: [],
    VIEWER_DIMS_CLIP: None,
    SQL_QUERY: "SELECT kind, source, count(*) AS clips FROM clips GROUP BY ALL",
}


def init(session_state) -> None:  # noqa: ANN001 (streamlit's SessionStateProxy)
    """Set every declared key that is missing to its default."""
    for key, value in DEFAULTS.items():
        session_state.setdefault(key, value)
