"""The one YAML config loader: every hostile file is one error naming the file and the field; overrides copy."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from db.config_files import ConfigError, config_from_dict, load_config


@dataclasses.dataclass(frozen=True)
class Inner:
    width: int = 4  # test field
    names: tuple[str, ...] = ("a",)  # test field


@dataclasses.dataclass(frozen=True)
class Outer:
    rate: float = 0.5  # test field
    label: str | None = None  # test field
    enabled: bool = True  # test field
    where: Path = Path("x")  # test field
    inner: Inner = dataclasses.field(default_factory=Inner)  # test field

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError(f"Outer.rate must be in [0, 1], got {self.rate}")


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, field, message", [
    ("colour: red\n", "colour", "unknown fields ['colour']"),
    ("inner: {depth: 3}\n", "depth", "Inner.depth is not a field"),
    ("rate: fast\n", "rate", "Outer.rate must be a number"),
    ("enabled: 1\n", "enabled", "Outer.enabled must be true or false"),
    ("label: [a]\n", "label", "Outer.label must be a string or null"),
    ("inner: {width: 2.5}\n", "width", "Inner.width must be an integer"),
    ("inner: {names: abc}\n", "names", "Inner.names must be a list of strings"),
    ("inner: [1]\n", "Inner", "Inner values must be a mapping"),
    ("rate: 3\n", "rate", "Outer.rate must be in [0, 1]"),
])
def test_a_bad_value_is_one_error_naming_the_file_and_the_field(tmp_path, text, field, message):
    path = _yaml(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(Outer, path)
    assert str(info.value).startswith(f"{path}: ") and field in str(info.value)
    assert message in str(info.value), str(info.value)


@pytest.mark.parametrize("text, message", [
    ("- a\n- list\n", "expected a mapping of Outer fields, got a list"),
    ("just text\n", "expected a mapping of Outer fields, got a string"),
    ("rate: [unclosed\n", "cannot read the Outer file (ParserError"),
    ("rate: {a: 1\n", "cannot read the Outer file"),
])
def test_not_a_mapping_and_bad_yaml_syntax_name_the_file(tmp_path, text, message):
    path = _yaml(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {message}")):
        load_config(Outer, path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(Outer, tmp_path / "missing.yml")


def test_values_are_built_and_the_override_is_not_mutated(tmp_path):
    path = _yaml(tmp_path, "rate: 1\nwhere: data/x\ninner: {width: 8, names: [p, q]}\n")
    override = {"label": "mine", "inner": {"width": 16}}
    cfg = load_config(Outer, path, override)
    assert cfg == Outer(rate=1, label="mine", where=Path("data/x"), inner=Inner(width=16, names=("p", "q")))
    assert override == {"label": "mine", "inner": {"width": 16}}
    assert load_config(Outer, _yaml(tmp_path, "")) == Outer()  # an empty file: the defaults
    values = {"inner": {"width": 2}}
    assert config_from_dict(Outer, values).inner.width == 2 and values == {"inner": {"width": 2}}


def test_the_packages_configs_load_through_the_loader(tmp_path):
    from curation.metrics import MetricsConfig
    from curation.score import ScoreConfig
    from trainer.train import TrainConfig, config_path

    path = _yaml(tmp_path, "metrics: {jitter_window_frames: 9}\npose_sources: [egodex]\nrules_path: r.yml\n")
    cfg = ScoreConfig.from_yaml(path, {"metrics": {"idle_speed_m_s": 0.1}})
    assert cfg.metrics == MetricsConfig(jitter_window_frames=9, idle_speed_m_s=0.1)
    assert cfg.pose_sources == ("egodex",) and cfg.rules_path == Path("r.yml")
    with pytest.raises(ValueError, match=re.escape(f"{path}: MetricsConfig.jitter_window_frames must be an")):
        ScoreConfig.from_yaml(_yaml(tmp_path, "metrics: {jitter_window_frames: '9'}\n"))
    with pytest.raises(ValueError, match=re.escape(f"{path}: TrainConfig.human_fraction must be in (0, 1]")):
        TrainConfig.from_yaml(_yaml(tmp_path, "human_fraction: 2\n"))
    assert TrainConfig.from_yaml(config_path("smoke"), {"model": {"d_model": 48}}).model.d_model == 48
