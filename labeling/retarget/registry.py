"""The hand registry: registered robot hands (one retargeting config per side), users' config files, embodiments.

    from labeling.retarget.registry import hand_configs, RETARGET_HANDS
    cfgs = hand_configs("g1_dex3", config_dir=..., urdf_dir=...)   # {"left": RetargetConfig, "right": ...}

`RETARGET_HANDS` maps a name to one config per side. The built-in `egocurate_hand22` ships its
configs in `labeling/hands/configs/`; the others name config files of dex-retargeting / IsaacTeleop
that are not redistributed here (licences), found at run time under the `config_dir` the user gives
(by trailing path, so the upstream folder layout works as is). A new hand registers the way these
do: add a `RetargetHand` to `RETARGET_HANDS`. `resolve_embodiment` turns what a user names (a
registered hand, or a config file) into an `Embodiment`: a name and one config per side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labeling.hands import HANDS_DIR, SIDES

from .config import ConfigError, RetargetConfig, find_by_trailing_path

CONFIG_DIR = HANDS_DIR / "configs"  # the built-in hand's configs

# MANO frame (x palmar, z toward the fingers) to the Unitree G1 Dex3 `base_link` frame (fingers -y,
# palm -x, index +z on the left hand): measured from the URDF's open-hand forward kinematics.
G1_DEX3_INPUT_ROTATION = ((-1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, -1.0, 0.0))


@dataclass(frozen=True)
class RetargetHand:
    """A registered embodiment: one retargeting config per side."""

    name: str  # registry key, also the `embodiment` of its `retargets` rows
    configs: dict[str, str]  # side → config file: a path under `config_dir`, or a trailing path to find there
    config_dir: Path | None = None  # where the configs ship; None: the user gives `config_dir`
    urdf_dir: Path | None = None  # urdf_dir of shipped configs (None: their own folder); else the user's
    input_rotation: tuple[tuple[float, ...], ...] | None = None  # overrides the configs' (None: keep)
    description: str = ""

    def config_path(self, side: str, config_dir: Path | str | None = None) -> Path:
        """The config file of one side.

        Raises:
            ConfigError: an unknown side, no config folder, or the file is not found.
        """
        if side not in self.configs:
            raise ConfigError(f"hand {self.name!r} has no {side!r} config (sides: {sorted(self.configs)})")
        # Shipped configs win: one --config-dir for the other hands must not hide them.
        folder = self.config_dir or (Path(config_dir).expanduser().resolve() if config_dir is not None else None)
        if folder is None:
            raise ConfigError(f"hand {self.name!r} needs a config folder holding {self.configs[side]!r} "
                              "(dex-retargeting / IsaacTeleop configs are not shipped; pass config_dir / --config-dir)")
        if not folder.is_dir():
            raise ConfigError(f"hand {self.name!r}: config folder {folder} is not a directory")
        tail = Path(self.configs[side])
        if (folder / tail).is_file():
            return folder / tail
        return find_by_trailing_path(folder, tail, self.configs[side], f"hand {self.name!r}")


def _dex_hand(name: str, stem: str, description: str) -> RetargetHand:
    return RetargetHand(name, {side: f"teleop/{stem}_{side}.yml" for side in SIDES}, description=description)


RETARGET_HANDS: dict[str, RetargetHand] = {
    "egocurate_hand22": RetargetHand(
        "egocurate_hand22", {side: f"egocurate_hand22_{side}.yml" for side in SIDES}, config_dir=CONFIG_DIR,
        description="the project's 22-DoF human-proportioned hand (Sharpa HA4 layout), vector"),
    "sharpa_ha4": RetargetHand(
        "sharpa_ha4", {side: f"isaacteleop/sharpa_ha4_{side}_dexpilot.yml" for side in SIDES},
        description="Sharpa HA4, 22 DoF, IsaacTeleop DexPilot configs"),
    "g1_dex3": RetargetHand(
        "g1_dex3", {side: f"isaacteleop/g1_hand_{side}_dexpilot.yml" for side in SIDES},
        input_rotation=G1_DEX3_INPUT_ROTATION, description="Unitree G1 Dex3-1, 7 DoF, IsaacTeleop DexPilot configs"),
    "allegro": _dex_hand("allegro", "allegro_hand", "Allegro, 16 DoF, dex-retargeting vector configs"),
    "inspire": _dex_hand("inspire", "inspire_hand", "Inspire, 6 DoF + 6 mimic, dex-retargeting vector configs"),
    "leap": _dex_hand("leap", "leap_hand", "LEAP, 16 DoF, dex-retargeting vector configs"),
    "ability": _dex_hand("ability", "ability_hand", "Ability, 6 DoF + 4 mimic, dex-retargeting vector configs"),
}


def hand_configs(hand: str, config_dir: Path | str | None = None, urdf_dir: Path | str | None = None,
                 sides: tuple[str, ...] = SIDES, override: Mapping[str, Any] | None = None
                 ) -> dict[str, RetargetConfig]:
    """The configs of a registered hand, one per side.

    Raises:
        ConfigError: an unknown hand, or a config that cannot be found or used.
    """
    if hand not in RETARGET_HANDS:
        raise ConfigError(f"unknown hand {hand!r}; registered: {sorted(RETARGET_HANDS)} (or give a CONFIG.yml)")
    entry = RETARGET_HANDS[hand]
    urdf_dir = entry.urdf_dir if entry.config_dir is not None else urdf_dir  # shipped configs: their own URDFs
    extra = dict(override or {})
    if entry.input_rotation is not None:
        extra.setdefault("input_rotation", entry.input_rotation)
    return {side: RetargetConfig.from_yaml(entry.config_path(side, config_dir), extra, urdf_dir=urdf_dir)
            for side in sides}


def config_side(path: Path | str) -> str | None:
    """The side a config file is for, from a `left` / `right` word in its name (None when neither)."""
    words = Path(path).stem.lower().replace("-", "_").split("_")
    found = [side for side in SIDES if side in words]
    return found[0] if len(found) == 1 else None


def file_configs(path: Path | str, urdf_dir: Path | str | None = None, override: Mapping[str, Any] | None = None
                 ) -> tuple[str, dict[str, RetargetConfig]]:
    """A user's config file as an embodiment: `(name, {side: config})`.

    The side comes from the file name (`..._right...`); the other side's file, named with the side
    swapped, is used too when it exists. A file naming no side is used for the right hand. The name
    is the file stem without the side word (`allegro_hand_right_dexpilot` → `allegro_hand_dexpilot`).
    """
    path = Path(path).expanduser().resolve()
    side = config_side(path) or "right"
    words = path.stem.replace("-", "_").split("_")
    found = {side: path}
    if config_side(path) is not None:
        other = "left" if side == "right" else "right"
        swapped = path.with_name("_".join(other if w.lower() == side else w for w in words) + path.suffix)
        if swapped.is_file():
            found[other] = swapped
    name = "_".join(w for w in words if w.lower() not in SIDES) or path.stem
    return name, {s: RetargetConfig.from_yaml(p, override, urdf_dir=urdf_dir) for s, p in sorted(found.items())}


@dataclass(frozen=True)
class Embodiment:
    """A robot hand to retarget to: a name (the `embodiment` column) and one config per side."""

    name: str
    configs: dict[str, RetargetConfig]


def resolve_embodiment(hand: str | Path, config_dir: Path | str | None = None,
                       urdf_dir: Path | str | None = None) -> Embodiment:
    """A registered hand name, or a dex-retargeting YAML file, as an `Embodiment`.

    Raises:
        ConfigError: an unknown hand, or a config / URDF that cannot be found or used.
    """
    if str(hand) in RETARGET_HANDS:
        return Embodiment(str(hand), hand_configs(str(hand), config_dir, urdf_dir))
    path = Path(hand).expanduser()
    if path.suffix.lower() in (".yml", ".yaml") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"retargeting config {path} does not exist")
        name, configs = file_configs(path, urdf_dir)
        return Embodiment(name, configs)
    raise ConfigError(f"unknown hand {str(hand)!r}; registered: {sorted(RETARGET_HANDS)}, or give a CONFIG.yml")
