"""Keep a sign-in across reloads and new tabs: the session token in an HttpOnly cookie.

Streamlit keeps `st.session_state` per browser tab connection, so without a cookie a reload (or a
clip opened in a new tab) would ask for the password again. Streamlit pages cannot set cookies, so
the sign-in hands the token to the browser through a one-time code:

    sign in  -> issue_handoff(token) -> code (kept in this server process for HANDOFF_TTL_S, single use)
    the page draws <img src="/egocurate/auth/cookie?code=..."> -> Set-Cookie: egocurate_session=<token>;
             HttpOnly; SameSite=Strict; Path=/; Max-Age = the session's absolute lifetime
    reload   -> the websocket handshake carries the cookie -> st.context.cookies -> db.auth.resolve_session

The cookie is only a carrier: the session it names is checked in the store on every use, so an
expired, idle or signed-out session is not revived by it. Sign out revokes the session in the store
and draws <img src="/egocurate/auth/clear"> to delete the cookie. The code never carries the token
itself, and scripts cannot read the cookie (HttpOnly); SameSite=Strict keeps other sites' pages from
riding on it.
"""

from __future__ import annotations

import secrets
import threading
import time
from math import ceil

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.auth import DEFAULT_POLICY

COOKIE_NAME = "egocurate_session"
AUTH_PREFIX = "/egocurate/auth"
HANDOFF_TTL_S = 60.0  # a code not redeemed by then is dropped (the page loads its <img> at once)
_NO_STORE = {"Cache-Control": "no-store"}

_handoffs: dict[str, tuple[str, float]] = {}  # code -> (token, expires at, monotonic seconds)
_handoffs_lock = threading.Lock()


def issue_handoff(token: str) -> str:
    """A one-time code the browser exchanges for the session cookie (same server process)."""
    code = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _handoffs_lock:
        for stale in [c for c, (_, until) in _handoffs.items() if until < now]:
            del _handoffs[stale]
        _handoffs[code] = (token, now + HANDOFF_TTL_S)
    return code


def redeem_handoff(code: str | None) -> str | None:
    """The token of a live code, once; None for an unknown, used or expired code."""
    if not code:
        return None
    with _handoffs_lock:
        token, until = _handoffs.pop(code, (None, 0.0))
    return token if token is not None and until >= time.monotonic() else None


def set_cookie_url(code: str) -> str:
    return f"{AUTH_PREFIX}/cookie?code={code}"


CLEAR_COOKIE_URL = f"{AUTH_PREFIX}/clear"


def auth_routes() -> list[Route]:
    """The two cookie routes, mounted beside the media routes by app/serve.py."""

    async def set_cookie(request: Request) -> Response:
        token = redeem_handoff(request.query_params.get("code"))
        if token is None:
            return Response("unknown or used code", status_code=404, headers=_NO_STORE)
        response = Response(status_code=204, headers=_NO_STORE)
        response.set_cookie(COOKIE_NAME, token, max_age=ceil(DEFAULT_POLICY.lifetime_s), path="/",
                            httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    async def clear_cookie(_request: Request) -> Response:
        response = Response(status_code=204, headers=_NO_STORE)
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
        return response

    return [Route(f"{AUTH_PREFIX}/cookie", set_cookie, methods=["GET"]),
            Route(f"{AUTH_PREFIX}/clear", clear_cookie, methods=["GET"])]
