"""The scoring stage: `frames` (+ `retargets`) in, `metrics` and `retarget_metrics` out, then the rules propose flags.

    egocurate --root R score [--rules RULES.yml] [--clips ID...]

Frames are read through DuckDB a batch of clips at a time; one lake commit writes the new
`metrics` rows and retires the files they replace (rows of clips not re-scored are carried over),
so readers see the old metrics or the new ones, never a mix; `retarget_metrics` (one row per clip,
embodiment and hand: `curation.retarget_quality`) is replaced the same way. The rules then run over
every scored clip (outlier rules need the whole task's distribution; `per_embodiment` rules run on
`retarget_metrics`, each embodiment on its own) and `curation.flags.sync_rule_flags` adds the
proposed flags that are new, leaving curators' decisions alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from db.config_files import load_config
from db.engine import query_engine
from db.jobs import DONE, job_scope
from db.lake import Lake
from db.queries.clips import scorable_clips, scored_metrics
from db.queries.frames import hand_frames
from db.queries.retargets import retarget_residuals, scored_retarget_metrics
from db.schemas import METRICS, N_KEYPOINTS, STAGES

from .action_layout import HAND22_EMBODIMENT
from .flags import SyncReport, sync_rule_flags
from .metrics import HandSeries, MetricsConfig, compute_clip_metrics
from .retarget_quality import retarget_quality_rows
from .rules import DEFAULT_RULES_PATH, RuleSet, evaluate_embodiment_rules, evaluate_rules

CATALOG_COPIES = ("kind", "source", "task", "task_slug")  # clips fields stored with the metrics (db.schemas)


@dataclass(frozen=True)
class ScoreConfig:
    """How `egocurate score` runs."""

    metrics: MetricsConfig = field(default_factory=MetricsConfig)  # metric thresholds (spikes, idle...)
    rules_path: Path = DEFAULT_RULES_PATH  # YAML rule set turning metrics into proposed flags
    pose_sources: tuple[str, ...] = ("egodex", "synthetic", "mediapipe")  # preferred first, per clip
    batch_clips: int = 200  # clips read from the lake per query (bounds memory)

    def __post_init__(self) -> None:
        if not self.pose_sources:
            raise ValueError("ScoreConfig.pose_sources must name at least one pose source")
        if self.batch_clips is None or self.batch_clips < 1:
            raise ValueError(f"ScoreConfig.batch_clips must be >= 1, got {self.batch_clips!r}")

    @classmethod
    def from_yaml(cls, path: Path, override: dict | None = None) -> ScoreConfig:
        """Read a YAML mapping of these fields (`metrics:` a mapping of MetricsConfig fields); `override`
        (not mutated) replaces top-level keys and merges `metrics`."""
        return load_config(cls, path, override)


@dataclass
class ScoreReport:
    scored: int = 0  # clips whose metrics were (re)computed
    retarget_rows: int = 0  # (clip, embodiment, hand) rows of retarget_metrics (re)computed
    metrics_files: list[str] = field(default_factory=list)  # lake-relative files now holding metrics
    failures: list[tuple[str, str]] = field(default_factory=list)  # (clip_id, reason) of clips that could not be scored
    flags: SyncReport = field(default_factory=SyncReport)
    job_id: int | None = None


def _points(column: pa.ChunkedArray, dim: int) -> np.ndarray:
    """`(N, 21, dim)` float64 from a nested keypoint column; null rows become NaN."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    out = np.full((len(array), N_KEYPOINTS, dim), np.nan)
    valid = np.asarray(array.is_valid())
    flat = pc.list_flatten(pc.list_flatten(array)).to_numpy(zero_copy_only=False)
    if flat.size != valid.sum() * N_KEYPOINTS * dim:
        raise ValueError(f"keypoint column has missing coordinates ({flat.size} values for {valid.sum()} rows)")
    out[valid] = flat.reshape(-1, N_KEYPOINTS, dim)
    return out


def _hand_series(table: pa.Table, clips: pd.DataFrame, residuals: dict[tuple[str, str], float]
                 ) -> Iterator[tuple[str, dict[str, HandSeries]]]:
    """Split a batch's frames (sorted by clip, hand, frame) into per-clip `HandSeries`."""
    clip_col = table.column("clip_id").to_numpy(zero_copy_only=False)
    hand_col = table.column("hand").to_numpy(zero_copy_only=False)
    frame_index = table.column("frame_index").to_numpy(zero_copy_only=False).astype(np.int64)
    present = table.column("present").to_numpy(zero_copy_only=False).astype(bool)
    score = pc.fill_null(table.column("score"), np.nan).to_numpy(zero_copy_only=False).astype(np.float64)
    kp2d, kp3d = _points(table.column("kp2d_px"), 2), _points(table.column("kp3d_m"), 3)
    keys = np.char.add(clip_col.astype(str), np.char.add("\x1f", hand_col.astype(str)))
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    by_clip: dict[str, dict[str, HandSeries]] = {}
    for a, b in zip(starts, ends, strict=True):
        clip_id, hand = str(clip_col[a]), str(hand_col[a])
        info = clips.loc[clip_id]
        stride = int(np.median(np.diff(frame_index[a:b]))) if b - a > 1 else 1
        by_clip.setdefault(clip_id, {})[hand] = HandSeries(
            frame_index=frame_index[a:b], present=present[a:b], score=score[a:b], kp3d_m=kp3d[a:b],
            kp2d_px=kp2d[a:b], dt_s=max(stride, 1) / float(info.fps or 30.0), width_px=_number(info.width),
            height_px=_number(info.height), hand=hand, retarget_residual_m=residuals.get((clip_id, hand)))
    yield from by_clip.items()


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _pick_pose_source(available: list[str], preference: tuple[str, ...]) -> str:
    ranked = [s for s in preference if s in available]
    return ranked[0] if ranked else sorted(available)[0]


def compute_metrics_rows(root: Path, cfg: ScoreConfig, clip_ids: list[str] | None = None,
                         progress: bool = False, failures: list[tuple[str, str]] | None = None
                         ) -> list[dict[str, object]]:
    """Metric rows (METRICS columns) for every clip with poses, or only `clip_ids`.

    A clip whose metrics cannot be computed is left out and appended to `failures` as (clip_id,
    reason): one bad clip must not cost the others their scores.
    """
    engine = query_engine(root)
    clips = scorable_clips(engine, clip_ids).set_index("clip_id")
    clips["pose_source"] = [_pick_pose_source(list(s), cfg.pose_sources) for s in clips["pose_sources"]]
    scored_at = datetime.now(UTC)
    rows: list[dict[str, object]] = []
    bar = tqdm(total=len(clips), desc="score", unit="clip", disable=not progress)
    for pose_source, group in clips.groupby("pose_source"):
        ids = list(group.index)
        for first in range(0, len(ids), cfg.batch_clips):
            batch = ids[first:first + cfg.batch_clips]
            residuals = {(r.clip_id, r.hand): float(r.residual_m)
                         for r in retarget_residuals(engine, batch, HAND22_EMBODIMENT).itertuples()}
            for clip_id, hands in _hand_series(hand_frames(engine, batch, str(pose_source)), clips, residuals):
                bar.update(1)
                try:
                    result = compute_clip_metrics(hands, cfg.metrics)
                except (ValueError, FloatingPointError, IndexError) as exc:
                    if failures is None:
                        raise
                    failures.append((clip_id, f"{type(exc).__name__}: {exc}"))
                    continue
                catalog = {name: _text(clips.at[clip_id, name]) for name in CATALOG_COPIES}
                rows.append({"clip_id": clip_id, "scored_at": scored_at, "pose_source": pose_source,
                             "evidence": json.dumps(result.evidence, sort_keys=True), **catalog, **result.values})
    bar.close()
    return rows


def _read_as_current(path: Path, schema: pa.Schema = METRICS) -> pa.Table:
    """A metrics file in today's schema: columns it predates are null (a re-score fills them)."""
    table = pq.read_table(path, partitioning=None)
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def write_metrics(lake: Lake, rows: list[dict[str, object]], stage: str = "metrics",
                  clip_ids: set[str] | None = None) -> list[str]:
    """Replace the `stage` rows of these clips (`clip_ids`, default: the rows' clips) in one commit.

    Returns the stage's files afterwards. The caller holds `lake.writer_lock()`: this reads the
    stage, then rewrites it.
    """
    schema = STAGES[stage]
    files = lake.files(stage)
    replaced = clip_ids if clip_ids is not None else {str(r["clip_id"]) for r in rows}
    new_ids = pa.array(sorted(replaced), pa.string())
    kept = [t.filter(pc.invert(pc.is_in(t.column("clip_id"), new_ids)))
            for t in (_read_as_current(f, schema) for f in files)]
    table = pa.concat_tables([*kept, pa.Table.from_pylist(rows, schema=schema)])
    with lake.batch(stage="score") as batch:
        batch.write(stage, table)
        batch.remove([p.relative_to(lake.dir).as_posix() for p in files])
    return [p.relative_to(lake.dir).as_posix() for p in lake.files(stage)]


def run_score(root: Path, cfg: ScoreConfig = ScoreConfig(), clip_ids: list[str] | None = None,
              progress: bool = False, actor: str = "rules") -> ScoreReport:
    """Score clips, store the metrics, apply the rule set and sync the proposed flags."""
    rules = RuleSet.from_yaml(cfg.rules_path)
    report = ScoreReport()
    # An exception ends the job `failed` with the error (db/jobs.py), a killed run `interrupted`.
    with job_scope(root, "score", {"clips": clip_ids, "rules": str(cfg.rules_path)}) as job:
        report.job_id = job.id
        rows = compute_metrics_rows(root, cfg, clip_ids, progress, report.failures)
        report.scored = len(rows)
        job.update(n_total=report.scored, n_done=report.scored)
        scored_ids = {str(r["clip_id"]) for r in rows}
        quality = retarget_quality_rows(root, sorted(scored_ids), rows[0]["scored_at"] if rows else None)
        report.retarget_rows = len(quality)
        lake = Lake(root)
        # One scorer at a time from here: two syncing at once would both add the same new proposals.
        with lake.writer_lock():
            if rows or lake.files("metrics"):  # rewritten even with no new rows: upgrades old files' schema
                report.metrics_files = write_metrics(lake, rows)
            if quality or lake.files("retarget_metrics"):
                write_metrics(lake, quality, "retarget_metrics", scored_ids)
            engine = query_engine(root)
            metrics, per_embodiment = scored_metrics(engine), scored_retarget_metrics(engine)
            # Outlier fences depend on every clip of a task, so rules run over all scored clips.
            proposals = evaluate_rules(metrics, rules) + evaluate_embodiment_rules(per_embodiment, rules)
            report.flags = sync_rule_flags(root, proposals, set(metrics["clip_id"]), actor=actor)
        job.update(state=DONE, message=f"{report.scored} clips scored; {report.flags.created} flags proposed, "
                   f"{report.flags.withdrawn} withdrawn")
    return report
