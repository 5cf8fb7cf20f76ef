"""Type checks of config values read from YAML against a config dataclass's field annotations.

YAML gives any type (`batch_size: "32"`, `lr: [1]`), and a wrong one would otherwise surface as a
`TypeError` deep in `__post_init__` or the training loop; this names the file, field and type.
"""

from __future__ import annotations

import os
from dataclasses import fields

# Annotation names as written in the config dataclasses -> the Python types a value may have.
# A path object is accepted where a path string is (callers pass `Path`s for folders).
_SIMPLE_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str, os.PathLike),
                                              "bool": (bool,)}


def check_field_types(cls: type, values: dict, where: str) -> None:
    """Raise `ValueError` naming `where` and the field when a value does not fit its annotation.

    Fields annotated with other types (nested configs) are left to their own checks.
    """
    for f in fields(cls):
        if f.name not in values:
            continue
        value, allowed = values[f.name], str(f.type).replace(" ", "").split("|")
        if value is None and "None" in allowed:
            continue
        kinds = [_SIMPLE_TYPES[a] for a in allowed if a in _SIMPLE_TYPES]
        if len(kinds) != len([a for a in allowed if a != "None"]):
            continue
        # bool is an int in Python, but `batch_size: true` is a mistake.
        fits = any(isinstance(value, k) and not (isinstance(value, bool) and bool not in k) for k in kinds)
        if not fits:
            raise ValueError(f"{where}: {cls.__name__}.{f.name} must be {' or '.join(allowed)}, got {value!r}")
