"""The Parquet lake: batches of immutable files made visible atomically through a commit log.

A writer stages every file of a batch under `lake/_tmp/<batch>/`, moves them into place, then
writes one JSON entry into `lake/_commits/` (write temp + rename, so it is atomic). Readers see
exactly the files named by commit entries, so a batch killed half-way is never visible and a
re-run cannot see duplicates of it. An entry may also retire files (`removes`) to replace
recomputed results. Files that no entry names are garbage, removed by `collect_garbage`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import paths
from .schemas import STAGES, conform

ROW_GROUP_ROWS = 64_000  # DuckDB prunes by row-group statistics; files are sorted by clip_id
GARBAGE_MIN_AGE_S = 24 * 3600.0  # age of unnamed files and temp folders a writer clears when it starts
_collected: set[Path] = set()  # lake dirs whose garbage this process has collected


@dataclass
class Batch:
    """Files staged for one commit. Use through `Lake.batch()`."""

    lake: Lake
    batch_id: str
    adds: dict[str, list[str]] = field(default_factory=dict)  # stage -> lake-relative paths
    removes: list[str] = field(default_factory=list)
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def tmp_dir(self) -> Path:
        return self.lake.dir / paths.TMP_DIR / self.batch_id

    def write(self, stage: str, table: pa.Table, partitions: dict[str, str] | None = None) -> None:
        """Validate `table` against the stage's schema, sort it by clip_id and stage it."""
        if stage not in STAGES:
            raise ValueError(f"unknown lake stage {stage!r}; known: {sorted(STAGES)}")
        if table.num_rows == 0:
            return
        table = conform(table, STAGES[stage], stage)
        sort_keys = [("clip_id", "ascending")]
        if "frame_index" in table.column_names:
            sort_keys.append(("frame_index", "ascending"))
        table = table.sort_by(sort_keys)
        relative = paths.stage_file(stage, self.batch_id, partitions or {})
        if relative in self.adds.get(stage, []):
            raise ValueError(f"{stage}: batch already has a file for partitions {partitions}")
        target = self.tmp_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target, row_group_size=ROW_GROUP_ROWS, compression="zstd")
        self.adds.setdefault(stage, []).append(relative)

    def remove(self, relative_paths: list[str]) -> None:
        """Retire already committed files in the same commit (for recomputed stages)."""
        self.removes.extend(relative_paths)


class Lake:
    """The lake under `<root>/lake`: commit, list visible files, collect garbage."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = paths.lake_dir(root)
        (self.dir / paths.COMMITS_DIR).mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Serialise writers across processes (check-then-write must not interleave)."""
        with open(self.dir / paths.WRITER_LOCK, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def batch(self, **meta: object) -> Iterator[Batch]:
        """Stage files, then commit them all at once on a clean exit; discard them on error."""
        self._collect_garbage_once()
        batch = Batch(self, batch_id=uuid.uuid4().hex[:16], meta=dict(meta))
        try:
            yield batch
            self._commit(batch)
        finally:
            shutil.rmtree(batch.tmp_dir, ignore_errors=True)

    def _commit(self, batch: Batch) -> None:
        if not batch.adds and not batch.removes:
            return
        for relative in (p for files in batch.adds.values() for p in files):
            final = self.dir / relative
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(batch.tmp_dir / relative, final)
        entry = {"batch_id": batch.batch_id, "created_at": time.time(), "adds": batch.adds,
                 "removes": batch.removes, "meta": batch.meta}
        name = f"{time.time_ns():020d}-{batch.batch_id}.json"
        batch.tmp_dir.mkdir(parents=True, exist_ok=True)  # a batch that only retires files staged nothing
        tmp = batch.tmp_dir / name
        tmp.write_text(json.dumps(entry, default=str))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.dir / paths.COMMITS_DIR / name)

    def entries(self) -> list[dict]:
        """Every commit entry, oldest first (batch_id, created_at, adds, removes, meta)."""
        commit_dir = self.dir / paths.COMMITS_DIR
        entries = []
        for path in sorted(commit_dir.glob("*.json")):
            entries.append(json.loads(path.read_text()))
        return entries

    def version(self) -> tuple[int, int]:
        """A cheap token that changes whenever a commit lands (count, newest mtime)."""
        commit_dir = self.dir / paths.COMMITS_DIR
        names = os.listdir(commit_dir)
        newest = max((os.stat(commit_dir / n).st_mtime_ns for n in names), default=0)
        return len(names), newest

    def files(self, stage: str) -> list[Path]:
        """Visible files of a stage: added by some commit and not removed by a later one."""
        visible: dict[str, None] = {}
        for entry in self.entries():
            for relative in entry.get("adds", {}).get(stage, []):
                visible[relative] = None
            for relative in entry.get("removes", []):
                visible.pop(relative, None)
        return [self.dir / relative for relative in visible]

    def read_file(self, stage: str, path: Path, columns: list[str] | None = None) -> pa.Table:
        """One visible file of a stage in the stage's current schema (columns it predates are null)."""
        schema = STAGES[stage] if columns is None else pa.schema([STAGES[stage].field(c) for c in columns])
        return _conform(_read_file(path, _present(path, schema)), schema)

    def read(self, stage: str, columns: list[str] | None = None) -> pa.Table:
        """Read a whole stage as one Arrow table (small stages and tests; queries use DuckDB)."""
        schema = STAGES[stage] if columns is None else pa.schema([STAGES[stage].field(c) for c in columns])
        tables = [_conform(_read_file(f, _present(f, schema)), schema) for f in self.files(stage)]
        return pa.concat_tables(tables) if tables else schema.empty_table()

    def _collect_garbage_once(self) -> None:
        """A writer's first batch in a process clears what killed writers left (never visible, only on disk).

        Only leftovers a day old go: no live batch stages files that long before committing.
        """
        if self.dir in _collected:
            return
        _collected.add(self.dir)
        with contextlib.suppress(OSError):  # another process collecting the same files at once
            self.collect_garbage(min_age_s=GARBAGE_MIN_AGE_S)

    def collect_garbage(self, min_age_s: float = 3600.0) -> list[Path]:
        """Delete files no commit names and stale temp dirs older than `min_age_s`."""
        named = {relative for entry in self.entries() for files in entry.get("adds", {}).values()
                 for relative in files}
        removed = []
        now = time.time()
        for stage in STAGES:
            for path in (self.dir / stage).rglob("*.parquet"):
                relative = path.relative_to(self.dir).as_posix()
                if relative not in named and now - path.stat().st_mtime > min_age_s:
                    path.unlink()
                    removed.append(path)
        for tmp in (self.dir / paths.TMP_DIR).glob("*"):
            if now - tmp.stat().st_mtime > min_age_s:
                shutil.rmtree(tmp, ignore_errors=True)
                removed.append(tmp)
        return removed


def _present(path: Path, schema: pa.Schema) -> list[str]:
    """The columns of `schema` that the file has (a file written before a column was added lacks it)."""
    names = set(pq.read_schema(path).names)
    return [name for name in schema.names if name in names]


def _read_file(path: Path, columns: list[str]) -> pa.Table:
    """One lake file's columns, read by DuckDB (as queries read them).

    pyarrow 24's Parquet reader rejects the nested fixed-size keypoint lists it wrote for absent
    hands ("Expected all lists to be of size=21"); DuckDB reads them, as variable lists that
    `_conform` casts back.
    """
    import duckdb

    listed = ", ".join('"' + name.replace('"', '""') + '"' for name in columns)
    with duckdb.connect() as con:
        return con.sql(f"SELECT {listed} FROM read_parquet($path, hive_partitioning = false)",
                       params={"path": str(path)}).to_arrow_table()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with the stage's current columns and types: columns added since it was written are null."""
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
               for f in schema]
    return pa.table(columns, schema=schema)
