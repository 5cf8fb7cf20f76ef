"""Fixtures of the crash-safety suite: the small paired demo set, copied per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.curation.demo_retargets import paired_demo_root


@pytest.fixture
def paired_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the small demo set (12 human clips, 4 robot episodes) with ground-truth retargets."""
    return paired_demo_root(tmp_path_factory.getbasetemp())
