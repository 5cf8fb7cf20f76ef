"""The Clips page's logic: view specs from widget values, cards and table rows (no Streamlit here)."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, replace

import pandas as pd

from app.media import thumb_url
from db.view_spec import ViewSpec

SORT_LABELS = {  # the clips columns the page sorts by (db.view_spec.SORT_COLUMNS has them all), as it names them
    "clip_id": "Clip id", "kind": "Kind", "source": "Source", "task": "Task", "duration_s": "Duration",
    "n_frames": "Frames", "fps": "Frame rate", "width": "Width", "ingested_at": "Ingested",
}
CLIP_SORT_COLUMNS = tuple(SORT_LABELS)
TITLE_CHARS = 64  # card titles are cut here (whole task texts are in the viewer)


def duration_bounds(max_duration_s: float) -> tuple[float, float]:
    """The duration slider's range: 0 to the longest clip, rounded up to a whole second."""
    return 0.0, float(max(1, math.ceil(max_duration_s)))


def clip_filter(kinds: list[str], sources: list[str], task_text: str,
                duration_s: tuple[float, float] | None, max_duration_s: float) -> ViewSpec:
    """The filter the widgets describe, in clip id order; a duration range covering every clip filters nothing."""
    lo, hi = duration_s if duration_s else duration_bounds(max_duration_s)
    full_lo, full_hi = duration_bounds(max_duration_s)
    lo_s, hi_s = (lo if lo > full_lo else None), (hi if hi < full_hi else None)
    durations = (("duration_s", lo_s, hi_s),) if lo_s is not None or hi_s is not None else ()
    return ViewSpec(kinds=tuple(kinds), sources=tuple(sources), task_contains=task_text.strip(),
                    metric_ranges=durations)


def sorted_by(spec: ViewSpec | None, order_by: str, descending: bool) -> ViewSpec:
    """The page's filter (all clips when None) in the page's order, as the grid and the viewer's Next walk it."""
    return replace(spec or ViewSpec(), order_by=order_by, descending=descending)


def format_duration(seconds: float | None) -> str:
    """`4.2 s`, `3 min 05 s`, `1 h 02 min`."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def clip_title(row: dict) -> str:
    """A clip's one-line name: its task text, else its short task name, else its id."""
    title = _text(row.get("task")) or _text(row.get("task_slug")) or str(row["clip_id"])
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 3].rstrip() + "..."


@dataclass(frozen=True)
class ClipCard:
    """One clip in the grid."""

    clip_id: str
    title: str
    details: str  # source, duration, size
    task_name: str  # the short task name (EgoDex task, dataset), may be empty
    thumb_url: str

    def html(self) -> str:
        """Thumbnail, title (two lines at most) and details; every text escaped."""
        return (
            f'<div title="{html.escape(self.title)}">'
            f'<img src="{html.escape(self.thumb_url)}" alt="" loading="lazy" style="width:100%;aspect-ratio:16/9;'
            'object-fit:contain;background:#111827;border-radius:4px;display:block">'
            '<div style="font-weight:600;line-height:1.3;margin-top:8px;height:2.6em;overflow:hidden;'
            f'display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical">{html.escape(self.title)}</div>'
            '<div style="color:#6b7280;font-size:0.8rem;margin-top:4px;white-space:nowrap;overflow:hidden;'
            f'text-overflow:ellipsis">{html.escape(self.details)}</div>'
            '<div style="color:#6b7280;font-size:0.8rem;white-space:nowrap;overflow:hidden;text-overflow:ellipsis">'
            f'{html.escape(self.task_name) or "&nbsp;"}</div></div>'
        )


def clip_cards(rows: pd.DataFrame, media_key: str | None = None) -> list[ClipCard]:
    """One card per clip on the page, in page order (thumbnail URLs carry `media_key` when sign-in is on)."""
    cards = []
    for row in rows.to_dict(orient="records"):
        parts = [row["source"], format_duration(row.get("duration_s")),
                 f"{_text(row.get('width'))}x{_text(row.get('height'))}"]
        if row.get("kind") == "robot" and _text(row.get("episode_index")):
            parts.insert(1, f"episode {int(row['episode_index'])}")
        cards.append(ClipCard(clip_id=row["clip_id"], title=clip_title(row), details=" · ".join(parts),
                              task_name=_text(row.get("task_slug")) if _text(row.get("task")) else "",
                              thumb_url=thumb_url(row["clip_id"], media_key)))
    return cards


def clip_table(rows: pd.DataFrame, media_key: str | None = None) -> pd.DataFrame:
    """The table view's columns, thumbnail URL (carrying `media_key` when sign-in is on) first."""
    if rows.empty:
        return pd.DataFrame(columns=["thumb", "task", "kind", "source", "duration_s", "n_frames", "fps", "size",
                                     "clip_id"])
    return pd.DataFrame({
        "thumb": [thumb_url(c, media_key) for c in rows["clip_id"]],
        "task": [clip_title(r) for r in rows.to_dict(orient="records")],
        "kind": rows["kind"], "source": rows["source"], "duration_s": rows["duration_s"].round(2),
        "n_frames": rows["n_frames"], "fps": rows["fps"].round(2),
        "size": [f"{w}x{h}" for w, h in zip(rows["width"], rows["height"], strict=True)],
        "clip_id": rows["clip_id"],
    })


def selected_clip_id(rows: pd.DataFrame, selected_rows: list[int]) -> str | None:
    """The clip id of the table row the user selected, if any."""
    if not selected_rows or not (0 <= selected_rows[0] < len(rows)):
        return None
    return str(rows["clip_id"].iloc[selected_rows[0]])
