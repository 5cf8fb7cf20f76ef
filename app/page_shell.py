"""Serve Streamlit's HTML shell with the backend's base URL filled in (an ASGI middleware for `app/serve.py`).

Opened at a page's own URL (`/embodiments`), Streamlit's frontend does not know where the server's
root is, so it first probes `/embodiments/_stcore/health` and `/embodiments/_stcore/host-config`:
two 404s in the console of every page before it falls back to `/`. Its embedding settings
(`window.__streamlit.BACKEND_BASE_URL`, `MAIN_PAGE_BASE_URL`) say where the root is; this
middleware writes them into the shell, so the frontend asks the right place once.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

NOT_PAGES = ("/_stcore/", "/static/", "/egocurate/", "/component/", "/media/", "/app/static/")  # never the shell


def shell_script(base_path: str) -> bytes:
    """The `<script>` that tells the frontend where the server's root is (`base_path`: server.baseUrlPath)."""
    path = json.dumps("/" + base_path.strip("/"))
    return (f"<script>window.__streamlit = Object.assign({{}}, window.__streamlit, "
            f"{{BACKEND_BASE_URL: location.origin + {path}, MAIN_PAGE_BASE_URL: location.origin + {path}}});"
            "</script>").encode()


class PageShell:
    """Inject `shell_script` right after `<head>` of HTML answers to page requests; pass everything else."""

    def __init__(self, app: ASGIApp, base_path: str = "") -> None:
        """Wrap `app`; `base_path` is Streamlit's server.baseUrlPath (empty at the root)."""
        self.app, self.script = app, shell_script(base_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI request."""
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "GET" or any(p in path for p in NOT_PAGES):
            await self.app(scope, receive, send)
            return
        # The shell is 2 KB: ask for it uncompressed, so it can be edited.
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"accept-encoding"]
        start: Message | None = None
        chunks: list[bytes] = []

        async def edit(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            kinds = [v for k, v in start.get("headers", []) if k.lower() == b"content-type"]
            if not kinds or not kinds[0].startswith(b"text/html"):
                await send(start)
                start = None
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks).replace(b"<head>", b"<head>" + self.script, 1)
            rest = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": [*rest, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app({**scope, "headers": headers}, receive, edit)
