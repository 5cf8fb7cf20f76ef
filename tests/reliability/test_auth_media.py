"""Media routes under sign-in: videos and thumbnails need a live session's media key once users exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette

from app.media import media_routes, media_url, thumb_url
from db import auth
from labeling.sources.ingest import ingest
from tests.asgi import asgi_get
from tests.conftest import make_video

PASSWORD = "correct horse battery"


def get(app: Starlette, url: str) -> tuple[int, bytes]:
    """One GET through the ASGI app; `url` may carry a query string."""
    status, _, body = asgi_get(app, url)
    return status, body


@pytest.fixture
def clip_root(tmp_path: Path) -> tuple[Path, str, bytes]:
    video = make_video(tmp_path / "media" / "tiny.mp4")
    root = tmp_path / "root"
    report = ingest(root, [video], progress=False)
    assert report.ok and len(report.added) == 1
    return root, report.added[0], video.read_bytes()


def test_open_local_mode_serves_media_without_a_key(clip_root):
    root, clip_id, source = clip_root
    app = Starlette(routes=media_routes(root))
    assert get(app, media_url(clip_id)) == (200, source)


def test_with_users_media_needs_a_live_key(clip_root):
    root, clip_id, source = clip_root
    app = Starlette(routes=media_routes(root))  # made while the store was still open
    auth.add_user(root, "boss", PASSWORD, "admin", actor="test")
    auth.add_user(root, "ann", PASSWORD, "viewer", actor="test")
    assert get(app, media_url(clip_id))[0] == 401
    assert get(app, thumb_url(clip_id))[0] == 401
    assert get(app, media_url(clip_id, "not-a-key"))[0] == 401
    token = auth.sign_in(root, "ann", PASSWORD)
    assert get(app, media_url(clip_id, token))[0] == 401  # the session token itself is no media key
    key = auth.media_key(token)
    assert get(app, media_url(clip_id, key)) == (200, source)
    status, body = get(app, thumb_url(clip_id, key))
    assert status == 200 and body[:2] == b"\xff\xd8"  # a JPEG
    auth.sign_out(root, token)
    assert get(app, media_url(clip_id, key))[0] == 401


def test_an_expired_sessions_key_is_refused(clip_root):
    root, clip_id, _ = clip_root
    auth.add_user(root, "boss", PASSWORD, "admin", actor="test")
    auth.add_user(root, "ann", PASSWORD, "viewer", actor="test")
    long_ago = datetime.now(UTC) - timedelta(seconds=auth.DEFAULT_POLICY.lifetime_s + 60)
    key = auth.media_key(auth.sign_in(root, "ann", PASSWORD, now=long_ago))
    assert get(Starlette(routes=media_routes(root)), media_url(clip_id, key))[0] == 401


def test_cookie_handoff_codes_are_single_use_and_expire(monkeypatch):
    import app.session_cookie as session_cookie

    code = session_cookie.issue_handoff("the-token")
    assert session_cookie.redeem_handoff(code) == "the-token"
    assert session_cookie.redeem_handoff(code) is None  # used
    assert session_cookie.redeem_handoff("made-up") is None and session_cookie.redeem_handoff(None) is None
    late = session_cookie.issue_handoff("the-token")
    now = session_cookie.time.monotonic()
    monkeypatch.setattr(session_cookie.time, "monotonic", lambda: now + session_cookie.HANDOFF_TTL_S + 1)
    assert session_cookie.redeem_handoff(late) is None  # expired
