"""What the Quality and Review pages show, as plain functions the CLI and the tests call too.

Quality: a histogram per metric over a view's clips, with the rule limits to draw on it, and the
clips of one bar. Review: the queue of flags to decide on (a view's clips, worst first), marks for
a clip's timeline, bulk decisions on a whole view, and a clip's audit history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from db.engine import QueryEngine
from db.queries.annotations import flags_of_clips
from db.queries.clips import scored_metrics, scored_task_groups
from db.queries.views import view_clips
from db.schemas import HANDS
from db.view_spec import METRIC_COLUMNS, ViewSpec

from .flags import BulkResult, FlagRecord, bulk_set_state, clip_history, list_flags
from .metrics import METRIC_REGISTRY, metric_column_info
from .rules import RuleSet, ThresholdLine, threshold_lines
from .views import list_views, load_view, metric_histogram

QUEUE_STATES = ("proposed",)  # what the review queue shows unless asked otherwise
ALL_HUMAN_CLIPS = "All human clips"  # the view the pages start from
DEFAULT_VIEW = ViewSpec(kinds=("human",))


def view_choices(root: Path) -> list[str]:
    """The default view's name, then the saved views' names."""
    return [ALL_HUMAN_CLIPS, *list_views(root)["name"]]


def resolve_view(root: Path, name: str | None, tasks: tuple[str, ...] = ()) -> ViewSpec:
    """The spec behind a choice of `view_choices`, narrowed to `tasks` when some are given."""
    spec = DEFAULT_VIEW if not name or name == ALL_HUMAN_CLIPS else load_view(root, name)
    return replace(spec, tasks=tasks) if tasks else spec


def task_groups(engine: QueryEngine) -> list[str]:
    return scored_task_groups(engine)


def rules_table(rules: RuleSet) -> pd.DataFrame:
    """The rule set as a table: what each rule checks and when it fires."""
    rows = []
    for rule in rules.rules:
        limit = [f"{rule.op} {rule.threshold:g}"] if rule.threshold is not None else []
        if rule.outlier_k is not None:
            limit.append(f"{rule.outlier_k:g}x {rule.outlier_method.upper()} outlier of its task")
        rows.append({"rule": rule.name, "metric": rule.metric, "fires when": " and ".join(limit),
                     "severity": rule.severity, "category": rule.category, "per hand": rule.per_hand})
    return pd.DataFrame(rows)


def metric_catalog() -> pd.DataFrame:
    """One row per metric column: column, metric, hand ('' for the clip level), unit, meaning."""
    rows = []
    for column in METRIC_COLUMNS:
        metric, hand = metric_column_info(column)
        rows.append({"column": column, "metric": metric.name, "hand": hand or "", "unit": metric.unit,
                     "meaning": metric.meaning})
    return pd.DataFrame(rows)


def column_label(column: str) -> str:
    """`right_jitter_mm` -> 'jitter_mm (right hand, mm)'."""
    metric, hand = metric_column_info(column)
    where = f"{hand} hand" if hand else ("worse hand" if metric.per_hand and metric.clip_agg != "sum" else "clip")
    return f"{metric.name} ({where}, {metric.unit})"


@dataclass(frozen=True)
class QualityChart:
    column: str
    label: str
    meaning: str
    bins: pd.DataFrame  # lo, hi, count
    lines: list[ThresholdLine]  # rule limits over the view's tasks


def quality_chart(engine: QueryEngine, spec: ViewSpec, column: str, rules: RuleSet, bins: int = 30) -> QualityChart:
    """The histogram of `column` over the view, and the limits of the rules on that metric."""
    metric, _ = metric_column_info(column)
    population = scored_metrics(engine)
    if spec.tasks:
        population = population[population["task_group"].isin(spec.tasks) | population["task"].isin(spec.tasks)]
    return QualityChart(column=column, label=column_label(column), meaning=METRIC_REGISTRY[metric.name].meaning,
                        bins=metric_histogram(engine, spec, column, bins),
                        lines=threshold_lines(population, rules, column))


def bin_clips(engine: QueryEngine, spec: ViewSpec, column: str, lo: float, hi: float, limit: int = 500
              ) -> pd.DataFrame:
    """The view's clips whose `column` lies in one histogram bar [lo, hi]: id, task, source, duration, value."""
    clips = view_clips(engine, spec.with_range(column, lo, hi), limit=limit, columns=(column,))
    return clips[[*dict.fromkeys(["clip_id", "task_slug", "source", "duration_s", column])]]


def review_queue(engine: QueryEngine, spec: ViewSpec, states: tuple[str, ...] = QUEUE_STATES) -> pd.DataFrame:
    """Flags in `states` on the view's clips, errors first, then by clip and frame."""
    return flags_of_clips(engine, spec, list(states))


def decide_view(root: Path, engine: QueryEngine, spec: ViewSpec, state: str, actor: str,
                from_states: tuple[str, ...] = QUEUE_STATES) -> BulkResult:
    """Bulk decision on every flag of the view in `from_states`, each at the version listed."""
    queue = review_queue(engine, spec, from_states)
    return bulk_set_state(root, list(zip(queue["id"].astype(int), queue["version"].astype(int), strict=True)),
                          state, actor)


def clip_flags(root: Path, clip_id: str) -> list[FlagRecord]:
    return list_flags(root, clip_id)


def timeline_marks(n_frames: int, flags: list[FlagRecord], hand: str | None = None) -> list[float | None]:
    """Per frame 1.0 where a flag (not dismissed/withdrawn) covers it, else None; whole-clip flags mark all.

    With `hand`, only that hand's flags and the clip-level ones.
    """
    marks: list[float | None] = [None] * n_frames
    for flag in flags:
        if flag.state not in ("proposed", "confirmed") or (hand and flag.hand not in (hand, None)):
            continue
        first = 0 if flag.frame_start is None else max(0, flag.frame_start)
        last = n_frames - 1 if flag.frame_end is None else min(n_frames - 1, flag.frame_end)
        for frame in range(first, last + 1):
            marks[frame] = 1.0
    return marks


def flag_table(flags: list[FlagRecord]) -> pd.DataFrame:
    """The flags of a clip as a table (for the page)."""
    columns = ["id", "state", "severity", "rule", "hand", "frame_start", "frame_end", "reason", "author",
               "updated_at", "version"]
    return pd.DataFrame([{c: getattr(f, c) for c in columns} for f in flags], columns=columns)


HAND_CHOICES = ("", *HANDS)  # a curator's flag: the whole clip ('') or one hand


@dataclass(frozen=True)
class QueueItem:
    """The flag on screen in a review queue and its neighbours."""

    position: int  # 0-based
    total: int
    flag: dict  # one `review_queue` row
    previous_id: int | None
    next_id: int | None


def queue_item(queue: pd.DataFrame, flag_id: int | None) -> QueueItem | None:
    """The queue row of `flag_id` (the first row when it left the queue), or None for an empty queue."""
    if queue.empty:
        return None
    ids = [int(i) for i in queue["id"]]
    position = ids.index(flag_id) if flag_id in ids else 0
    return QueueItem(position=position, total=len(ids), flag=queue.iloc[position].to_dict(),
                     previous_id=ids[position - 1] if position > 0 else None,
                     next_id=ids[position + 1] if position + 1 < len(ids) else None)


def describe_flag(flag: dict) -> str:
    """One line about a queue row: severity, rule, hand, frames, state, version."""
    start, end = flag.get("frame_start"), flag.get("frame_end")
    frames = "whole clip" if start is None or pd.isna(start) else f"frames {int(start)}-{int(end)}"
    hand = flag.get("hand")
    hand = "both hands" if hand is None or pd.isna(hand) else f"{hand} hand"
    rule = flag.get("rule")
    rule = "curator" if rule is None or pd.isna(rule) else rule
    embodiment = flag.get("embodiment")
    robot = f" · robot hand {embodiment}" if isinstance(embodiment, str) and embodiment else ""
    return (f"`{flag['severity']}` · {rule} · {hand}{robot} · {frames} · state **{flag['state']}** · "
            f"v{int(flag['version'])}")


def history_table(root: Path, clip_id: str) -> pd.DataFrame:
    """A clip's audit history for display: before/after as compact JSON text."""
    history = clip_history(root, clip_id)
    for column in ("before", "after"):
        history[column] = [None if v is None else json.dumps(v, sort_keys=True) for v in history[column]]
    return history


def flag_span(flag: dict, n_frames: int) -> tuple[int, int]:
    """A queue row's frame range, or the whole clip, clamped to the clip (the curator form's default)."""
    last = max(n_frames - 1, 1)
    start, end = flag.get("frame_start"), flag.get("frame_end")
    if start is None or pd.isna(start):
        return 0, last
    return min(int(start), last), min(int(end), last)


def selected_bar(event: dict | None) -> tuple[float, float] | None:
    """The [lo, hi] of the histogram bar a chart selection event points at (customdata), or None."""
    points = ((event or {}).get("selection") or {}).get("points") or []
    if not points or "customdata" not in points[0]:
        return None
    data = points[0]["customdata"]
    # plotly.js hands typed arrays back as {"0": lo, "1": hi}; AppTest and older versions as lists.
    lo, hi = (data["0"], data["1"]) if isinstance(data, dict) else data[:2]
    return float(lo), float(hi)
