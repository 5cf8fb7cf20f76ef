"""Noisy-demo rules: a YAML rule set turning metrics into proposed flags, each with its reason.

A rule compares one registered metric with an absolute `threshold`, with an outlier fence
relative to the clip's own task and pose source (`outlier_k`: above Q3 + k·IQR for `>` rules,
below Q1 - k·IQR for `<` rules, or median ± k robust sigmas with `outlier_method: mad`, over the
scored clips of that task), or with both (then both must hold, which keeps a tight task
distribution from flagging harmless clips). Per-hand metrics are checked on each
hand's column, so a flag names the hand and the offending frames from the metric's evidence.

```yaml
rules:
  - name: jitter_high            # stored on each flag; unique
    metric: jitter_mm            # a key of curation.metrics.METRIC_REGISTRY
    op: ">"                      # > >= < <=
    threshold: 6.0               # absolute, in the metric's unit (optional if outlier_k is given)
    outlier_k: 3.0               # relative to the task's distribution (optional)
    outlier_method: iqr          # iqr | mad
    severity: warning            # info | warning | error
    category: jitter             # what kind of problem it finds (noise kinds, or 'content')
    reason: "{hand} hand jitters {value:.1f} mm (limit {threshold:.1f} mm)"
```

Retargeting quality is judged per embodiment (`curation.retarget_quality`): a rule with
`per_embodiment: true` checks a `RETARGET_METRIC_REGISTRY` metric on every (clip, embodiment, hand)
row of `retarget_metrics`, its outlier fence drawn within the embodiment, its limit the first of
`embodiment_thresholds[embodiment]`, `dof_class_thresholds[dof_class]` and `threshold` that is set;
its flags name the embodiment (`{embodiment}` and `{dof}` in the reason):

```yaml
  - name: retarget_residual
    metric: retarget_residual_mm
    per_embodiment: true
    op: ">"
    threshold: 15.0                       # any hand without a more specific limit
    dof_class_thresholds: {low: 45.0}     # gripper | low | mid | high (curation.retarget_quality.DOF_CLASSES)
    embodiment_thresholds: {inspire: 40}  # by retargets.embodiment
```
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from db.config_files import ConfigError, check_field_types, check_fields, read_yaml_mapping
from db.schemas import HANDS

from .metrics import METRIC_REGISTRY
from .retarget_quality import DOF_CLASS_NAMES, RETARGET_METRIC_REGISTRY

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.yml")
OPS: dict[str, Callable[[object, object], object]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
SEVERITIES = ("info", "warning", "error")
OUTLIER_METHODS = ("iqr", "mad")
CONTENT_CATEGORY = "content"  # rules about what a clip shows rather than tracking noise
GROUP_COLUMNS = ("task_group", "pose_source")  # what an outlier is relative to
EMBODIMENT_GROUP_COLUMNS = ("task_group", "embodiment")  # per_embodiment rules: never across robot hands
REASON_FIELDS = {"hand": "right", "value": 1.0, "threshold": 1.0, "unit": "mm", "metric": "m", "column": "c",
                 "embodiment": "e", "dof": 6}


@dataclass(frozen=True)
class Rule:
    """One comparison of a metric; see the module docstring for the YAML form."""

    name: str  # unique; stored on the flags it proposes
    metric: str  # registered metric name (per-hand metrics are checked per hand)
    op: str  # one of OPS
    reason: str  # str.format template: {hand} {value} {threshold} {unit} {metric} {column}
    threshold: float | None = None  # absolute limit in the metric's unit
    outlier_k: float | None = None  # how far out of the task's own distribution (in IQRs or robust sigmas)
    outlier_method: str = "iqr"  # iqr: Q3 + k*IQR (Q1 - k*IQR); mad: median +- k * 1.4826 * MAD
    min_group: int = 8  # fewer scored clips in a task than this: the outlier fence is not used
    severity: str = "warning"  # info | warning | error
    category: str = "noise"  # jitter | dropout | swap | tracking | content ...
    per_hand: bool = True  # per-hand metric: check left_ and right_ columns (else the clip column)
    suppressed_by: tuple[str, ...] = ()  # earlier rules whose flag on the same clip/hand explains this one
    per_embodiment: bool = False  # check a retargeting metric per embodiment and hand (retarget_metrics)
    embodiment_thresholds: dict[str, float] | None = None  # per_embodiment: limit by embodiment name
    dof_class_thresholds: dict[str, float] | None = None  # per_embodiment: limit by DoF class (gripper..high)

    def __post_init__(self) -> None:
        check_field_types(Rule, vars(self), f"rule {self.name}")  # YAML gives any type: name the field
        object.__setattr__(self, "suppressed_by", tuple(self.suppressed_by))
        if not self.name:
            raise ValueError("Rule.name must not be empty")
        registry = RETARGET_METRIC_REGISTRY if self.per_embodiment else METRIC_REGISTRY
        if self.metric not in registry:
            kind = "per-embodiment retargeting" if self.per_embodiment else "registered"
            raise ValueError(f"rule {self.name}: Rule.metric {self.metric!r} is not a {kind} metric "
                             f"(known: {sorted(registry)})")
        self._check_limits_by()
        if self.op not in OPS:
            raise ValueError(f"rule {self.name}: Rule.op must be one of {sorted(OPS)}, got {self.op!r}")
        if self.threshold is None and self.outlier_k is None and not self.limits_by:
            raise ValueError(f"rule {self.name}: give Rule.threshold, Rule.outlier_k, or both")
        if self.outlier_k is not None and self.outlier_k <= 0:
            raise ValueError(f"rule {self.name}: Rule.outlier_k must be > 0, got {self.outlier_k}")
        if self.outlier_method not in OUTLIER_METHODS:
            raise ValueError(f"rule {self.name}: Rule.outlier_method must be one of {OUTLIER_METHODS}, "
                             f"got {self.outlier_method!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.name}: Rule.severity must be one of {SEVERITIES}, got {self.severity!r}")
        try:
            self.reason.format(**REASON_FIELDS)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"rule {self.name}: Rule.reason is not a valid template: {exc}") from exc

    @property
    def limits_by(self) -> bool:
        """Whether the rule sets limits per embodiment or per DoF class."""
        return bool(self.embodiment_thresholds or self.dof_class_thresholds)

    def _check_limits_by(self) -> None:
        for name in ("embodiment_thresholds", "dof_class_thresholds"):
            limits = getattr(self, name)
            if limits is None:
                continue
            if not self.per_embodiment:
                raise ValueError(f"rule {self.name}: Rule.{name} needs per_embodiment: true")
            bad = {k: v for k, v in limits.items() if isinstance(v, bool) or not isinstance(v, (int, float))}
            if bad:
                raise ValueError(f"rule {self.name}: Rule.{name} values must be numbers, got {bad}")
        unknown = sorted(set(self.dof_class_thresholds or {}) - set(DOF_CLASS_NAMES))
        if unknown:
            raise ValueError(f"rule {self.name}: Rule.dof_class_thresholds: unknown DoF classes {unknown} "
                             f"(known: {list(DOF_CLASS_NAMES)})")

    def threshold_for(self, embodiment: str | None = None, dof_class: str | None = None) -> float | None:
        """The absolute limit for one embodiment: by name, else by DoF class, else `threshold`."""
        for limits, key in ((self.embodiment_thresholds, embodiment), (self.dof_class_thresholds, dof_class)):
            if limits and key in limits:
                return float(limits[key])
        return self.threshold

    def columns(self) -> list[tuple[str, str | None]]:
        """(metrics column, hand) pairs this rule checks (none for a per_embodiment rule: it checks rows)."""
        if self.per_embodiment:
            return []
        if self.per_hand and METRIC_REGISTRY[self.metric].per_hand:
            return [(f"{hand}_{self.metric}", hand) for hand in HANDS]
        return [(self.metric, None)]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        names = [r.name for r in self.rules]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"RuleSet.rules: duplicate rule names {duplicated}")
        for position, rule in enumerate(self.rules):
            later = sorted(set(rule.suppressed_by) - set(names[:position]))
            if later:
                raise ValueError(f"rule {rule.name}: Rule.suppressed_by names {later}, which are not earlier rules")

    @classmethod
    def from_yaml(cls, path: Path = DEFAULT_RULES_PATH, override: dict | None = None) -> RuleSet:
        """Load `rules:`; `override` maps a rule name to fields replaced on it (the file is not changed).

        Raises:
            ValueError: the file is unreadable, not YAML, or a rule has an unknown key or a wrong value;
                the message names the file, the rule and the key.
        """
        data = read_yaml_mapping(path, "rules", expected="a mapping with a 'rules:' list")
        if not isinstance(data.get("rules", []), list):
            raise ConfigError(f"{path}: expected a mapping with a 'rules:' list")
        entries = []
        for number, entry in enumerate(data.get("rules", []), start=1):
            if not isinstance(entry, dict):
                raise ConfigError(f"{path}: rules entry {number} is not a mapping")
            entry = {**entry, **(override or {}).get(entry.get("name"), {})}
            check_fields(Rule, entry, f"{path}: rule {entry.get('name', number)}", noun="keys")
            entries.append(entry)
        try:
            return cls(tuple(Rule(**e) for e in entries))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def by_name(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(f"no rule named {name!r}")


@dataclass(frozen=True)
class ProposedFlag:
    """What a rule says about one clip (and hand, and frame range)."""

    clip_id: str
    rule: str
    hand: str | None
    frame_start: int | None
    frame_end: int | None
    severity: str
    category: str
    reason: str
    value: float
    threshold: float
    embodiment: str | None = None  # the robot hand a per_embodiment rule's flag is about

    @property
    def key(self) -> tuple[str, str, str | None, int | None, int | None, str | None]:
        """Identity for idempotent re-scoring: the same clip, rule, hand, frames and embodiment."""
        return self.clip_id, self.rule, self.hand, self.frame_start, self.frame_end, self.embodiment


def _fence(values: pd.Series, rule: Rule, threshold: float | None = None) -> float:
    """The rule's limit for one population: the outlier fence and/or the absolute threshold.

    `threshold` replaces the rule's own (a per-embodiment limit).
    """
    threshold = rule.threshold if threshold is None else threshold
    limit = np.nan
    finite = values.dropna()
    upper = rule.op.startswith(">")
    if rule.outlier_k is not None and len(finite) >= rule.min_group:
        if rule.outlier_method == "iqr":
            q1, q3 = np.percentile(finite, [25, 75])
            limit = q3 + rule.outlier_k * (q3 - q1) if upper else q1 - rule.outlier_k * (q3 - q1)
        else:  # the median and MAD stay with the clean majority even when a quarter of clips are noisy
            median = float(np.median(finite))
            spread = rule.outlier_k * 1.4826 * float(np.median(np.abs(finite - median)))
            limit = median + spread if upper else median - spread
    if threshold is None:
        return float(limit)
    if np.isnan(limit):
        return float(threshold)
    # Both given: the stricter of the two must be crossed.
    return float(max(limit, threshold) if upper else min(limit, threshold))


def _groups(metrics: pd.DataFrame) -> list[pd.Series]:
    """Outlier populations: clips of one task scored from one pose source (trackers differ in noise)."""
    return [metrics[c].fillna("") for c in GROUP_COLUMNS if c in metrics]


def rule_limits(metrics: pd.DataFrame, rule: Rule, column: str) -> pd.Series:
    """Per row of `metrics` (with `task_group`, `pose_source` columns), the limit `rule` applies on `column`."""
    groups = _groups(metrics)
    if rule.outlier_k is None or not groups:
        return pd.Series(_fence(metrics[column], rule), index=metrics.index)
    return metrics.groupby(groups)[column].transform(lambda v: _fence(v, rule))


def _firing(metrics: pd.DataFrame, rule: Rule, column: str) -> tuple[pd.Series, pd.Series, np.ndarray]:
    values = pd.to_numeric(metrics[column], errors="coerce")
    limits = rule_limits(metrics.assign(**{column: values}), rule, column)
    firing = OPS[rule.op](values, limits) & values.notna() & limits.notna()
    return values, limits, np.flatnonzero(firing.to_numpy())


def evaluate_rules(metrics: pd.DataFrame, rules: RuleSet) -> list[ProposedFlag]:
    """Proposed flags for the rows of `metrics` (metric columns, clip_id, task_group, pose_source, evidence).

    A clip's hand gets at most one flag per category (the first rule in file order that fires),
    and none from a rule whose `suppressed_by` rule already flagged that hand or the whole clip:
    a swap also makes speed spikes, and one problem should be one decision.
    """
    if metrics.empty:
        return []
    evidence = [json.loads(e) if isinstance(e, str) and e else {} for e in metrics.get("evidence", [])]
    evidence = evidence or [{}] * len(metrics)
    fired: set[tuple[str, str | None, str]] = set()  # (clip, hand, rule name or category)
    proposals = []
    for rule in rules.rules:
        for column, hand in rule.columns():
            values, limits, rows = _firing(metrics, rule, column)
            for row in rows:
                clip_id = str(metrics["clip_id"].iloc[row])
                blockers = {rule.category, *rule.suppressed_by}
                if any((clip_id, h, b) in fired for h in {hand, None} for b in blockers):
                    continue
                fired |= {(clip_id, hand, rule.name), (clip_id, hand, rule.category)}
                proposals.append(_proposal(rule, clip_id, hand, column, float(values.iloc[row]),
                                           float(limits.iloc[row]), evidence[row].get(column)))
    return proposals


def _proposal(rule: Rule, clip_id: str, hand: str | None, column: str, value: float, limit: float,
              frames: list[int] | None, embodiment: str | None = None, dof: int | None = None) -> ProposedFlag:
    info = (RETARGET_METRIC_REGISTRY if rule.per_embodiment else METRIC_REGISTRY)[rule.metric]
    reason = rule.reason.format(hand=hand or "either", value=value, threshold=limit, unit=info.unit,
                                metric=rule.metric, column=column, embodiment=embodiment or "the robot hand",
                                dof="?" if dof is None else dof)
    return ProposedFlag(clip_id=clip_id, rule=rule.name, hand=hand,
                        frame_start=None if frames is None else int(frames[0]),
                        frame_end=None if frames is None else int(frames[1]), severity=rule.severity,
                        category=rule.category, reason=reason, value=value, threshold=limit, embodiment=embodiment)


def embodiment_limits(rows: pd.DataFrame, rule: Rule) -> pd.Series:
    """Per row of `retarget_metrics` (with task_group), the limit of a per_embodiment rule on its metric."""
    values = pd.to_numeric(rows[rule.metric], errors="coerce")
    limits = pd.Series(np.nan, index=rows.index)
    keys = [rows[c].fillna("") for c in EMBODIMENT_GROUP_COLUMNS if c in rows] + [rows["dof_class"].fillna("")]
    for _, group in rows.groupby(keys):
        first = group.iloc[0]
        threshold = rule.threshold_for(first["embodiment"], first["dof_class"] or None)
        limits[group.index] = _fence(values[group.index], rule, threshold)
    return limits


def evaluate_embodiment_rules(rows: pd.DataFrame, rules: RuleSet) -> list[ProposedFlag]:
    """Proposed flags of the per_embodiment rules over `retarget_metrics` rows (one per clip, embodiment, hand).

    Like `evaluate_rules`, a clip's hand gets at most one flag per category and embodiment: a 6-DoF
    hand's flag never stands for, or blocks, one about the 22-DoF hand.
    """
    if rows.empty:
        return []
    fired: set[tuple[str, str, str, str]] = set()  # (clip, hand, embodiment, rule name or category)
    proposals = []
    for rule in (r for r in rules.rules if r.per_embodiment):
        values, limits = pd.to_numeric(rows[rule.metric], errors="coerce"), embodiment_limits(rows, rule)
        firing = OPS[rule.op](values, limits) & values.notna() & limits.notna()
        for index in np.flatnonzero(firing.to_numpy()):
            row = rows.iloc[index]
            key = (str(row["clip_id"]), str(row["hand"]), str(row["embodiment"]))
            if any((*key, b) in fired for b in {rule.category, *rule.suppressed_by}):
                continue
            fired |= {(*key, rule.name), (*key, rule.category)}
            dof = None if pd.isna(row.get("dof")) else int(row["dof"])
            proposals.append(_proposal(rule, key[0], key[1], rule.metric, float(values.iloc[index]),
                                       float(limits.iloc[index]), None, key[2], dof))
    return proposals


@dataclass(frozen=True)
class ThresholdLine:
    """A rule's limit on one metric column, for drawing on a histogram."""

    rule: str
    value: float
    label: str
    severity: str


def threshold_lines(metrics: pd.DataFrame, rules: RuleSet, column: str) -> list[ThresholdLine]:
    """The limits every rule on `column`'s metric draws over the clips in `metrics` (one per task group).

    On the clip-level column of a per-hand metric (the worse hand), a per-hand rule's absolute limit
    is drawn too: the worse hand crosses it exactly when some hand does.
    """
    base = column.removeprefix("left_").removeprefix("right_")
    lines = []
    for rule in rules.rules:
        checked = {c for c, _ in rule.columns()}
        if rule.metric != base:
            continue
        if column not in checked:
            if column == base and rule.threshold is not None:
                lines.append(ThresholdLine(rule.name, float(rule.threshold),
                                           f"{rule.name} {rule.op} {rule.threshold:g} (each hand)", rule.severity))
            continue
        lines += _rule_lines(metrics, rule, column)
    return lines


def _rule_lines(metrics: pd.DataFrame, rule: Rule, column: str) -> list[ThresholdLine]:
    groups = _groups(metrics)
    if rule.outlier_k is None or not groups or metrics.empty:
        if rule.threshold is None:
            return []
        return [ThresholdLine(rule.name, float(rule.threshold), f"{rule.name} {rule.op} {rule.threshold:g}",
                              rule.severity)]
    lines = []
    for key, group in metrics.groupby(groups):
        limit = _fence(pd.to_numeric(group[column], errors="coerce"), rule)
        if np.isfinite(limit):
            label = " / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
            lines.append(ThresholdLine(rule.name, limit, f"{rule.name} ({label}) {rule.op} {limit:.3g}",
                                       rule.severity))
    return lines
