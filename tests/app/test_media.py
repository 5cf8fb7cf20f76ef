"""The media routes: clips by id only, Range requests answered with 206, proxies for mpeg4."""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.applications import Starlette

from app.media import media_routes, media_url, thumb_url
from labeling.video import probe_video


def get(app: Starlette, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET through the ASGI app (no HTTP client library needed)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    messages: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def test_unknown_and_malformed_ids_are_refused(app_root: Path):
    app = Starlette(routes=media_routes(app_root))
    assert get(app, media_url("0123456789abcdef"))[0] == 404
    assert get(app, "/egocurate/media/..%2F..%2Fetc%2Fpasswd")[0] == 404
    assert get(app, "/egocurate/media/../../etc/passwd")[0] == 404
    assert get(app, thumb_url("0123456789abcdef"))[0] == 404


def test_h264_clip_is_served_as_is_with_ranges(app_root: Path, robot_clip: dict):
    app = Starlette(routes=media_routes(app_root))
    status, headers, body = get(app, media_url(robot_clip["clip_id"]))
    source = Path(robot_clip["path"]).read_bytes()
    assert status == 200 and headers["content-type"] == "video/mp4" and body == source
    status, headers, body = get(app, media_url(robot_clip["clip_id"]), {"Range": "bytes=100-199"})
    assert status == 206
    assert headers["content-range"] == f"bytes 100-199/{len(source)}"
    assert body == source[100:200]


def test_mpeg4_clip_gets_an_h264_proxy(app_root: Path, egodex_clip: dict):
    app = Starlette(routes=media_routes(app_root))
    status, headers, body = get(app, media_url(egodex_clip["clip_id"]), {"Range": "bytes=0-99"})
    assert status == 206 and len(body) == 100 and b"ftyp" in body
    proxy = app_root / "cache" / "proxies" / f"{egodex_clip['clip_id']}.mp4"
    info = probe_video(proxy)
    assert info.codec == "h264" and info.n_frames == egodex_clip["n_frames"] == 126
    assert (info.width, info.height) == (960, 540)


def test_thumbnail_is_a_jpeg(app_root: Path, egodex_clip: dict):
    app = Starlette(routes=media_routes(app_root))
    status, headers, body = get(app, thumb_url(egodex_clip["clip_id"]))
    assert status == 200 and headers["content-type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
