"""Every field of the curation configs and specs says what it means (a comment on its line)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from curation.flags import FlagRecord
from curation.metrics import MetricsConfig
from curation.noise import Injection
from curation.rules import Rule
from curation.score import ScoreConfig
from db.view_spec import ViewSpec


@pytest.mark.parametrize("cls", [MetricsConfig, ScoreConfig, Rule, ViewSpec, Injection])
def test_every_config_field_is_commented(cls):
    lines = inspect.getsource(cls).splitlines()
    for field in dataclasses.fields(cls):
        [line] = [s for s in lines if s.strip().startswith(f"{field.name}:")]
        assert "#" in line, f"{cls.__name__}.{field.name} has no comment saying what it means"


def test_records_mirror_their_models():
    from db.models import Flag

    assert {f.name for f in dataclasses.fields(FlagRecord)} == set(Flag.__table__.columns.keys())
