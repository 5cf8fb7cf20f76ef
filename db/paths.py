"""Where everything lives under a data root. Path patterns are defined here and nowhere else.

```
<root>/
  catalog.db                      annotation store (SQLite, WAL) unless EGOCURATE_DB_URL is set
  lake/                           derived, immutable Parquet (recomputable from the media)
    _commits/<ns>-<batch>.json    commit log: a batch's files become visible when its entry lands
    _tmp/<batch>/                 files being written (invisible, removed on failure)
    _writer.lock                  one writer at a time per data root
    clips/source=<source>/<batch>.parquet
    frames/source=<source>/pose_source=<pose_source>/<batch>.parquet
    robot_frames/source=<source>/<batch>.parquet
    retargets/embodiment=<name>/<batch>.parquet
    metrics/<batch>.parquet
  cache/proxies/<clip_id>.mp4     browser-playable H.264 proxies of clips
  cache/thumbs/, cache/jobs/      thumbnails; logs of detached jobs and runs
  demo/                           generated demo media (egocurate demo)
  exports/<name>/                 exports written under the root (the only folder an export may replace)
  runs/<id>-<stage>-<export>/     training runs started from the app (trainer/runs.py)
```
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ROOT = Path("egocurate-data")
ROOT_ENV = "EGOCURATE_HOME"
DB_URL_ENV = "EGOCURATE_DB_URL"

LAKE_DIR = "lake"
COMMITS_DIR = "_commits"
TMP_DIR = "_tmp"
WRITER_LOCK = "_writer.lock"
CATALOG_DB = "catalog.db"
PROXY_DIR = "cache/proxies"
JOBS_LOG_DIR = "cache/jobs"  # stdout and stderr of detached jobs and runs, `<name>.log` (db/jobs.py)
DEMO_DIR = "demo"
EXPORTS_DIR = "exports"  # the suggested home of exports: the one store folder an export may write into
RUNS_DIR = "runs"  # training runs started from the app, one folder each
CACHE_DIR = "cache"


def resolve_root(root: Path | str | None = None) -> Path:
    """The data root: the argument, else `$EGOCURATE_HOME`, else `./egocurate-data`; made absolute."""
    chosen = Path(root) if root else Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    return chosen.expanduser().resolve()


def lake_dir(root: Path) -> Path:
    return root / LAKE_DIR


def catalog_path(root: Path) -> Path:
    return root / CATALOG_DB


def proxy_path(root: Path, clip_id: str) -> Path:
    return root / PROXY_DIR / f"{clip_id}.mp4"


def stage_file(stage: str, batch_id: str, partitions: dict[str, str]) -> str:
    """Lake-relative path of one batch file: `<stage>/<k>=<v>/.../<batch_id>.parquet`."""
    parts = [stage] + [f"{key}={_safe_partition(value)}" for key, value in partitions.items()]
    return "/".join(parts + [f"{batch_id}.parquet"])


def _safe_partition(value: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in value)
    return cleaned or "_"
