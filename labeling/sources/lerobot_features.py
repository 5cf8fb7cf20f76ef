"""Which features of a LeRobot dataset are its state and action vectors, and what each dimension is called.

LeRobot lets a dataset name its vectors anything (`state`, `actions`, `observation.joints`...), so
ingest looks for each vector in this order and says which rule found it:

1. `override`  the user's `--state-key` / `--action-key` (must be a declared float vector feature);
2. `standard`  LeRobot's own `observation.state` / `action`;
3. `named`     a float vector feature whose name has the word: `state`/`states`, `action`/`actions`
               (split on `.`, `_`, `-`, `/`; a name ending in the word wins, then declaration order);
4. `modality`  GR00T `meta/modality.json`: the `original_key` its state / action groups point at.

A vector found by none is absent (`how = "absent"`); an episode with neither is catalogued
video-only: it plays, but has no curves, cannot be aligned and is exported without its data.
Per-dimension names come from the feature's `names` (when they fit its width), else from GR00T's
modality groups (`right_hand.3`), else `key[i]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .base import IngestError
from .lerobot_layout import ACTION_KEY, INDEX_KEYS, STATE_KEY, TIMESTAMP_KEY

FLOAT_DTYPES = frozenset({"float16", "float32", "float64", "float", "double"})
STATE_WORDS = frozenset({"state", "states"})
ACTION_WORDS = frozenset({"action", "actions"})
CAMERA_WORDS = frozenset({"image", "images", "video", "videos", "depth"})  # never a vector, whatever else it says
# LeRobot's per-frame bookkeeping (and GR00T's rewards and annotations) are never a robot's vectors.
BOOKKEEPING = frozenset({TIMESTAMP_KEY, *INDEX_KEYS})
BOOKKEEPING_PREFIXES = ("next.", "annotation.")
HOW = ("override", "standard", "named", "modality", "absent")


@dataclass(frozen=True)
class VectorChoice:
    """Where one vector (state or action) of a dataset comes from."""

    key: str | None  # the feature / Parquet column; None: the dataset has no such vector
    how: str  # one of HOW: which rule found it
    declared_names: tuple[str, ...] | None = None  # names from info.json or modality.json, if any

    def names(self, width: int) -> list[str]:
        """One name per dimension of a `width`-wide vector (see the module docstring)."""
        declared = list(self.declared_names or ())
        if len(declared) == width:
            return declared
        return [f"{self.key}[{d}]" for d in range(width)]


@dataclass(frozen=True)
class FeatureMap:
    """A dataset's state and action vectors, and the float vector features it declares."""

    state: VectorChoice
    action: VectorChoice
    float_vectors: tuple[str, ...]  # every declared float vector feature, in declaration order

    @property
    def video_only(self) -> bool:
        return self.state.key is None and self.action.key is None

    @property
    def standard(self) -> bool:
        return self.state.how == "standard" and self.action.how == "standard"

    def describe(self) -> str:
        """One sentence for the CLI: which feature is which vector, or why there are none."""
        if self.video_only:
            found = ", ".join(self.float_vectors) or "none"
            return (f"no state or action vector found (float vector features: {found}); looked for "
                    f"{STATE_KEY}/{ACTION_KEY}, names with state/action and meta/modality.json")
        parts = []
        for label, choice in (("state", self.state), ("action", self.action)):
            parts.append(f"{label} from {choice.key!r} ({choice.how})" if choice.key else f"no {label} vector")
        return ", ".join(parts)

    def as_json(self) -> dict[str, object]:
        """What `clips.extra` keeps of the choice (the viewer explains a video-only episode with it)."""
        return {"state": {"key": self.state.key, "how": self.state.how},
                "action": {"key": self.action.key, "how": self.action.how},
                "float_vectors": list(self.float_vectors)}


def _words(key: str) -> list[str]:
    return [w for w in re.split(r"[._/\-\s]+", key.lower()) if w]


def flat_names(feature: dict | None) -> list[str] | None:
    """Feature `names` may be a list, a nested list, or a dict of lists; flatten to strings."""
    names = (feature or {}).get("names")
    if isinstance(names, dict):
        names = [n for group in names.values() for n in (group if isinstance(group, list) else [group])]
    while isinstance(names, list) and len(names) == 1 and isinstance(names[0], list):
        names = names[0]
    return [str(n) for n in names] if isinstance(names, list) else None


def float_vectors(features: dict) -> list[str]:
    """Declared features that are float vectors: a float dtype and a one-axis shape, not a camera."""
    found = []
    for key, feature in features.items():
        if not isinstance(feature, dict) or str(feature.get("dtype")) not in FLOAT_DTYPES:
            continue
        shape = feature.get("shape")
        if not (isinstance(shape, (list, tuple)) and len(shape) == 1 and isinstance(shape[0], int) and shape[0] >= 1):
            continue
        if CAMERA_WORDS & set(_words(key)) or key in BOOKKEEPING or key.startswith(BOOKKEEPING_PREFIXES):
            continue
        found.append(key)
    return found


def _modality_choice(modality: object, part: str, vectors: list[str]) -> VectorChoice | None:
    """A vector GR00T's modality.json points at (`original_key` of its groups), with group names."""
    groups = modality.get(part) if isinstance(modality, dict) else None
    if not isinstance(groups, dict) or not groups:
        return None
    keys = {str(g.get("original_key") or "") for g in groups.values() if isinstance(g, dict)} - {""}
    if len(keys) != 1 or next(iter(keys)) not in vectors:
        return None
    return VectorChoice(next(iter(keys)), "modality", modality_names(groups))


def modality_names(groups: dict) -> tuple[str, ...] | None:
    """`group.i` for every index GR00T's groups cover ({name: {start, end}}), or None if they leave gaps."""
    spans = []
    for name, span in groups.items():
        if isinstance(span, dict) and isinstance(span.get("start"), int) and isinstance(span.get("end"), int):
            spans.append((span["start"], span["end"], str(name)))
    names: dict[int, str] = {}
    for start, end, name in sorted(spans):
        for d in range(start, end):
            names[d] = f"{name}.{d - start}"
    if not names or sorted(names) != list(range(len(names))):
        return None
    return tuple(names[d] for d in range(len(names)))


def _named(vectors: list[str], words: frozenset[str], taken: str | None) -> str | None:
    ending = [k for k in vectors if k != taken and _words(k)[-1] in words]
    anywhere = [k for k in vectors if k != taken and words & set(_words(k))]
    return (ending or anywhere or [None])[0]


def _choose(part: str, features: dict, vectors: list[str], modality: object, override: str | None,
            taken: str | None, root: Path) -> VectorChoice:
    standard, words = (STATE_KEY, STATE_WORDS) if part == "state" else (ACTION_KEY, ACTION_WORDS)
    if override:
        if override not in vectors:
            raise IngestError(root, f"--{part}-key {override!r} is not a float vector feature of this dataset "
                                    f"(its float vectors: {', '.join(vectors) or 'none'})")
        return _with_names(VectorChoice(override, "override"), features, modality, part)
    if standard in vectors and standard != taken:
        return _with_names(VectorChoice(standard, "standard"), features, modality, part)
    key = _named(vectors, words, taken)
    if key is not None:
        return _with_names(VectorChoice(key, "named"), features, modality, part)
    from_modality = _modality_choice(modality, part, [k for k in vectors if k != taken])
    return from_modality or VectorChoice(None, "absent")


def _with_names(choice: VectorChoice, features: dict, modality: object, part: str) -> VectorChoice:
    feature = features.get(choice.key) or {}
    names = flat_names(feature)
    width = feature.get("shape", [None])[0]
    if names is None or len(names) != width:
        groups = modality.get(part) if isinstance(modality, dict) else None
        names = list(modality_names(groups) or ()) if isinstance(groups, dict) else None
    return VectorChoice(choice.key, choice.how, tuple(names) if names else None)


def choose_vectors(features: dict, modality: object = None, state_key: str | None = None,
                   action_key: str | None = None, root: Path | str = "dataset") -> FeatureMap:
    """The dataset's state and action vectors (see the module docstring).

    Raises:
        IngestError: an override names no float vector feature of the dataset.
    """
    vectors = float_vectors(features)
    state = _choose("state", features, vectors, modality, state_key, None, Path(root))
    action = _choose("action", features, vectors, modality, action_key, state.key, Path(root))
    return FeatureMap(state=state, action=action, float_vectors=tuple(vectors))
