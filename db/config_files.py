"""The one YAML config loader: read a file, check every value against its config dataclass, build it.

    cfg = load_config(TrainConfig, path, {"max_steps": 7})     # the override is not mutated
    cfg = config_from_dict(TrainConfig, values, where=str(path))
    check_fields(Rule, entry, where=f"{path}: rule {name}")    # unknown keys and wrong types only

YAML gives any type (`batch_size: "32"`, `lr: [1]`, `per_hand: "yes"`), and a wrong one would
otherwise surface as a `TypeError` deep in `__post_init__` or in the stage that uses it. Values are
checked against the field annotations (`int`, `float`, `str`, `bool`, `Path`, `None`, unions,
`tuple[X, ...]`, nested config dataclasses); fields of other types are left to the config's own
`__post_init__`. Every error is a `ConfigError` naming the file (`where`) and the field.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

C = TypeVar("C")
_ATOMS: dict[object, str] = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
                             type(None): "null", Path: "a path"}
_PLURALS: dict[object, str] = {int: "integers", float: "numbers", str: "strings", bool: "true/false values",
                               Path: "paths"}


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file (or other source) and the field."""


def read_yaml_mapping(path: Path | str, what: str = "config", expected: str = "a mapping") -> dict[str, Any]:
    """The mapping at the top of a YAML file (an empty file is `{}`).

    Raises:
        ConfigError: the file is unreadable, not YAML (`cannot read <what>`), or not `<expected>`.
    """
    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read {what} ({type(exc).__name__}: {exc})") from exc
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected {expected}, got {_kind(values)}")
    return values


@cache
def field_hints(cls: type) -> dict[str, object]:
    """A dataclass's field annotations as types (empty when they cannot be resolved: nothing is checked)."""
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):
        return {}
    return {f.name: hints[f.name] for f in fields(cls) if f.name in hints}


def describe(hint: object) -> str:
    """What a value of this annotation is, in YAML words (`an integer or null`)."""
    if _members(hint) is not None:
        return " or ".join(describe(member) for member in _members(hint))
    if _tuple_of(hint) is not None:
        return f"a list of {_plural(_tuple_of(hint))}"
    if is_dataclass(hint):
        return f"a mapping of {hint.__name__} fields"
    return _ATOMS.get(hint, getattr(hint, "__name__", str(hint)))


def fits(value: object, hint: object) -> bool:
    """Whether `value` may stand for a field annotated `hint` (unknown annotations accept anything)."""
    if _members(hint) is not None:
        return any(fits(value, member) for member in _members(hint))
    element = _tuple_of(hint)
    if element is not None:
        return isinstance(value, (list, tuple)) and all(fits(v, element) for v in value)
    origin = typing.get_origin(hint)
    if origin is tuple:  # fixed length: tuple[str, float, float]
        args = typing.get_args(hint)
        return isinstance(value, (list, tuple)) and len(value) == len(args) and all(map(fits, value, args))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if is_dataclass(hint):  # a nested config: built (and checked) field by field in `config_from_dict`
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, float):  # bool is an int in Python, but `batch_size: true` is a mistake
        return isinstance(value, (int, float) if hint is float else int) and not isinstance(value, bool)
    if hint in (str, Path):  # a path object is accepted where a path string is (callers pass `Path`s)
        return isinstance(value, (str, os.PathLike))
    if hint is type(None):
        return value is None
    return True


def check_field_types(cls: type, values: Mapping[str, object], where: str = "") -> None:
    """Raise `ConfigError` naming `where` and the field when a value does not fit its annotation."""
    hints = field_hints(cls)
    for name, value in values.items():
        if name in hints and not fits(value, hints[name]):
            raise ConfigError(_at(where, f"{cls.__name__}.{name} must be {describe(hints[name])}, "
                                         f"got {_shown(value)}"))


def check_fields(cls: type, values: Mapping[str, object], where: str = "", *, noun: str = "fields") -> None:
    """Unknown keys, then wrong types, each a `ConfigError` naming `where` and the field.

    `noun` is what the message calls the keys (`unknown fields [...]`, `unknown keys [...]`).
    """
    known = [f.name for f in fields(cls) if f.init]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(_at(where, f"{cls.__name__}.{unknown[0]} is not a field (unknown {noun} {unknown}; "
                                     f"known: {known})"))
    check_field_types(cls, values, where)


def merge_override(cls: type, values: Mapping[str, object], override: Mapping[str, object] | None
                   ) -> dict[str, object]:
    """`values` with `override`'s keys replaced; a nested config's mapping merges key by key. Neither is mutated."""
    merged = dict(values)
    hints = field_hints(cls)
    for key, value in (override or {}).items():
        nested = is_dataclass(hints.get(key)) and isinstance(value, Mapping)
        if nested and isinstance(merged.get(key), Mapping):
            merged[key] = merge_override(hints[key], merged[key], value)
        else:
            merged[key] = dict(value) if isinstance(value, Mapping) else value
    return merged


def config_from_dict(cls: type[C], values: Mapping[str, object], where: str = "", *, noun: str = "fields") -> C:
    """Check `values` (not mutated) and build the config; nested config mappings are built the same way.

    YAML's lists become tuples and path strings `Path`s where the annotation says so.

    Raises:
        ConfigError: an unknown field, a wrong type, or the config's own check failed (naming `where`).
    """
    if not isinstance(values, Mapping):
        raise ConfigError(_at(where, f"{cls.__name__} values must be a mapping, got {_shown(values)}"))
    check_fields(cls, values, where, noun=noun)
    hints = field_hints(cls)
    built = {name: _coerce(value, hints.get(name), where) for name, value in values.items()}
    try:
        return cls(**built)
    except (TypeError, ValueError) as exc:  # the config's own checks: name the file too
        if isinstance(exc, ConfigError) and _at(where, str(exc)) == str(exc):
            raise
        raise ConfigError(_at(where, str(exc))) from exc


def load_config(cls: type[C], path: Path | str, override: Mapping[str, object] | None = None, *,
                what: str | None = None, expected: str | None = None) -> C:
    """Read `path` (YAML), apply `override` (see `merge_override`) and build `cls` from it.

    Raises:
        ConfigError: the file cannot be read, is not a mapping, or holds a value the config refuses;
            the message starts with the path and names the field.
    """
    values = read_yaml_mapping(path, what or f"the {cls.__name__} file",
                               expected or f"a mapping of {cls.__name__} fields")
    return config_from_dict(cls, merge_override(cls, values, override), str(path))


def _coerce(value: object, hint: object, where: str) -> object:
    if hint is None:
        return value
    if is_dataclass(hint) and (value is None or isinstance(value, Mapping)):
        return config_from_dict(hint, value or {}, where)
    if is_dataclass(hint) and not isinstance(value, hint):
        raise ConfigError(_at(where, f"{hint.__name__} values must be a mapping, got {_shown(value)}"))
    kinds = _members(hint) or (hint,)
    if Path in kinds and isinstance(value, str):
        return Path(value)
    if isinstance(value, list) and any(typing.get_origin(kind) is tuple for kind in kinds):
        return tuple(value)
    return value


def _members(hint: object) -> tuple[object, ...] | None:
    """The members of a union annotation (`int | None`), else None."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return None


def _tuple_of(hint: object) -> object | None:
    """X of `tuple[X, ...]`, else None."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _plural(hint: object) -> str:
    if _tuple_of(hint) is not None:
        return f"lists of {_plural(_tuple_of(hint))}"
    if _members(hint) is not None:
        return " or ".join(_plural(member) for member in _members(hint))
    return _PLURALS.get(hint, describe(hint))


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _at(where: str, message: str) -> str:
    """`message` prefixed with `where` (unless empty, or the message already starts with it)."""
    return f"{where}: {message}" if where and not message.startswith(f"{where}: ") else message
