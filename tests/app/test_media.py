"""The media routes: clips by id only, Range requests answered with 206, proxies for mpeg4."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.applications import Starlette

from app.media import media_routes, media_url, thumb_url
from labeling.media.video import probe_video
from tests.asgi import asgi_get as get


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


def test_keypoint_tracks_are_served_as_the_page_would_have_inlined_them(app_root: Path, egodex_clip: dict):
    from app.components import viewer
    from app.media import poses_url
    from db.engine import query_engine

    app = Starlette(routes=media_routes(app_root))
    url = poses_url(egodex_clip["clip_id"], ("egodex",), ("root", 3, 7))
    status, headers, body = get(app, url)
    assert status == 200 and headers["content-type"] == "application/json"
    inline = viewer.clip_viewer_config(query_engine(app_root), egodex_clip["clip_id"], ("egodex",))
    assert json.loads(body) == {"tracks": inline["tracks"], "timeline": inline["timeline"]}
    deferred = viewer.clip_viewer_config(query_engine(app_root), egodex_clip["clip_id"], ("egodex",), tracks_url=url)
    assert deferred["tracks"] == [] and deferred["tracksUrl"] == url
    assert viewer.viewer_height(deferred) == viewer.viewer_height(inline)  # room for the rows it will fetch
    assert get(app, poses_url("0123456789abcdef", ("egodex",), ("root", 3, 7)))[0] == 404
