"""The view spec: the one filter language over clips, their metrics and flags, serialisable to JSON.

    {"metric_ranges": {"jitter_mm": [null, 5.0], "left_detection_rate": [0.9, null]},
     "tasks": ["pour"], "sources": ["synthetic"], "kinds": ["human"], "flag_states": ["proposed"],
     "exclude_flag_states": ["confirmed"], "text": "cup", "order_by": "jitter_mm", "descending": true}

The Clips page, the viewer's neighbours, saved views (`curation.views`) and exports all describe
their clips with one. Column names in a spec are checked against fixed allow-lists (the registered
metric columns of `db.schemas` and the `clips` columns below), so they can become SQL identifiers
safely; `db.queries.views` compiles a spec to SQL.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, fields, replace

from .models import FLAG_STATES
from .schemas import metric_columns

# The clips columns a view returns and may sort by.
CLIP_COLUMNS = ("clip_id", "kind", "source", "path", "fps", "n_frames", "duration_s", "width", "height", "task",
                "task_slug", "ingested_at")
CLIP_RANGE_COLUMNS = ("duration_s", "n_frames", "fps", "width", "height")  # numeric clips columns
METRIC_COLUMNS = tuple(metric_columns())  # every registered metric column (db.schemas)
RANGE_COLUMNS = tuple(dict.fromkeys((*CLIP_RANGE_COLUMNS, *METRIC_COLUMNS)))
SORT_COLUMNS = tuple(dict.fromkeys((*CLIP_COLUMNS, *METRIC_COLUMNS)))
Range = tuple[str, float | None, float | None]
MAX_TEXT_CHARS = 1_000  # the free-text search; a longer one is a paste accident, refused
LIST_FIELDS = ("tasks", "sources", "kinds", "clip_ids", "flag_states", "exclude_flag_states")
# Fields added after views were first saved: written only when set, so every spec saved before
# reads back and writes out the same JSON.
LATER_FIELDS = ("clip_ids", "task_contains")


def _strings(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"ViewSpec.{name} must be a list of strings, got {value!r}")
    return tuple(value)


def _bound(metric: str, value: object) -> float | None:
    if value is None:
        return None
    try:  # JSON integers are unbounded: float(10**400) overflows
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:
        number = math.nan
    if math.isnan(number):
        shown = "an integer too large for a float" if isinstance(value, int) else repr(value)[:80]
        raise ValueError(f"ViewSpec.metric_ranges[{metric!r}]: bounds must be numbers or null, got {shown}")
    return number


@dataclass(frozen=True)
class ViewSpec:
    """Which clips to show; every field narrows the selection and an empty one does not filter."""

    metric_ranges: tuple[Range, ...] = ()  # (column, lo, hi), inclusive, None = open; metric or clip column
    tasks: tuple[str, ...] = ()  # task_slug or task text, exactly
    sources: tuple[str, ...] = ()  # clips.source
    kinds: tuple[str, ...] = ()  # human | robot
    clip_ids: tuple[str, ...] = ()  # these clips only
    flag_states: tuple[str, ...] = ()  # keep clips with at least one flag in one of these states
    exclude_flag_states: tuple[str, ...] = ()  # drop clips with any flag in one of these states
    text: str = ""  # case-insensitive substring of the task, task slug or a corrected task text
    task_contains: str = ""  # case-insensitive substring of the task or task slug as ingested (the Clips page)
    order_by: str = "clip_id"  # a clips or metric column
    descending: bool = False  # sort largest first (nulls stay last either way)

    def __post_init__(self) -> None:
        # One order for the same ranges (they AND together), so equal specs compare and serialise equal.
        object.__setattr__(self, "metric_ranges", tuple(sorted(self.metric_ranges, key=lambda r: str(r[0]))))
        unknown = sorted({r[0] for r in self.metric_ranges} - set(RANGE_COLUMNS))
        if unknown:
            raise ValueError(f"ViewSpec.metric_ranges: unknown metric names {unknown}")
        for column, lo, hi in self.metric_ranges:
            for bound in (lo, hi):
                if bound is not None and (isinstance(bound, bool) or not isinstance(bound, numbers.Real)):
                    raise ValueError(f"ViewSpec.metric_ranges[{column!r}]: bounds must be numbers or null, "
                                     f"got {repr(bound)[:80]}")
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"ViewSpec.metric_ranges[{column!r}]: lo {lo} > hi {hi}")
        for name in LIST_FIELDS:
            _strings(name, getattr(self, name))
        bad_states = sorted(set(self.flag_states + self.exclude_flag_states) - set(FLAG_STATES))
        if bad_states:
            raise ValueError(f"ViewSpec flag states {bad_states} are not among {FLAG_STATES}")
        if self.order_by not in SORT_COLUMNS:
            raise ValueError(f"ViewSpec.order_by {self.order_by!r} is not a clips or metric column")
        if not isinstance(self.text, str) or len(self.text) > MAX_TEXT_CHARS:
            raise ValueError(f"ViewSpec.text must be a string of at most {MAX_TEXT_CHARS} characters, "
                             f"got {str(self.text)[:40]!r} ({len(str(self.text))} characters)")
        if not isinstance(self.task_contains, str):  # unbounded, as the Clips page's search box always was
            raise ValueError(f"ViewSpec.task_contains must be a string, got {self.task_contains!r}")
        if not isinstance(self.descending, bool):
            raise ValueError(f"ViewSpec.descending must be true or false, got {self.descending!r}")

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["metric_ranges"] = {column: [lo, hi] for column, lo, hi in self.metric_ranges}
        for name in LIST_FIELDS:
            data[name] = list(data[name])
        for name in LATER_FIELDS:
            if not data[name]:
                del data[name]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ViewSpec:
        """Validate and build; unknown keys and metric names raise `ValueError` naming them."""
        if not isinstance(data, dict):
            raise ValueError(f"a view spec is a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown view spec keys {unknown}")
        values = dict(data)
        ranges = values.pop("metric_ranges", {}) or {}
        if not isinstance(ranges, dict):
            raise ValueError("ViewSpec.metric_ranges must be an object {metric: [lo, hi]}")
        parsed = []
        for column, pair in ranges.items():
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ValueError(f"ViewSpec.metric_ranges[{column!r}] must be [lo, hi], got {pair!r}")
            parsed.append((column, _bound(column, pair[0]), _bound(column, pair[1])))
        for name in LIST_FIELDS:
            if name in values:
                values[name] = _strings(name, values[name])
        return cls(metric_ranges=tuple(parsed), **values)

    @classmethod
    def from_json(cls, text: str) -> ViewSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"view spec is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def with_range(self, column: str, lo: float | None, hi: float | None) -> ViewSpec:
        """This spec with `column` also limited to [lo, hi]."""
        kept = tuple(r for r in self.metric_ranges if r[0] != column)
        return replace(self, metric_ranges=(*kept, (column, lo, hi)))
