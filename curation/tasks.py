"""Task text for clips whose media has none: one clip, a CSV of many, and the clips still without one.

    set_clip_task(root, clip_id, "pour water into the cup", author)   # egocurate task set CLIP_ID TEXT
    import_task_csv(root, Path("tasks.csv"), author)                   # egocurate task import tasks.csv
    clips_without_task(engine)                                         # egocurate task list --missing

Every write is `curation.labels.set_task_text`, the function the Review page's task correction
calls: a versioned `task` label with its audit entry, which wins over the catalogued text wherever
a clip's task is read (pairing, exports). A clip without task text is never proposed by task
similarity (`curation.pairing`), is exported with `export_plan.NO_TASK_PLACEHOLDER`, and can be
paired by hand on the Pairs page (`curation.manual_pairs`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from db.engine import QueryEngine, query_engine
from db.queries.clips import clips_by_id, pairing_clips

from .flags import StaleUpdateError
from .labels import LabelRecord, set_task_text, task_label
from .pairing import has_task_text

CSV_COLUMNS = ("clip_id", "task")  # required header of a task CSV; other columns are ignored


def set_clip_task(root: Path, clip_id: str, text: str, author: str) -> LabelRecord:
    """Give a catalogued clip its task text, replacing a curator's earlier one (the CLI's last word wins).

    Raises:
        KeyError: no clip has this id.
        ValueError: the text is empty or too long, or no author is named.
    """
    if clips_by_id(query_engine(root), [clip_id]).empty:
        raise KeyError(f"no clip with id {clip_id!r} in the catalog")
    current = task_label(root, clip_id)
    try:
        return set_task_text(root, clip_id, text, author, current.version if current else None)
    except StaleUpdateError:  # someone saved one between our read and our write: try once more on theirs
        current = task_label(root, clip_id)
        return set_task_text(root, clip_id, text, author, current.version if current else None)


@dataclass
class TaskImport:
    """What `import_task_csv` did: clips given their task, and the rows that could not be used."""

    done: list[str] = field(default_factory=list)  # clip ids
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # (line, clip id, reason)


def import_task_csv(root: Path, path: Path, author: str) -> TaskImport:
    """Set the task of every `clip_id,task` row of a CSV (UTF-8, header row); a bad row fails alone.

    Raises:
        ValueError: the file cannot be read as CSV or lacks the `clip_id` and `task` columns.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
            header = rows[0].keys() if rows else []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: cannot read it as a UTF-8 CSV ({exc})") from exc
    missing = [c for c in CSV_COLUMNS if c not in header]
    if rows and missing:
        raise ValueError(f"{path}: the header must name the columns {', '.join(CSV_COLUMNS)} (missing: "
                         f"{', '.join(missing)})")
    result = TaskImport()
    for line, row in enumerate(rows, start=2):
        clip_id = (row.get("clip_id") or "").strip()
        try:
            set_clip_task(root, clip_id, row.get("task") or "", author)
            result.done.append(clip_id)
        except (KeyError, ValueError) as exc:
            result.failures.append((line, clip_id, str(exc.args[0]) if exc.args else str(exc)))
    return result


def clips_without_task(engine: QueryEngine) -> pd.DataFrame:
    """Clips with no task text, neither from their media nor from a curator: clip_id, kind, source, task_slug."""
    clips = pairing_clips(engine)
    missing = clips[[not has_task_text(t) for t in clips["task"]]] if len(clips) else clips
    return missing.loc[:, ["clip_id", "kind", "source", "task_slug"]].reset_index(drop=True)


def give_missing_tasks(root: Path, clip_ids: list[str], text: str, author: str) -> list[str]:
    """Set `text` on those of `clip_ids` that have no task text yet (ingest --task on clips already there)."""
    missing = set(clips_without_task(query_engine(root))["clip_id"])
    done = []
    for clip_id in dict.fromkeys(clip_ids):
        if clip_id in missing:
            set_clip_task(root, clip_id, text, author)
            done.append(clip_id)
    return done
