"""Noisy-demo rules: YAML rule sets, absolute and task-relative limits, one flag per problem."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from curation.metrics import METRIC_REGISTRY
from curation.retarget_quality import RETARGET_METRIC_REGISTRY
from curation.rules import DEFAULT_RULES_PATH, Rule, RuleSet, evaluate_rules, threshold_lines


def frame(values: dict[str, list], tasks: list[str] | None = None, evidence: list[dict] | None = None
          ) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    data = {"clip_id": [f"c{i}" for i in range(n)], "task_group": tasks or ["t"] * n, "pose_source": ["s"] * n,
            "evidence": [json.dumps(e) for e in (evidence or [{}] * n)], **values}
    return pd.DataFrame(data)


def rule(**fields) -> Rule:  # noqa: ANN003
    base = {"name": "r", "metric": "jitter_mm", "op": ">", "reason": "{hand} {value:.1f} > {threshold:.1f}",
            "per_hand": False}
    return Rule(**{**base, **fields})


def test_default_rules_load_and_name_registered_metrics():
    rules = RuleSet.from_yaml(DEFAULT_RULES_PATH)
    assert len(rules.rules) >= 8
    # Retargeting rules name a per-embodiment metric (curation.retarget_quality), the others a clip metric.
    assert all(r.metric in (RETARGET_METRIC_REGISTRY if r.per_embodiment else METRIC_REGISTRY) for r in rules.rules)
    assert {"jitter", "dropout", "swap", "content"} <= {r.category for r in rules.rules}
    assert any(r.outlier_k for r in rules.rules) and any(r.outlier_k is None for r in rules.rules)


@pytest.mark.parametrize("fields, message", [
    ({"metric": "nope"}, "Rule.metric"),
    ({"op": "=="}, "Rule.op"),
    ({"threshold": None}, "Rule.threshold"),
    ({"severity": "fatal"}, "Rule.severity"),
    ({"reason": "{unknown}"}, "Rule.reason"),
    ({"outlier_k": -1.0}, "Rule.outlier_k"),
    ({"outlier_method": "zscore", "outlier_k": 2.0}, "Rule.outlier_method"),
])
def test_rule_validation_names_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        rule(**{"threshold": 1.0, **fields})


def test_rule_set_refuses_duplicates_and_forward_suppression():
    with pytest.raises(ValueError, match="duplicate"):
        RuleSet((rule(threshold=1.0), rule(threshold=2.0)))
    with pytest.raises(ValueError, match="not earlier"):
        RuleSet((rule(threshold=1.0, suppressed_by=("later",)), rule(name="later", threshold=1.0)))


def test_absolute_rule_fires_with_reason_and_frames():
    metrics = frame({"jitter_mm": [1.0, 7.5, None]}, evidence=[{}, {"jitter_mm": [10, 20]}, {}])
    [flag] = evaluate_rules(metrics, RuleSet((rule(threshold=3.0),)))
    assert (flag.clip_id, flag.hand, flag.frame_start, flag.frame_end) == ("c1", None, 10, 20)
    assert flag.reason == "either 7.5 > 3.0" and flag.value == 7.5 and flag.threshold == 3.0


def test_per_hand_rule_checks_each_hand_column():
    metrics = frame({"left_jitter_mm": [9.0, 1.0], "right_jitter_mm": [1.0, 9.0]})
    flags = evaluate_rules(metrics, RuleSet((rule(threshold=3.0, per_hand=True),)))
    assert sorted((f.clip_id, f.hand) for f in flags) == [("c0", "left"), ("c1", "right")]


def test_outlier_rule_is_relative_to_the_clips_task():
    # Task a jitters at ~1 mm, task b at ~10 mm: 5 mm is an outlier in a, normal in b.
    values = [1.0, 1.1, 0.9, 1.2, 1.0, 5.0, 10.0, 11.0, 9.0, 10.5, 9.5, 5.0]
    tasks = ["a"] * 6 + ["b"] * 6
    for method in ("iqr", "mad"):
        flags = evaluate_rules(frame({"jitter_mm": values}, tasks),
                               RuleSet((rule(outlier_k=3.0, outlier_method=method, min_group=5),)))
        assert [f.clip_id for f in flags] == ["c5"], method


def test_both_limits_must_hold_and_small_groups_use_the_threshold_alone():
    values = [1.0, 1.0, 1.0, 1.0, 1.0, 2.0]  # 2.0 is an outlier, but under the 3 mm limit
    both = RuleSet((rule(threshold=3.0, outlier_k=3.0, min_group=5),))
    assert evaluate_rules(frame({"jitter_mm": values}), both) == []
    small = RuleSet((rule(threshold=1.5, outlier_k=3.0, min_group=50),))
    assert [f.clip_id for f in evaluate_rules(frame({"jitter_mm": values}), small)] == ["c5"]


def test_one_flag_per_category_and_suppression():
    metrics = frame({"handedness_swaps": [1.0, 0.0], "speed_spikes": [2.0, 2.0], "jitter_mm": [9.0, 9.0],
                     "bone_length_cv": [0.2, 0.2]})
    rules = RuleSet((
        rule(name="swap", metric="handedness_swaps", op=">=", threshold=1, category="swap"),
        rule(name="spike", metric="speed_spikes", op=">=", threshold=1, category="tracking", suppressed_by=("swap",)),
        rule(name="jitter", threshold=3.0, category="jitter"),
        rule(name="bones", metric="bone_length_cv", threshold=0.01, category="jitter"),
    ))
    fired = sorted((f.clip_id, f.rule) for f in evaluate_rules(metrics, rules))
    assert fired == [("c0", "jitter"), ("c0", "swap"), ("c1", "jitter"), ("c1", "spike")]


def test_rule_set_from_yaml_with_override(tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text("rules:\n  - {name: j, metric: jitter_mm, op: '>', threshold: 3, reason: 'x {value}'}\n")
    rules = RuleSet.from_yaml(path, {"j": {"threshold": 9.0}})
    assert rules.by_name("j").threshold == 9.0
    assert "threshold: 3" in path.read_text()


def test_threshold_lines_per_task_for_relative_rules():
    metrics = frame({"jitter_mm": [1.0] * 5 + [10.0] * 5}, ["a"] * 5 + ["b"] * 5)
    rules = RuleSet((rule(threshold=3.0), rule(name="rel", outlier_k=1.0, min_group=3, threshold=0.5)))
    lines = threshold_lines(metrics, rules, "jitter_mm")
    assert [(line.rule, line.value) for line in lines] == [("r", 3.0), ("rel", 1.0), ("rel", 10.0)]
    assert threshold_lines(metrics, rules, "left_jitter_mm") == []  # these rules check the clip column
    per_hand = RuleSet((rule(threshold=3.0, per_hand=True), rule(name="rel", outlier_k=1.0, per_hand=True)))
    assert [(line.rule, line.label) for line in threshold_lines(metrics, per_hand, "jitter_mm")] == [
        ("r", "r > 3 (each hand)")]  # the worse-hand column shows the per-hand absolute limit
