"""Every field of the curation configs and specs, and of every `*Config` in the packages, says what it means."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

from curation.flags import FlagRecord
from curation.metrics import MetricsConfig
from curation.noise import Injection
from curation.rules import Rule
from curation.score import ScoreConfig
from db.view_spec import ViewSpec

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "labeling", "curation", "trainer", "db")


@pytest.mark.parametrize("cls", [MetricsConfig, ScoreConfig, Rule, ViewSpec, Injection])
def test_every_config_field_is_commented(cls):
    lines = inspect.getsource(cls).splitlines()
    for field in dataclasses.fields(cls):
        [line] = [s for s in lines if s.strip().startswith(f"{field.name}:")]
        assert "#" in line, f"{cls.__name__}.{field.name} has no comment saying what it means"


def test_records_mirror_their_models():
    from db.models import Flag

    assert {f.name for f in dataclasses.fields(FlagRecord)} == set(Flag.__table__.columns.keys())


def _config_classes() -> list[tuple[Path, ast.ClassDef]]:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                decorators = [ast.unparse(d) for d in getattr(node, "decorator_list", [])]
                if isinstance(node, ast.ClassDef) and node.name.endswith("Config") \
                        and any(d.startswith(("dataclass", "dataclasses.dataclass")) for d in decorators):
                    found.append((path, node))
    return found


def test_every_config_field_in_the_packages_says_what_it_means():
    """A comment on the field's line, or on the comment lines just above it (HOUSE_STYLE 5)."""
    classes = _config_classes()
    assert {"TrainConfig", "ModelConfig", "RetargetConfig", "LabelConfig", "MetricsConfig", "ScoreConfig"} <= {
        node.name for _, node in classes}
    missing = []
    for path, node in classes:
        lines = path.read_text().splitlines()
        for item in node.body:
            if not isinstance(item, ast.AnnAssign) or "ClassVar" in ast.unparse(item.annotation):
                continue
            own = lines[item.lineno - 1:item.end_lineno]
            above = lines[item.lineno - 2].strip()
            if not any("#" in line for line in own) and not above.startswith("#"):
                missing.append(f"{path.relative_to(REPO)}: {node.name}.{ast.unparse(item.target)}")
    assert not missing, f"config fields without a comment saying what they mean: {missing}"
