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
  cache/proxies/.job.lock         held by the one proxy job working on the root
  cache/thumbs/<clip_id>.jpg      clip thumbnails (the middle frame)
  cache/jobs/<kind>-<id>.log      stdout/stderr of detached jobs and runs (label-7.log, run-3.log)
  cache/trainer/                  decoded training frames, shared by runs (and the CLI)
  demo/                           generated demo media (egocurate demo)
    human/<task>/<take>.mp4, .hdf5  EgoDex-layout human clips
    robot/<dataset>/              the LeRobot robot dataset
    demo_manifest.json, injected_noise.json
  exports/<name>/                 exports written under the root (the only folder an export may replace)
    demo-lerobot-v3/              the demo's export (its layout: labeling/sources/lerobot_layout.py)
  runs/<id>-<stage>-<export>/     training runs started from the app (trainer/runs.py), laid out as below
```

A run folder (`TrainConfig.out_dir`: under `runs/`, or wherever the CLI is told):
```
<run>/
  log.jsonl                       one JSON record per step or evaluation
  checkpoints/<step:06d>/         checkpoint.pt and meta.json; checkpoints/last links the newest
  frame_cache/                    decoded frames when no cache_dir is given
  fraction-<f>-seed-<k>/          a scaling run: one run folder per fraction and seed (+ `-midtrain`: its
                                  transfer run), plan.json before they start, scaling.json + scaling.html after
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
PROXY_JOB_LOCK = "cache/proxies/.job.lock"  # the one proxy job working on a root holds it (flock)
DEMO_DIR = "demo"
EXPORTS_DIR = "exports"  # the suggested home of exports: the one store folder an export may write into
RUNS_DIR = "runs"  # training runs started from the app, one folder each
CACHE_DIR = "cache"
THUMBS_DIR = "cache/thumbs"
JOB_LOG_DIR = "cache/jobs"  # the detached process of a job or run writes its stdout/stderr here
TRAINER_CACHE_DIR = "cache/trainer"
DEMO_HUMAN_DIR = "human"  # under demo/
DEMO_ROBOT_DIR = "robot"  # under demo/
DEMO_MANIFEST = "demo_manifest.json"  # under demo/: every clip, episode, task and noise entry
DEMO_NOISE = "injected_noise.json"  # under demo/: the corruptions applied to stored poses
DEMO_EXPORT_DIR = "exports/demo-lerobot-v3"

# Inside a run folder.
RUN_LOG = "log.jsonl"
CHECKPOINTS_DIR = "checkpoints"
LAST_CHECKPOINT = "last"  # a link to the newest checkpoints/<step>/
CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_META = "meta.json"  # the checkpoint's dict without the weights, readable without torch
RUN_FRAME_CACHE_DIR = "frame_cache"
SCALING_PART_GLOB = "fraction-*"
SCALING_RESULT = "scaling.json"
SCALING_FIGURE = "scaling.html"
SCALING_PLAN = "plan.json"  # a scaling run's parts and their steps, written before the first trains
SCALING_MIDTRAIN_SUFFIX = "-midtrain"  # a scaling part's transfer run: its pretrain folder's name + this


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


def thumbnail_path(root: Path, clip_id: str) -> Path:
    """Where a clip's thumbnail is cached."""
    return root / THUMBS_DIR / f"{clip_id}.jpg"


def run_dir(root: Path, run_id: int, stage: str, export_name: str) -> Path:
    """The folder of a training run started from the app."""
    return root / RUNS_DIR / f"{run_id}-{stage}-{export_name}"


def checkpoint_dir(run: Path, step: int) -> Path:
    return run / CHECKPOINTS_DIR / f"{step:06d}"


def last_checkpoint(run: Path) -> Path:
    """The `checkpoints/last` link of a run folder."""
    return run / CHECKPOINTS_DIR / LAST_CHECKPOINT


def run_log_path(run: Path) -> Path:
    return run / RUN_LOG


def scaling_part_name(fraction: float, seed_index: int) -> str:
    """The folder name of one pretrain run of a scaling run (names sort in training order: two-digit seeds)."""
    return f"fraction-{fraction:.4f}-seed-{seed_index:02d}"


def stage_file(stage: str, batch_id: str, partitions: dict[str, str]) -> str:
    """Lake-relative path of one batch file: `<stage>/<k>=<v>/.../<batch_id>.parquet`."""
    parts = [stage] + [f"{key}={_safe_partition(value)}" for key, value in partitions.items()]
    return "/".join(parts + [f"{batch_id}.parquet"])


def _safe_partition(value: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in value)
    return cleaned or "_"
