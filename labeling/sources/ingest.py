"""Ingest: catalogue clips from raw videos, EgoDex pairs and LeRobot datasets into the lake.

Each input is read completely in memory first, so a corrupt file contributes nothing; clips are
committed in batches (one lake commit each), so a killed run keeps what it finished and a re-run
skips it: clip ids come from content, and unchanged files are not even re-hashed.

    egocurate --root R ingest PATH... [--source auto|video|egodex|lerobot] [--task TEXT]
                              [--state-key KEY] [--action-key KEY]

`task` is the task text of new clips whose media carries none (raw videos); `state_key` /
`action_key` choose a LeRobot dataset's vectors where its own names do not say
(`labeling.sources.lerobot_features`). The report's `notes` say which features were read as the
vectors when they were not LeRobot's standard ones, and which datasets came in video-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from db.engine import query_engine
from db.jobs import DONE, FAILED, JobHandle, job_scope
from db.lake import Lake
from db.queries.clips import existing_clip_ids, known_files, vector_keys

from .base import FileStamp, IngestError, KnownFiles, SourceItem
from .detect import Candidate, discover
from .egodex import read_egodex
from .lerobot import read_lerobot
from .revector import keys_changed, replace_episodes
from .video import read_video

BATCH_CLIPS = 500  # clips per lake commit: bounds memory and what a killed run loses


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)  # clip ids new in the catalog
    skipped: int = 0  # inputs already catalogued
    already: list[str] = field(default_factory=list)  # clip ids of the videos among them (ingest --task)
    failures: list[IngestError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user should know that is not wrong (vector choice)
    video_only: list[str] = field(default_factory=list)  # added robot episodes without state or action vectors
    revectored: list[str] = field(default_factory=list)  # catalogued episodes re-read with the vector keys given
    job_id: int | None = None

    @property
    def ok(self) -> bool:
        """False only when nothing at all could be ingested (the CLI's non-zero exit)."""
        return bool(self.added) or self.skipped > 0 or bool(self.revectored)


def _known(root: Path) -> KnownFiles:
    return {(FileStamp(path, size, mtime_ns), episode): clip_id
            for path, size, mtime_ns, episode, clip_id in known_files(query_engine(root))}


class _Writer:
    """Collects items and commits them to the lake in batches, skipping ids already present.

    With `stored_keys` (the user named vector keys), a catalogued robot episode read with other keys
    is kept for `revector.replace_episodes` instead of skipped.
    """

    def __init__(self, lake: Lake, existing: set[str], report: IngestReport,
                 stored_keys: dict[str, tuple[str | None, str | None]] | None = None) -> None:
        self.lake, self.existing, self.report, self.stored_keys = lake, existing, report, stored_keys
        self.pending: list[SourceItem] = []
        self.replacing: list[SourceItem] = []

    def add(self, item: SourceItem) -> None:
        if item.clip_id in self.existing and self.stored_keys is not None and keys_changed(item, self.stored_keys):
            self.replacing.append(item)
            self.report.warnings += item.warnings
            return
        if item.clip_id in self.existing:
            self.report.skipped += 1
            self.report.already.append(item.clip_id)
            return
        self.existing.add(item.clip_id)
        self.pending.append(item)
        self.report.warnings += item.warnings
        if len(self.pending) >= BATCH_CLIPS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        by_source: dict[str, list[SourceItem]] = {}
        for item in self.pending:
            by_source.setdefault(str(item.clip["source"]), []).append(item)
        with self.lake.batch(stage="ingest") as batch:
            for source, items in by_source.items():
                batch.write("clips", pa.Table.from_pylist([i.clip for i in items]), {"source": source})
                _write_concat(batch, "robot_frames", [i.robot_frames for i in items], {"source": source})
                frames = [i.frames for i in items if i.frames is not None]
                for pose_source in sorted({str(f["pose_source"][0]) for f in frames if f.num_rows}):
                    chosen = [f for f in frames if f.num_rows and str(f["pose_source"][0]) == pose_source]
                    _write_concat(batch, "frames", chosen, {"source": source, "pose_source": pose_source})
        self.report.added += [i.clip_id for i in self.pending]
        self.pending = []

    def replace(self) -> None:
        """Commit the re-read episodes (after `flush`: new clips first)."""
        replace_episodes(self.lake, self.replacing)
        self.report.revectored += [i.clip_id for i in self.replacing]
        self.replacing = []


def _write_concat(batch, stage: str, tables: list[pa.Table | None], partitions: dict[str, str]) -> None:  # noqa: ANN001
    present = [t for t in tables if t is not None and t.num_rows]
    if present:
        batch.write(stage, pa.concat_tables(present), partitions)


@dataclass(frozen=True)
class IngestOptions:
    """What the user may say about inputs their files do not (all optional)."""

    task: str | None = None  # task text of new clips whose media has none (raw videos)
    state_key: str | None = None  # LeRobot feature to read as the state vector
    action_key: str | None = None  # LeRobot feature to read as the action vector

    def __post_init__(self) -> None:
        """Blank means not given; a task longer than a label's limit is refused like a label's."""
        for name in ("task", "state_key", "action_key"):
            value = getattr(self, name)
            object.__setattr__(self, name, value.strip() if isinstance(value, str) and value.strip() else None)
        if self.task is not None and len(self.task) > MAX_TASK_CHARS:
            raise ValueError(f"--task is {len(self.task)} characters; the limit is {MAX_TASK_CHARS}")


MAX_TASK_CHARS = 10_000  # as a curator's task label (curation.labels.MAX_TEXT_CHARS)


def _with_task(item: SourceItem, task: str | None) -> SourceItem:
    if task is None or item.clip.get("task"):
        return item
    return replace(item, clip={**item.clip, "task": task})


def _read(candidate: Candidate, known: KnownFiles, writer: _Writer, report: IngestReport,
          options: IngestOptions = IngestOptions()) -> None:
    if candidate.reader == "lerobot":
        named = options.state_key or options.action_key  # re-read catalogued episodes: their keys may change
        result = read_lerobot(candidate.path, None if named else known, options.state_key, options.action_key)
        report.failures += result.failures
        report.warnings += result.warnings
        report.skipped += result.skipped
        _note_vectors(candidate, result, report)
        for item in result.items:
            writer.add(_with_task(item, options.task))
        return
    if candidate.reader == "egodex":
        assert candidate.sidecar is not None
        item = read_egodex(candidate.path, candidate.sidecar, known)
    else:
        item = read_video(candidate.path, known)
    if isinstance(item, str):
        report.skipped += 1
        report.already.append(item)
    else:
        writer.add(_with_task(item, options.task))


def _note_vectors(candidate: Candidate, result: object, report: IngestReport) -> None:
    """Say in words which features became the vectors, unless they were LeRobot's standard ones."""
    vectors = result.vectors
    if vectors is None or (vectors.standard and not vectors.video_only):
        return
    if vectors.video_only:
        episodes = len(result.items)
        report.video_only += [item.clip_id for item in result.items]
        if episodes:
            report.notes.append(f"{candidate.path}: {vectors.describe()}; its {episodes} episode(s) are catalogued "
                                "video-only: they play, but show no curves and cannot be aligned or exported with "
                                "data. Name the vectors with --state-key/--action-key.")
        return
    report.notes.append(f"{candidate.path}: {vectors.describe()}")


def ingest(root: Path, inputs: list[Path], source: str = "auto", progress: bool = True,
           author: str = "cli", options: IngestOptions = IngestOptions()) -> IngestReport:
    """Catalogue everything ingestible under `inputs`; see the module docstring."""
    report = IngestReport()
    candidates, report.failures = discover(inputs, source)
    lake = Lake(root)
    params = {"inputs": [str(p) for p in inputs], "source": source, "author": author,
              **{k: v for k, v in vars(options).items() if v is not None}}
    with job_scope(root, "ingest", params, n_total=len(candidates)) as job:
        report.job_id = job.id
        with lake.writer_lock():
            engine = query_engine(root)
            known = _known(root)
            named = options.state_key or options.action_key
            writer = _Writer(lake, existing_clip_ids(engine), report, vector_keys(engine) if named else None)
            for candidate in tqdm(candidates, desc="ingest", unit="input", disable=not progress):
                try:
                    _read(candidate, known, writer, report, options)
                except IngestError as exc:
                    report.failures.append(exc)
                except Exception as exc:  # noqa: BLE001 (a reader bug must cost one input, not the batch)
                    # The readers raise IngestError for every failure we know of (the fuzz suite checks it);
                    # anything else is a bug, recorded with its type so it can be reported.
                    report.failures.append(IngestError(candidate.path, f"unexpected {type(exc).__name__}: {exc}"))
            writer.flush()
            try:
                writer.replace()
            except IngestError as exc:
                report.failures.append(exc)
        added = set(report.added)
        report.video_only = [clip_id for clip_id in report.video_only if clip_id in added]
        _finish_job(job, report)
    return report


def _finish_job(job: JobHandle, report: IngestReport) -> None:
    job.update(state=DONE if report.ok else FAILED, n_done=len(report.added) + report.skipped,
               n_failed=len(report.failures),
               message=f"{len(report.added)} added, {report.skipped} already there, {len(report.failures)} failed",
               errors=[(failure.item, failure.reason) for failure in report.failures])
