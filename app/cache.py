"""Every Streamlit cache wrapper lives here (HOUSE_STYLE 3).

Results are keyed by the lake's version token (it changes with every commit), so a new ingest
shows up on the next rerun without clearing anything by hand.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app.components import robot_episode, robot_overlay, viewer
from db import paths
from db.engine import QueryEngine, query_engine
from db.queries import clips, door, frames, views
from db.view_spec import ViewSpec


@st.cache_resource
def _engine_for(root: str) -> QueryEngine:
    return query_engine(Path(root))


def engine() -> QueryEngine:
    """The DuckDB query engine over the data root (never mutated by pages), one per root."""
    return _engine_for(str(paths.resolve_root()))


def data_root() -> Path:
    return engine().root


def lake_version() -> tuple[str, int, int]:
    """The cache key of everything read from the lake: the root, then a token that moves with
    every commit (cheap: one directory listing)."""
    return (str(data_root()), *engine().lake.version())


@st.cache_data(max_entries=4, show_spinner=False)
def overview(version: tuple[str, int, int]) -> tuple[clips.CatalogTotals, dict[str, pd.DataFrame]]:
    """The Overview page's numbers and tables: totals by source, top tasks, pose coverage."""
    e = engine()
    return clips.catalog_totals(e), {"source": clips.clip_totals(e, "source"), "tasks": clips.task_totals(e),
                                     "coverage": frames.pose_coverage_by_hand(e)}


@st.cache_data(max_entries=4, show_spinner=False)
def clip_facets(version: tuple[str, int, int]) -> clips.ClipFacets:
    return clips.clip_facets(engine())


@st.cache_data(max_entries=64, show_spinner=False)
def clip_page(version: tuple[str, int, int], spec: ViewSpec, page: int, page_size: int) -> views.ClipPage:
    return views.clip_page(engine(), spec, page, page_size)


@st.cache_data(max_entries=256, show_spinner=False)
def clip(version: tuple[str, int, int], clip_id: str) -> dict | None:
    return clips.get_clip(engine(), clip_id)


@st.cache_data(max_entries=256, show_spinner=False)
def pose_sources(version: tuple[str, int, int], clip_id: str) -> list[str]:
    return frames.clip_pose_sources(engine(), clip_id)


@st.cache_data(max_entries=16, show_spinner=False)
def viewer_config(version: tuple[str, int, int], clip_id: str, sources: tuple[str, ...],
                  state_dims: tuple[int, ...], action_dims: tuple[int, ...]) -> dict | None:
    """The player's JSON for a clip (None for an unknown clip)."""
    return viewer.clip_viewer_config(engine(), clip_id, sources, {"state": list(state_dims),
                                                                   "action": list(action_dims)})


@st.cache_data(max_entries=64, show_spinner=False)
def clip_neighbours(version: tuple[str, int, int], clip_id: str, spec: ViewSpec) -> tuple[str | None, str | None]:
    return views.clip_neighbours(engine(), clip_id, spec)


@st.cache_data(max_entries=16, show_spinner=False)
def robot_dim_choices(version: tuple[str, int, int], clip_id: str) -> dict[str, dict[str, list]]:
    return viewer.robot_dim_choices(engine(), clip_id)


@st.cache_data(max_entries=4, show_spinner=False)
def public_columns(version: tuple[str, int, int]) -> pd.DataFrame:
    return door.public_columns(engine())


@st.cache_data(max_entries=256, show_spinner=False)
def robot_choices(version: tuple[str, int, int], clip_id: str) -> dict[str, list[str]]:
    """Embodiments a clip was retargeted to, and their hands."""
    return robot_overlay.robot_choices(engine(), clip_id)


@st.cache_data(max_entries=32, show_spinner=False)
def robot_joint_choices(version: tuple[str, int, int], clip_id: str, hand: str, embodiment: str) -> dict[str, list]:
    """The retargeted hand's joint names and the joints drawn first."""
    return robot_overlay.joint_choices(engine(), clip_id, hand, embodiment)


@st.cache_data(max_entries=16, show_spinner="Placing the robot hand...")
def robot_layer(version: tuple[str, int, int], clip_id: str, embodiment: str, hand: str | None,
                pose_source: str | None, joint_dims: tuple[int, ...]) -> dict | None:
    """The robot hand's part of the player's JSON (`robot_overlay.clip_robot_layer`)."""
    return robot_overlay.clip_robot_layer(engine(), clip_id, embodiment, hand, pose_source, joint_dims,
                                          max_dims=viewer.MAX_SERIES_DIMS)


def store_revision() -> int:
    """The annotation store's revision: with the lake version, the key of what reads specs and decisions."""
    from db.store import store_revision as revision

    return revision(data_root())


@st.cache_data(max_entries=256, show_spinner=False)
def robot_episode_hands(version: tuple[str, int, int], revision: int, clip_id: str) -> list[str]:
    """The sides a robot episode's embodiment spec lets the viewer draw (`robot_episode.episode_hands`)."""
    return robot_episode.episode_hands(engine(), clip_id)


@st.cache_data(max_entries=16, show_spinner="Drawing the robot hand from its state...")
def robot_episode_layer(version: tuple[str, int, int], revision: int, clip_id: str, side: str) -> dict | None:
    """A robot episode's own hand for the player (`robot_episode.episode_robot_layer`)."""
    return robot_episode.episode_robot_layer(engine(), clip_id, side)


@st.cache_data(max_entries=1, show_spinner=False)
def train_device() -> str:
    """What a new training run here trains on (imports torch once per server process)."""
    from trainer.runs import default_device

    return default_device()
