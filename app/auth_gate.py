"""The app's one door for who is signed in and what they may write (Streamlit over `db.auth`).

The router calls `gate()` before any page: in open local mode (no users in the store) it notes that
in the sidebar and lets everyone act as admin; otherwise it shows the sign-in form until a session is
alive, then the user's name, role and Sign out. The session token lives in this Streamlit session's
state on the server only; the browser gets a derived read-only media key for video and thumbnail URLs.

Pages disable what a role cannot use (`why_not`, shown as the button's tooltip), but that is only a
courtesy: every write calls `author(action, typed_name)` at the moment it happens, which re-reads the
session and the role from the store (`db.auth.require`) and raises `AccessDenied` when they do not
allow it, so a forged click, a demotion or a sign-out elsewhere is refused server-side.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import session_cookie, state
from db import auth, paths
from db.auth import AccessDenied, AuthError, Principal

__all__ = ["AccessDenied", "AuthError", "allow", "author", "current", "gate", "media_key", "name_field", "why_not"]

OPEN_MODE_NOTE = ("Open local mode: no users yet, so whoever opens this page acts as admin (the app only listens "
                  "on this machine). `egocurate user add NAME --role admin` turns sign-in on.")


def _root() -> Path:
    return paths.resolve_root()


def token() -> str | None:
    """This Streamlit session's sign-in token, if any."""
    return st.session_state.get(state.AUTH_TOKEN)


def current() -> Principal | None:
    """Who this session acts as now: the local admin in open mode, the signed-in user, or None."""
    root = _root()
    if not auth.has_users(root):
        return auth.LOCAL_PRINCIPAL
    return auth.resolve_session(root, token())


def why_not(me: Principal | None, action: str) -> str | None:
    """Why `me` may not do `action` (a button's tooltip), or None when they may."""
    if me is None:
        return "Sign in to do this."
    if me.can(action):
        return None
    return f"Needs the {auth.PERMISSIONS[action]} role; you are {me.role}."


def allow(action: str) -> Principal:
    """Who may do `action` now, asked of the store at this moment; AccessDenied when nobody in this session may."""
    return auth.require(_root(), token(), action)


def author(action: str, typed_name: str = "") -> str:
    """The name to write `action` with, checked against the store now; AccessDenied (or ValueError) if refused.

    Signed in, it is the user's own name (nothing typed counts); in open local mode, the name typed.
    """
    principal = allow(action)
    if not principal.local:
        return principal.name
    if not typed_name.strip():
        raise ValueError(f"{action}: type your name first; it is written with each decision")
    return typed_name.strip()


def media_key() -> str | None:
    """The key media URLs carry for this session (None in open local mode, where they need none)."""
    current_token = token()
    return auth.media_key(current_token) if current_token else None


def name_field(column, key: str, me: Principal | None, label: str, placeholder: str) -> str:  # noqa: ANN001
    """Open local mode: a free-text name input bound to `key`; signed in: the user's name, fixed. Returns it."""
    if me is None:  # sign-in is on but this session has none (the router normally shows the form first)
        column.text_input(label, value="", disabled=True, placeholder="sign in first")
        return ""
    if me.local:
        column.text_input(label, key=key, placeholder=placeholder)
        return str(st.session_state[key]).strip()
    column.text_input(label, value=me.name, disabled=True, help=f"Signed in as {me.name} ({me.role}); "
                      "what you do is recorded with this name.")
    return me.name


def _sign_in(root: Path) -> None:
    name, password = st.session_state[state.AUTH_NAME], st.session_state[state.AUTH_PASSWORD]
    st.session_state[state.AUTH_PASSWORD] = ""  # never kept past this check
    try:
        new_token = auth.sign_in(root, name, password)
    except AuthError as exc:
        st.session_state[state.AUTH_MESSAGE] = ("error", str(exc))
        return
    st.session_state[state.AUTH_TOKEN] = new_token
    st.session_state[state.AUTH_MESSAGE] = None
    st.session_state[state.AUTH_COOKIE] = session_cookie.set_cookie_url(session_cookie.issue_handoff(new_token))


def _sign_out(root: Path) -> None:
    auth.sign_out(root, token())
    st.session_state[state.AUTH_TOKEN] = None
    st.session_state[state.AUTH_MESSAGE] = ("info", "Signed out.")
    st.session_state[state.AUTH_COOKIE] = session_cookie.CLEAR_COOKIE_URL


def _send_cookie() -> None:
    """Have the browser fetch a pending cookie URL (set after sign-in, cleared after sign-out), once."""
    url = st.session_state[state.AUTH_COOKIE]
    if url:
        st.session_state[state.AUTH_COOKIE] = None
        st.html(f'<img src="{url}" alt="" width="1" height="1" style="position:absolute;opacity:0">')


def _token_from_cookie(root: Path) -> None:
    """A new tab or a reload: adopt the browser's session cookie if the session it names is alive."""
    if token() is not None:
        return
    carried = st.context.cookies.get(session_cookie.COOKIE_NAME)
    if carried and auth.resolve_session(root, carried) is not None:
        st.session_state[state.AUTH_TOKEN] = carried


def sign_in_form(root: Path) -> None:
    """The sign-in form (its callback stores the token before the next run)."""
    st.title("Sign in")
    if st.session_state[state.AUTH_MESSAGE]:
        kind, text = st.session_state[state.AUTH_MESSAGE]
        (st.error if kind == "error" else st.info)(text)
    with st.form("auth.sign_in_form", border=True):
        st.text_input("Name", key=state.AUTH_NAME, autocomplete="username")
        st.text_input("Password", key=state.AUTH_PASSWORD, type="password", autocomplete="current-password")
        st.form_submit_button("Sign in", type="primary", icon=":material/login:", on_click=_sign_in, args=(root,))
    st.caption("Accounts are made by an operator with `egocurate user add NAME --role viewer|curator|admin`.")


def gate() -> Principal | None:
    """Before any page: who this session is, or None after drawing the sign-in form (run no page then)."""
    root = _root()
    if not auth.has_users(root):
        st.sidebar.caption(OPEN_MODE_NOTE)
        return auth.LOCAL_PRINCIPAL
    _token_from_cookie(root)
    _send_cookie()
    me = auth.resolve_session(root, token())
    if me is None:
        if token() is not None:  # it was alive once: expired, idle, revoked, or the user was removed
            st.session_state[state.AUTH_TOKEN] = None
            st.session_state[state.AUTH_MESSAGE] = ("info", "Your session has ended; sign in again.")
        sign_in_form(root)
        return None
    with st.sidebar.container(horizontal=True, vertical_alignment="center"):
        st.caption(f"Signed in as **{me.name}** · {me.role}")
        st.button("Sign out", key="auth_sign_out", icon=":material/logout:", on_click=_sign_out, args=(root,))
    return me
