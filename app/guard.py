"""One clear message instead of a traceback: what failed, on which clip, what to do (HOUSE_STYLE 1: pages render).

    layer = guard.attempt(cache.robot_layer, version, clip_id, ..., what="draw the robot hand", clip_id=clip_id)

A page wraps each data call whose failure should cost only its own part of the page in `attempt`
(the rest of the page still draws); the router (`app/streamlit_app.py`) catches whatever a page did
not, so no page ever shows Streamlit's traceback (`client.showErrorDetails` is off as well). The
traceback goes to the server log, the terminal running `egocurate app`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from streamlit.logger import get_logger

from app.cli_errors import describe

T = TypeVar("T")
LOG = get_logger("egocurate.app")
HINT = ("The rest of the page and other clips still work; the details are in the server log (the terminal "
        "running `egocurate app`).")


def show_failure(what: str, exc: BaseException, clip_id: str | None = None, hint: str = HINT) -> None:
    """Log the traceback and show one message: what failed, on which clip, why, and what to do."""
    where = f" for clip `{clip_id}`" if clip_id else ""
    LOG.error("could not %s%s", what, f" (clip {clip_id})" if clip_id else "", exc_info=exc)
    st.error(f"Could not {what}{where}: {describe(exc)}. {hint}", icon=":material/error:")


def attempt(fn: Callable[..., T], *args: object, what: str, clip_id: str | None = None, default: T | None = None,
            hint: str = HINT, **kwargs: object) -> T | None:
    """`fn(*args, **kwargs)`, or `default` after `show_failure` when it raises."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 (any failure: one message, the page goes on)
        show_failure(what, exc, clip_id, hint)
        return default
