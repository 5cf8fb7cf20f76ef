"""HTTP routes for clip media, mounted beside Streamlit by `app/serve.py`.

    GET /egocurate/media/<clip_id>          the clip's video (H.264 source or cached proxy), Range-able
    GET /egocurate/thumbs/<clip_id>.jpg     the clip's middle-frame thumbnail, made on first request

Once the store has users (db/auth.py), both answer 401 unless the URL carries a live session's
read-only media key (`?key=`, which the pages add through `media_url(..., key)`); in open local mode
they answer anyone, as the app does.

A clip is looked up by id in the catalog; a path never comes from the request, so nothing
outside the catalogued media can be served. Starlette's `FileResponse` answers Range requests
with 206, which `<video>` seeking needs. Proxies and thumbnails are made in the thread pool so
the event loop (and every other session) keeps going meanwhile.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from db.auth import has_users, resolve_media_key
from db.engine import query_engine
from db.queries.clips import get_clip
from labeling.media.proxy import clip_playable_path
from labeling.media.thumbnails import ensure_thumbnail, middle_time_s
from labeling.media.video import VideoError

MEDIA_PREFIX = "/egocurate/media"
THUMB_PREFIX = "/egocurate/thumbs"
CLIP_ID_PATTERN = re.compile(r"[0-9a-zA-Z_-]{1,64}")  # ids are hex digests; anything else is refused
LOOKUP_CACHE_SIZE = 4096  # clip rows remembered per lake version (a video makes many Range requests)
THUMB_WORKERS = 2  # thumbnails decoded at once: the machines have 2 cores
MEDIA_KEY_PARAM = "key"  # the query parameter carrying db.auth.media_key(token)
PLACEHOLDER_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="180" viewBox="0 0 320 180">'
    '<rect width="320" height="180" fill="#e5e7eb"/><text x="160" y="96" font-family="sans-serif" '
    'font-size="14" fill="#6b7280" text-anchor="middle">no preview</text></svg>'
)


def with_media_key(url: str, key: str | None) -> str:
    """`url` carrying a session's media key (unchanged without one, as in open local mode)."""
    return f"{url}?{MEDIA_KEY_PARAM}={quote(key, safe='')}" if key else url


def media_url(clip_id: str, key: str | None = None) -> str:
    """The URL the player loads a clip's video from."""
    return with_media_key(f"{MEDIA_PREFIX}/{clip_id}", key)


def thumb_url(clip_id: str, key: str | None = None) -> str:
    """The URL of a clip's thumbnail."""
    return with_media_key(f"{THUMB_PREFIX}/{clip_id}.jpg", key)


class MediaGate:
    """Whether a media request may be answered: always in open local mode, else with a live media key."""

    def __init__(self, root: Path) -> None:
        """Check keys against the sessions of `root`'s store."""
        self.root = root
        self._users_seen = False  # once users exist they stay (the last admin cannot be removed)

    def allows(self, key: str | None) -> bool:
        """True when the request may see media."""
        if not self._users_seen:
            if not has_users(self.root):
                return True
            self._users_seen = True
        return resolve_media_key(self.root, key) is not None


class ClipLookup:
    """Clip rows by id, remembered until the lake's next commit."""

    def __init__(self, root: Path) -> None:
        """Look clips up in the catalog of `root`."""
        self.root = root
        self._rows: OrderedDict[str, dict | None] = OrderedDict()
        self._version: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def get(self, clip_id: str) -> dict | None:
        """The clip's catalog row, or None for an id the catalog does not have."""
        engine = query_engine(self.root)
        version = engine.lake.version()
        with self._lock:
            if version != self._version:
                self._rows.clear()
                self._version = version
            if clip_id in self._rows:
                self._rows.move_to_end(clip_id)
                return self._rows[clip_id]
        row = get_clip(engine, clip_id)
        with self._lock:
            self._rows[clip_id] = row
            while len(self._rows) > LOOKUP_CACHE_SIZE:
                self._rows.popitem(last=False)
        return row


def media_routes(root: Path) -> list[Route]:
    """The media and thumbnail routes for one data root."""
    lookup = ClipLookup(root)
    gate = MediaGate(root)
    thumb_slots = threading.BoundedSemaphore(THUMB_WORKERS)

    def video_file(row: dict) -> Path:
        path = clip_playable_path(root, row)
        if not path.is_file():
            raise VideoError(f"{path}: the clip's video file is missing")
        return path

    def thumb_file(row: dict) -> Path:
        with thumb_slots:
            at_s = middle_time_s(row.get("video_from_s"), row.get("video_to_s"), row.get("duration_s"))
            return ensure_thumbnail(root, row["clip_id"], row["path"], at_s)

    async def clip_row(request: Request) -> dict | None:
        clip_id = request.path_params["clip_id"]
        if not CLIP_ID_PATTERN.fullmatch(clip_id):
            return None
        return await run_in_threadpool(lookup.get, clip_id)

    async def refused(request: Request) -> Response | None:
        if await run_in_threadpool(gate.allows, request.query_params.get(MEDIA_KEY_PARAM)):
            return None
        return PlainTextResponse("sign in to see media (no live session key in this URL)", status_code=401,
                                 headers={"Cache-Control": "no-store"})

    async def permitted_row(request: Request) -> dict | Response:
        """The clip row a request names, or the answer refusing it (401 without a live key, 404 unknown)."""
        if (denied := await refused(request)) is not None:
            return denied
        row = await clip_row(request)
        return PlainTextResponse("unknown clip", status_code=404) if row is None else row

    async def video(request: Request) -> Response:
        if isinstance(row := await permitted_row(request), Response):
            return row
        try:
            path = await run_in_threadpool(video_file, row)
        except (VideoError, OSError) as exc:
            return PlainTextResponse(f"cannot play this clip: {exc}", status_code=422)
        return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"})

    async def thumbnail(request: Request) -> Response:
        if isinstance(row := await permitted_row(request), Response):
            return row
        try:
            path = await run_in_threadpool(thumb_file, row)
        except (VideoError, OSError):
            return Response(PLACEHOLDER_SVG, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    return [
        Route(MEDIA_PREFIX + "/{clip_id}", video, methods=["GET", "HEAD"]),
        Route(THUMB_PREFIX + "/{clip_id}.jpg", thumbnail, methods=["GET", "HEAD"]),
    ]
