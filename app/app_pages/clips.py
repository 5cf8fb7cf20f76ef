"""Clips: filter, sort and page through the catalog; a card or a table row opens the viewer."""

import streamlit as st

from app import auth_gate, cache, state
from app.components import clips

VIEWER_PAGE = "app_pages/viewer.py"
GRID_COLUMNS = 4

st.title("Clips")
version = cache.lake_version()
facets = cache.clip_facets(version)
if facets.total == 0:
    st.info("No clips yet. Ingest some with `egocurate ingest PATH...`.", icon=":material/info:")
    st.stop()

bounds = clips.duration_bounds(facets.max_duration_s)
if st.session_state[state.CLIPS_DURATION_BOUNDS] != bounds:  # first visit, or the catalog changed
    st.session_state[state.CLIPS_DURATION_BOUNDS] = bounds
    st.session_state[state.CLIPS_DURATION] = bounds
low, high = bounds

with st.container(border=True):
    row = st.columns([1.2, 1.6, 2.2, 2.2])
    row[0].multiselect("Kind", facets.kinds, key=state.CLIPS_KINDS, placeholder="All kinds", persist_state="session")
    row[1].multiselect("Source", facets.sources, key=state.CLIPS_SOURCES, placeholder="All sources",
                       persist_state="session")
    row[2].text_input("Task contains", key=state.CLIPS_TASK, placeholder="e.g. pick", persist_state="session")
    row[3].slider("Duration", low, high, key=state.CLIPS_DURATION, step=0.5, format="%.1f s",
                  persist_state="session")
    row = st.columns([2, 1.2, 1.6, 1.2, 2.2], vertical_alignment="bottom")
    row[0].selectbox("Sort by", clips.CLIP_SORT_COLUMNS, key=state.CLIPS_SORT, format_func=clips.SORT_LABELS.get,
                     persist_state="session")
    row[1].toggle("Descending", key=state.CLIPS_DESCENDING, persist_state="session")
    row[2].segmented_control("View", state.VIEWS, key=state.CLIPS_VIEW, required=True, persist_state="session")
    row[3].selectbox("Per page", state.PAGE_SIZES, key=state.CLIPS_PAGE_SIZE, persist_state="session")

spec = clips.clip_filter(st.session_state[state.CLIPS_KINDS], st.session_state[state.CLIPS_SOURCES],
                         st.session_state[state.CLIPS_TASK], st.session_state[state.CLIPS_DURATION],
                         facets.max_duration_s)
if spec != st.session_state[state.CLIPS_FILTER]:
    st.session_state[state.CLIPS_FILTER] = spec
    st.session_state[state.CLIPS_PAGE] = 0
result = cache.clip_page(version, clips.sorted_by(spec, st.session_state[state.CLIPS_SORT],
                                                  st.session_state[state.CLIPS_DESCENDING]),
                         st.session_state[state.CLIPS_PAGE], st.session_state[state.CLIPS_PAGE_SIZE])
st.session_state[state.CLIPS_PAGE] = result.page


def turn_page(delta: int) -> None:
    st.session_state[state.CLIPS_PAGE] += delta


pager = st.columns([6, 1, 1], vertical_alignment="center")
pager[0].markdown(f"**{result.total:,}** clips match · page **{result.page + 1:,}** of {result.n_pages:,}")
pager[1].button("Previous", icon=":material/chevron_left:", on_click=turn_page, args=(-1,),
                disabled=result.page == 0, width="stretch")
pager[2].button("Next", icon=":material/chevron_right:", on_click=turn_page, args=(1,),
                disabled=result.page + 1 >= result.n_pages, width="stretch")

if result.total == 0:
    st.info("No clip matches these filters.", icon=":material/filter_alt_off:")
elif st.session_state[state.CLIPS_VIEW] == "Table":
    picked = st.dataframe(
        clips.clip_table(result.rows, auth_gate.media_key()), hide_index=True, width="stretch", on_select="rerun",
        selection_mode="single-row", key=f"clips.table.{result.page}", row_height=64,
        column_config={"thumb": st.column_config.ImageColumn("", width="small"),
                       "duration_s": st.column_config.NumberColumn("duration (s)", format="%.2f")})
    clip_id = clips.selected_clip_id(result.rows, picked.selection.rows)
    if clip_id:
        st.session_state[state.VIEWER_CLIP_ID] = clip_id
        st.switch_page(VIEWER_PAGE, query_params={"clip": clip_id})
else:
    cards = clips.clip_cards(result.rows, auth_gate.media_key())
    for start in range(0, len(cards), GRID_COLUMNS):
        for column, card in zip(st.columns(GRID_COLUMNS), cards[start:start + GRID_COLUMNS], strict=False):
            with column.container(border=True, gap="small"):
                st.html(card.html())
                st.page_link(VIEWER_PAGE, label="Open", icon=":material/play_circle:",
                             query_params={"clip": card.clip_id}, help=f"Open clip {card.clip_id} in the viewer")
