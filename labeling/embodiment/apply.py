"""Apply a spec to robot episodes: check it against every episode's names first, then store it.

    report, applied = ingest_with_spec(root, [Path("g1_dataset")], "g1_inspire.yml")  # egocurate ingest --embodiment
    applied = set_spec(root, "g1_inspire.yml", dataset="g1_dataset")                    # egocurate embodiment set
    spec = retarget_spec(root, "g1_inspire.yml")        # egocurate retarget --embodiment: the episodes that follow it

A spec that does not fit (an unknown joint, dimension or unit, two dims on one joint, ...) raises
`SpecError` listing every problem, the dataset's names included, and nothing is ingested or stored.
Values that leave the URDF's joint limits through the spec are warnings (`Applied.warnings`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from db.engine import query_engine
from db.queries.clips import clips_by_id
from db.queries.embodiments import dataset_robot_clips, embodiment_clips
from db.queries.frames import robot_state_rows
from labeling.sources.detect import discover
from labeling.sources.ingest import IngestOptions, IngestReport, ingest
from labeling.sources.lerobot_layout import INFO_PATH, STATE_KEY

from .ranges import range_warnings
from .spec import Against, EmbodimentSpec, SpecError, read_spec
from .store import load_spec, store_spec

RANGE_CHECK_EPISODES = 50  # episodes whose states are read to check the joint limits (the first ones)


@dataclass(frozen=True)
class Applied:
    """What storing a spec did."""

    name: str
    version: int  # the stored spec's version
    episodes: int  # robot episodes that follow it now
    changed: int  # of those, the ones whose embodiment changed
    warnings: tuple[str, ...] = ()  # joints whose values leave the URDF limits through the spec


def resolve_spec(root: Path, spec: EmbodimentSpec | Path | str, against: Against | None = None
                 ) -> tuple[EmbodimentSpec, str | None]:
    """A spec object, a YAML file, or the name of a stored spec; with the YAML text when read from a file.

    `against` (label -> declared state names) is checked in the same pass: one SpecError holds every problem.
    """
    if isinstance(spec, EmbodimentSpec):
        return _checked(spec, against), None
    path = Path(spec).expanduser()
    if path.suffix.lower() in (".yml", ".yaml") or path.is_file():
        return read_spec(path, against), path.read_text(encoding="utf-8") if path.is_file() else None
    try:
        return _checked(load_spec(query_engine(root), str(spec)), against), None
    except KeyError as exc:
        raise SpecError(str(spec), [f"not a spec file, nor a stored spec: {exc.args[0]}"]) from exc


def _checked(spec: EmbodimentSpec, against: Against | None) -> EmbodimentSpec:
    problems = [f"{label}: {p}" for label, names in (against or {}).items()
                for p in spec.check_names(names, "its observation.state")]
    if problems:
        raise SpecError(spec.source, problems)
    return spec


def declared_state_names(dataset: Path) -> list[str] | None:
    """The names a LeRobot dataset's `info.json` gives its state (nested lists and group dicts flattened)."""
    try:
        info = json.loads((dataset / INFO_PATH).read_text())
        names = info["features"][STATE_KEY].get("names")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if isinstance(names, dict):
        names = [n for group in names.values() for n in (group if isinstance(group, list) else [group])]
    while isinstance(names, list) and len(names) == 1 and isinstance(names[0], list):
        names = names[0]
    return [str(n) for n in names] if isinstance(names, list) else None


def ingest_with_spec(root: Path, inputs: Sequence[Path], spec: EmbodimentSpec | Path | str, source: str = "auto",
                     progress: bool = True, author: str = "cli", options: IngestOptions | None = None
                     ) -> tuple[IngestReport, Applied]:
    """Check `spec` against every LeRobot dataset among `inputs`, ingest them, make their episodes follow it.

    Raises:
        SpecError: the spec does not fit (nothing is ingested), or no input is a LeRobot dataset.
    """
    candidates, _ = discover(list(inputs), source)
    datasets = [c.path.resolve() for c in candidates if c.reader == "lerobot"]
    if not datasets:
        raise SpecError(str(spec), ["--embodiment applies to robot episodes, and no input is a LeRobot dataset"])
    checked, text = resolve_spec(root, spec, {str(d): declared_state_names(d) for d in datasets})
    report = ingest(root, list(inputs), source=source, progress=progress, author=author,
                    options=options or IngestOptions())
    engine = query_engine(root)
    clip_ids = [c for dataset in datasets for c in dataset_robot_clips(engine, str(dataset))["clip_id"]]
    version, changed = store_spec(root, checked, clip_ids, author, text) if clip_ids else (0, 0)
    return report, Applied(checked.name, version, len(clip_ids), changed, episode_range_warnings(root, checked,
                                                                                                 clip_ids))


def set_spec(root: Path, spec: EmbodimentSpec | Path | str, clip_ids: Sequence[str] = (),
             dataset: Path | str | None = None, author: str = "cli") -> Applied:
    """Set (or replace) the spec of already-ingested robot episodes: `clip_ids` and/or a dataset's episodes.

    Raises:
        SpecError: the spec does not fit an episode's names, a clip is unknown or not a robot episode;
            nothing is stored.
    """
    engine = query_engine(root)
    ids = list(dict.fromkeys(clip_ids))
    if dataset is not None:
        found = dataset_robot_clips(engine, str(Path(dataset).expanduser().resolve()))["clip_id"].tolist()
        if not found:
            raise SpecError(str(spec), [f"no robot episodes of dataset {dataset} in the catalog (ingest it first)"])
        ids += [c for c in found if c not in ids]
    if not ids:
        raise SpecError(str(spec), ["name the episodes: clip ids or a dataset folder"])
    clips = clips_by_id(engine, ids).set_index("clip_id")
    problems = [f"clip {c}: not in the catalog" for c in ids if c not in clips.index]
    against: dict[str, list[str] | None] = {}
    for names, group in clips.groupby("state_names", dropna=False):
        where = f"clip {group.index[0]}" + (f" (and {len(group) - 1} more)" if len(group) > 1 else "")
        if (group["kind"] != "robot").any():
            problems.append(f"{where}: not a robot episode")
        else:
            against[where] = json.loads(names) if isinstance(names, str) else None
    try:
        checked, text = resolve_spec(root, spec, against)
    except SpecError as exc:
        raise SpecError(exc.source, problems + exc.problems) from exc
    if problems:
        raise SpecError(checked.source, problems)
    version, changed = store_spec(root, checked, ids, author, text)
    return Applied(checked.name, version, len(ids), changed, episode_range_warnings(root, checked, ids))


def retarget_spec(root: Path, spec: EmbodimentSpec | Path | str) -> EmbodimentSpec:
    """The spec `egocurate retarget --embodiment` retargets to, checked against the episodes that follow its name.

    Raises:
        SpecError: no robot episode follows a spec of that name (retargets under it would pair with
            nothing), or the spec does not fit their names.
    """
    name = resolve_spec(root, spec)[0].name
    clips = embodiment_clips(query_engine(root), name)
    if clips.empty:
        raise SpecError(str(spec), [f"no robot episodes follow embodiment {name!r}, so retargets under that name "
                                    "would pair with nothing: apply the spec first (egocurate ingest DATASET "
                                    "--embodiment SPEC.yml, or egocurate embodiment set SPEC.yml --dataset DIR)"])
    against = {}
    for names, group in clips.groupby("state_names", dropna=False):
        where = f"clip {group['clip_id'].iloc[0]}" + (f" (and {len(group) - 1} more)" if len(group) > 1 else "")
        against[where] = json.loads(names) if isinstance(names, str) else None
    return resolve_spec(root, spec, against)[0]


def episode_range_warnings(root: Path, spec: EmbodimentSpec, clip_ids: Sequence[str]) -> tuple[str, ...]:
    """`ranges.range_warnings` over the states of the first `RANGE_CHECK_EPISODES` episodes (one line per joint)."""
    engine = query_engine(root)
    ids = list(clip_ids)[:RANGE_CHECK_EPISODES]
    names = clips_by_id(engine, ids).set_index("clip_id")["state_names"]
    rows = robot_state_rows(engine, ids)
    states = rows.column("state").to_pylist()
    owners = rows.column("clip_id").to_pylist()
    warnings: dict[str, None] = {}
    for text in names.dropna().unique():
        parsed = json.loads(text)
        mine = [v for v, c in zip(states, owners, strict=True)
                if names.get(c) == text and v is not None and len(v) == len(parsed)]
        if mine:
            warnings |= dict.fromkeys(range_warnings(spec, parsed, np.asarray(mine, dtype=np.float64)))
    return tuple(warnings)
