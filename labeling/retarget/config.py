"""Retargeting configs: dex-retargeting YAML files (vector, DexPilot, position) read as they are.

    from labeling.retarget.config import RetargetConfig
    cfg = RetargetConfig.from_yaml("allegro_hand_right.yml", urdf_dir="dex-urdf/robots/hands")
    retargeter = cfg.build(device="cuda")                   # labeling.retarget.solver.Retargeter

A file holds a `retargeting:` mapping with dex-retargeting's `RetargetingConfig` fields. A relative
`urdf_path` is joined to `urdf_dir` exactly as after dex-retargeting's `set_default_urdf_dir`
(without `urdf_dir`: to the config file's folder). Two extensions, so configs from elsewhere work
unchanged: an absolute `urdf_path` that does not exist (IsaacTeleop ships `/home/<author>/...`) is
looked up by file name under `urdf_dir`, and a relative one missing from `urdf_dir` is looked up by
its trailing path under it (so one `--urdf-dir` can hold several URDF trees).

An optional top-level `egocurate:` mapping (which dex-retargeting never reads) may set
`input_rotation`: the 3x3 rotation taking MANO-frame keypoints into the robot's root frame, for
hands whose root frame is not MANO-like (fingers +z, palm +x); identity otherwise.

This module is data only: the objective (`objective.py`) and the solver (`solver.py`) import it,
never the reverse, except `RetargetConfig.build`'s import of the solver at call time. Registered
hands live in `registry.py`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from db.config_files import ConfigError, check_fields, read_yaml_mapping

if TYPE_CHECKING:
    import torch

    from .solver import Retargeter

RETARGET_TYPES = ("vector", "position", "dexpilot")
N_HUMAN_KEYPOINTS = 21  # MediaPipe-21 order
IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
EXTENSION_KEY = "egocurate"  # top-level YAML key for fields dex-retargeting does not have


@dataclass(frozen=True)
class RetargetConfig:
    """One robot hand, one side: dex-retargeting's `RetargetingConfig` fields, validated and frozen."""

    type: str = ""  # 'vector' | 'position' | 'dexpilot' (any case in YAML, e.g. 'DexPilot')
    urdf_path: str = ""  # absolute path of the robot hand URDF (resolved by from_yaml)
    add_dummy_free_joint: bool = False  # add 6 floating-base joints (x, y, z m; rx, ry, rz rad) above the root
    # MediaPipe-21 indices of the human keypoints: (2, N) origin/task rows for vector and DexPilot,
    # (N,) for position; DexPilot default: wrist 0 and fingertips 4, 8, 12, 16, 20.
    target_link_human_indices: tuple[tuple[int, ...], ...] | tuple[int, ...] | None = None
    wrist_link_name: str | None = None  # DexPilot: the robot link at the human wrist
    target_link_names: tuple[str, ...] | None = None  # position: robot links matched to human keypoints
    target_joint_names: tuple[str, ...] | None = None  # joints optimised; None: every non-mimic joint
    target_origin_link_names: tuple[str, ...] | None = None  # vector: robot link where each vector starts
    target_task_link_names: tuple[str, ...] | None = None  # vector: robot link where each vector ends
    finger_tip_link_names: tuple[str, ...] | None = None  # DexPilot: 2-5 fingertips, thumb first
    scaling_factor: float = 1.0  # robot / human size; scales human vectors (vector, DexPilot)
    normal_delta: float = 4e-3  # weight of ||q_t - q_(t-1)||^2 (rad^-2): dex's pull toward the last frame
    huber_delta: float = 2e-2  # m, Huber loss transition (vector, position; DexPilot fixes 0.03, as dex does)
    project_dist: float = 0.03  # m, DexPilot: a thumb-finger pair nearer than this is pinched (projected)
    escape_dist: float = 0.05  # m, DexPilot: a pinched pair farther than this is released
    has_joint_limits: bool = True  # keep optimised joints inside their URDF limits
    ignore_mimic_joint: bool = False  # treat <mimic> joints as independent joints
    low_pass_alpha: float = 0.1  # output filter y += alpha * (q - y); 1 or outside [0, 1]: no filtering
    input_rotation: tuple[tuple[float, ...], ...] = IDENTITY  # MANO frame → robot root frame (extension)
    source: str = field(default="<dict>", compare=False)  # config file, for messages

    def __post_init__(self) -> None:
        """Validate every field; errors name the file and the field, and check None before shape."""
        self._check_type()
        self._check_numbers()
        self._check_names()
        self._check_indices()
        self._check_rotation()
        path = Path(self.urdf_path) if isinstance(self.urdf_path, str) and self.urdf_path else None
        if path is None:
            self._fail("urdf_path", "is required (a URDF file)")
        elif not path.is_absolute() or not path.is_file():
            self._fail("urdf_path", f"{self.urdf_path!r} is not an existing absolute path (use from_yaml to resolve)")

    def _fail(self, name: str, reason: str) -> None:
        raise ConfigError(f"{self.source}: RetargetConfig.{name} {reason}")

    def _check_type(self) -> None:
        if self.type is None or not isinstance(self.type, str):
            self._fail("type", f"must be one of {RETARGET_TYPES}, got {self.type!r}")
        kind = self.type.lower()
        if kind not in RETARGET_TYPES:
            self._fail("type", f"must be one of {RETARGET_TYPES}, got {self.type!r}")
        object.__setattr__(self, "type", kind)

    def _check_numbers(self) -> None:
        positive = ("scaling_factor", "huber_delta")
        nonnegative = ("normal_delta", "project_dist", "escape_dist")
        for name in (*positive, *nonnegative, "low_pass_alpha"):
            value = getattr(self, name)
            if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                self._fail(name, f"must be a finite number, got {value!r}")
            if (name in positive and value <= 0) or (name in nonnegative and value < 0):
                self._fail(name, f"must be {'> 0' if name in positive else '>= 0'}, got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("add_dummy_free_joint", "has_joint_limits", "ignore_mimic_joint"):
            if not isinstance(getattr(self, name), bool):
                self._fail(name, f"must be true or false, got {getattr(self, name)!r}")

    def _check_names(self) -> None:
        for name in ("target_link_names", "target_joint_names", "target_origin_link_names",
                     "target_task_link_names", "finger_tip_link_names"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, str) or not isinstance(value, (list, tuple)) \
                    or not all(isinstance(v, str) and v for v in value):
                self._fail(name, f"must be a list of names, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        required = {"vector": ("target_origin_link_names", "target_task_link_names", "target_link_human_indices"),
                    "position": ("target_link_names", "target_link_human_indices"),
                    "dexpilot": ("wrist_link_name", "finger_tip_link_names")}[self.type]
        for name in required:
            if getattr(self, name) is None:
                self._fail(name, f"is required for {self.type} retargeting")
        if self.wrist_link_name is not None and (not isinstance(self.wrist_link_name, str) or not self.wrist_link_name):
            self._fail("wrist_link_name", f"must be a link name, got {self.wrist_link_name!r}")
        if self.type == "vector" and len(self.target_task_link_names) != len(self.target_origin_link_names):
            self._fail("target_task_link_names", f"has {len(self.target_task_link_names)} links but "
                       f"target_origin_link_names has {len(self.target_origin_link_names)}")
        if self.type == "dexpilot" and not 2 <= len(self.finger_tip_link_names) <= 5:
            self._fail("finger_tip_link_names", f"needs 2 to 5 fingertips, got {len(self.finger_tip_link_names)}")

    def _check_indices(self) -> None:
        value = self.target_link_human_indices
        if value is None:
            return
        rows = _int_rows(value)
        if rows is None:
            self._fail("target_link_human_indices", f"must be a list (or two lists) of integers, got {value!r}")
        flat = [i for row in rows for i in row]
        if any(not 0 <= i < N_HUMAN_KEYPOINTS for i in flat):
            self._fail("target_link_human_indices", f"indices must be in 0..{N_HUMAN_KEYPOINTS - 1}, got {value!r}")
        n_vectors = {"vector": lambda: len(self.target_origin_link_names),
                     "position": lambda: len(self.target_link_names),
                     "dexpilot": lambda: _dexpilot_vector_count(len(self.finger_tip_link_names))}[self.type]()
        if self.type == "position":
            if len(flat) != n_vectors:
                self._fail("target_link_human_indices", f"needs {n_vectors} indices (one per target_link_names), "
                           f"got {len(flat)}")
            object.__setattr__(self, "target_link_human_indices", tuple(flat))
            return
        if len(rows) != 2 or any(len(row) != n_vectors for row in rows):
            self._fail("target_link_human_indices", f"needs shape (2, {n_vectors}), got {[len(r) for r in rows]}")
        object.__setattr__(self, "target_link_human_indices", tuple(tuple(row) for row in rows))

    def _check_rotation(self) -> None:
        try:
            matrix = np.asarray(self.input_rotation, dtype=np.float64)
        except (TypeError, ValueError):
            matrix = np.zeros(0)
        if matrix.shape != (3, 3) or not np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-6) \
                or not np.isclose(np.linalg.det(matrix), 1.0, atol=1e-6):
            self._fail("input_rotation", f"must be a 3x3 rotation matrix (rows), got {self.input_rotation!r}")
        object.__setattr__(self, "input_rotation", tuple(tuple(float(v) for v in row) for row in matrix))

    @classmethod
    def from_yaml(cls, path: Path | str, override: Mapping[str, Any] | None = None,
                  urdf_dir: Path | str | None = None) -> RetargetConfig:
        """Read a dex-retargeting YAML config (see the module docstring for `urdf_path` resolution).

        Raises:
            ConfigError: unreadable file, no `retargeting:` mapping, an unknown field, an invalid
                value or a URDF that cannot be found; the message names the file and the field.
        """
        path = Path(path).expanduser().resolve()
        document = read_yaml_mapping(path, "retargeting config", expected="a top-level 'retargeting:' mapping")
        values, extension = document.get("retargeting"), document.get(EXTENSION_KEY) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a top-level 'retargeting:' mapping")
        if not isinstance(extension, dict):
            raise ConfigError(f"{path}: '{EXTENSION_KEY}:' must be a mapping")
        return cls.from_dict({**values, **extension}, override, urdf_dir=urdf_dir, base_dir=path.parent,
                             source=str(path))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], override: Mapping[str, Any] | None = None, *,
                  urdf_dir: Path | str | None = None, base_dir: Path | str | None = None,
                  source: str = "<dict>") -> RetargetConfig:
        """Build from a `retargeting:` mapping (not mutated) plus `override`; `urdf_path` is resolved here."""
        merged = {**values, **(override or {})}
        if "source" in merged:  # set from where the values came, never from the file
            raise ConfigError(f"{source}: RetargetConfig.source is not a retargeting field")
        check_fields(cls, merged, source)  # unknown fields and wrong types, naming the file and the field
        raw = merged.get("urdf_path")
        if not raw:
            raise ConfigError(f"{source}: RetargetConfig.urdf_path is required (a URDF file), got {raw!r}")
        merged["urdf_path"] = str(resolve_urdf_path(raw, urdf_dir, base_dir, source))
        return cls(**merged, source=source)

    def with_overrides(self, **changes: Any) -> RetargetConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def build(self, device: str | torch.device | None = None) -> Retargeter:
        """The solver for this config (parses the URDF; CUDA when available unless `device` says otherwise).

        Raises:
            ConfigError: a link or joint name the URDF does not define (names the field).
        """
        from .solver import Retargeter

        return Retargeter(self, device=device)


def _int_rows(value: object) -> list[list[int]] | None:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (list, tuple)) for v in value):
        rows = [list(v) for v in value]
    elif isinstance(value, (list, tuple)):
        rows = [list(value)]
    else:
        return None
    if not all(isinstance(i, int) and not isinstance(i, bool) for row in rows for i in row):
        return None
    return rows


def _dexpilot_vector_count(n_fingers: int) -> int:
    return n_fingers * (n_fingers - 1) // 2 + n_fingers


def resolve_urdf_path(raw: str, urdf_dir: Path | str | None, base_dir: Path | str | None, source: str = "<config>"
                      ) -> Path:
    """Where a config's `urdf_path` points (see the module docstring).

    Raises:
        ConfigError: no such file; the message says where it was looked for.
    """
    path = Path(raw).expanduser()
    root = Path(urdf_dir).expanduser().resolve() if urdf_dir is not None else None
    if root is not None and not root.is_dir():
        raise ConfigError(f"{source}: urdf_dir {root} is not a directory")
    if path.is_absolute():
        if path.is_file():
            return path
        if root is None:
            raise ConfigError(f"{source}: RetargetConfig.urdf_path {raw} does not exist (give a urdf_dir holding "
                              f"{path.name!r} to find it by file name)")
        return find_by_trailing_path(root, Path(path.name), raw, source)
    base = root or (Path(base_dir).resolve() if base_dir is not None else Path.cwd())
    if (base / path).is_file():
        return (base / path).resolve()
    if root is None:
        raise ConfigError(f"{source}: RetargetConfig.urdf_path {raw!r} not found in {base} (give urdf_dir)")
    return find_by_trailing_path(root, path, raw, source)


def find_by_trailing_path(root: Path, tail: Path, raw: str, source: str) -> Path:
    """The one file under `root` whose path ends with `tail`.

    Raises:
        ConfigError: none, or several (the message names `raw` and `source`).
    """
    matches = sorted(p for p in root.rglob(tail.name) if p.is_file() and p.parts[-len(tail.parts):] == tail.parts)
    if len(matches) == 1:
        return matches[0].resolve()
    if not matches:
        raise ConfigError(f"{source}: RetargetConfig.urdf_path {raw!r}: no file ending in {tail.as_posix()!r} "
                          f"under urdf_dir {root}")
    raise ConfigError(f"{source}: RetargetConfig.urdf_path {raw!r} is ambiguous under urdf_dir {root}: "
                      f"{[str(m) for m in matches]}")
