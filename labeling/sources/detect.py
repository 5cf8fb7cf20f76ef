"""Find what can be ingested under the given paths, and which reader each input needs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labeling.media.video import VIDEO_SUFFIXES

from .base import IngestError
from .lerobot import is_lerobot_dataset
from .lerobot_layout import INFO_PATH

SOURCES = ("auto", "video", "egodex", "lerobot")


@dataclass(frozen=True)
class Candidate:
    """One input for one reader: a video, an EgoDex pair (video + hdf5) or a LeRobot dataset."""

    reader: str  # 'video' | 'egodex' | 'lerobot'
    path: Path
    sidecar: Path | None = None  # the EgoDex .hdf5


def discover(paths: list[Path], source: str = "auto") -> tuple[list[Candidate], list[IngestError]]:
    """Expand files and folders into candidates; inputs that cannot be used become errors."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {SOURCES}")
    candidates: list[Candidate] = []
    errors: list[IngestError] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            errors.append(IngestError(path, "no such file or directory"))
        elif path.is_dir():
            found, skipped = _walk(path, source, errors)
            if not found:
                detail = f" ({skipped} other files skipped)" if skipped else " (the folder is empty)"
                errors.append(IngestError(path, f"no ingestible media found for source {source!r}{detail}"))
            candidates += found
        else:
            try:
                candidates.append(_file_candidate(path, source))
            except IngestError as exc:
                errors.append(exc)
    return _unique(candidates), errors


def _unique(candidates: list[Candidate]) -> list[Candidate]:
    seen, unique = set(), []
    for candidate in candidates:
        key = (candidate.reader, candidate.path.resolve())
        if key not in seen:
            seen.add(key)
            unique.append(candidate)
    return unique


def _walk(folder: Path, source: str, errors: list[IngestError]) -> tuple[list[Candidate], int]:
    if is_lerobot_dataset(folder) and source in ("auto", "lerobot"):
        return [Candidate("lerobot", folder)], 0
    found, skipped = [], 0
    for directory, subdirs, files in os.walk(folder):
        here = Path(directory)
        subdirs.sort()
        for sub in list(subdirs):
            if source in ("auto", "lerobot") and is_lerobot_dataset(here / sub):
                subdirs.remove(sub)
                found.append(Candidate("lerobot", here / sub))
        names = set(files)
        for name in sorted(files):
            path = here / name
            suffix = path.suffix.lower()
            if suffix in VIDEO_SUFFIXES and source in ("auto", "video", "egodex"):
                try:
                    found.append(_file_candidate(path, source))
                except IngestError as exc:
                    errors.append(exc)
            elif suffix == ".hdf5" and not any(Path(name).with_suffix(s).name in names for s in VIDEO_SUFFIXES):
                if source in ("auto", "egodex"):
                    errors.append(IngestError(path, "EgoDex pose file without its video (same name, .mp4)"))
            elif suffix != ".hdf5":
                skipped += 1
    return found, skipped


def _file_candidate(path: Path, source: str) -> Candidate:
    suffix = path.suffix.lower()
    if path.parts[-2:] == Path(INFO_PATH).parts:
        return Candidate("lerobot", path.parent.parent)
    if suffix == ".hdf5":
        video = next((path.with_suffix(s) for s in (".mp4", ".MP4") if path.with_suffix(s).is_file()), None)
        if video is None:
            raise IngestError(path, "EgoDex pose file without its video (same name, .mp4)")
        return Candidate("egodex", video, path)
    if source == "lerobot":
        raise IngestError(path, f"not a LeRobot dataset (expected a folder with {INFO_PATH})")
    sidecar = path.with_suffix(".hdf5")
    if source in ("auto", "egodex") and sidecar.is_file():
        return Candidate("egodex", path, sidecar)
    if source == "egodex":
        raise IngestError(path, "no EgoDex pose file beside it (same name, .hdf5)")
    if suffix in VIDEO_SUFFIXES or source == "video":
        return Candidate("video", path)
    raise IngestError(path, f"not a video, EgoDex or LeRobot input (unknown extension {suffix or 'none'!r}); "
                            "use --source video to try it as a video")
