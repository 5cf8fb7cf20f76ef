"""Every Streamlit cache wrapper lives here (HOUSE_STYLE 3)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from db import paths
from db.engine import QueryEngine, query_engine


@st.cache_resource
def engine() -> QueryEngine:
    """The process's DuckDB query engine over the data root (never mutated by pages)."""
    return query_engine(paths.resolve_root())


def data_root() -> Path:
    return engine().root
