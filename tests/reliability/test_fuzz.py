"""Fuzzing the ingest readers, the URDF parser and the view-spec compiler with hypothesis.

The contract: every input either works or raises the reader's documented error, never anything else.
    video / EgoDex / LeRobot readers, discovery  -> IngestError (labeling.sources.base)
    probe_video                                    -> VideoError (labeling.media.video)
    parse_urdf                                     -> URDFError (labeling.kinematics.urdf)
    ViewSpec.from_dict / from_json                 -> ValueError; a spec that parses compiles to SQL DuckDB runs
All are `ValueError` subclasses, so callers that catch `ValueError` catch them all.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.engine import query_engine
from db.queries.views import compile_view, count_view, view_clips
from db.view_spec import RANGE_COLUMNS, SORT_COLUMNS, ViewSpec
from labeling.kinematics.urdf import URDFError, parse_urdf
from labeling.media.video import VideoError, probe_video
from labeling.sources.base import IngestError
from labeling.sources.detect import discover
from labeling.sources.egodex import read_egodex
from labeling.sources.ingest import ingest
from labeling.sources.lerobot import read_lerobot
from labeling.sources.video import read_video
from tests.conftest import make_video
from tests.factories import write_egodex_pair, write_lerobot_v3

# 40 examples per test in the suite; a long run: EGOCURATE_FUZZ_EXAMPLES=2000 pytest tests/reliability/test_fuzz.py
FUZZ = settings(max_examples=int(os.environ.get("EGOCURATE_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder per example (pytest's tmp_path is shared by all examples of a test)."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Originals(dict):
    """Bytes of small valid inputs by name; a short repr keeps hypothesis reports readable."""

    def __repr__(self) -> str:
        return f"Originals({sorted(self)})"


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> Originals:
    """Bytes of small valid inputs to corrupt: an H.264 mp4, an EgoDex HDF5, LeRobot v3 metadata."""
    base = tmp_path_factory.mktemp("originals")
    video = make_video(base / "v.mp4", n_frames=12, seed=50)
    write_egodex_pair(base / "egodex", name="0")
    dataset = write_lerobot_v3(base / "lerobot", lengths=(4, 3))
    return Originals(mp4=video.read_bytes(), hdf5=(base / "egodex" / "0.hdf5").read_bytes(),
                     egodex_mp4=(base / "egodex" / "0.mp4").read_bytes(),
                     info=(dataset / "meta" / "info.json").read_bytes(), lerobot=str(dataset).encode())


def corrupt(data: bytes, edits: list[tuple[int, int]], cut: float | None) -> bytes:
    """`data` with bytes overwritten at fractional positions, then cut to a fraction of its length."""
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out[: int(len(out) * cut)] if cut is not None else out)


EDITS = st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)), max_size=30)
CUTS = st.none() | st.floats(0.0, 1.0)


@FUZZ
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".mp4", ".mov", ".webm", ".avi"]))
def test_random_bytes_into_the_video_reader(data, suffix):
    with scratch() as folder:
        path = folder / f"random{suffix}"
        path.write_bytes(data)
        with pytest.raises(VideoError):
            probe_video(path)
        with pytest.raises(IngestError):
            read_video(path)


@FUZZ
@given(edits=EDITS, cut=CUTS)
def test_corrupted_real_video_is_read_or_refused(originals, edits, cut):
    with scratch() as folder:
        path = folder / "clip.mp4"
        path.write_bytes(corrupt(originals["mp4"], edits, cut))
        try:
            item = read_video(path)
        except IngestError as exc:
            assert str(path) == exc.item and exc.reason
        else:
            assert item.clip["n_frames"] >= 1 and item.clip["width"] > 0


@FUZZ
@given(edits=EDITS, cut=CUTS, video_edits=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)),
                                                   max_size=3))
def test_corrupted_egodex_pair_is_read_or_refused(originals, edits, cut, video_edits):
    with scratch() as folder:
        video, hdf5 = folder / "0.mp4", folder / "0.hdf5"
        video.write_bytes(corrupt(originals["egodex_mp4"], video_edits, None))
        hdf5.write_bytes(corrupt(originals["hdf5"], edits, cut))
        try:
            item = read_egodex(video, hdf5)
        except IngestError as exc:
            assert exc.reason
        else:
            assert item.frames is not None and item.frames.num_rows == 2 * 6


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=4), max_leaves=12)
INFO_KEYS = ("codebase_version", "fps", "data_path", "video_path", "features", "chunks_size", "total_episodes")


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(INFO_KEYS), JSON, max_size=3),
       episode_rows=st.none() | st.lists(JSON, max_size=3))
def test_lying_lerobot_metadata_is_read_or_refused(originals, changes, episode_rows):
    with scratch() as folder:
        dataset = folder / "ds"
        shutil.copytree(originals["lerobot"].decode(), dataset)
        info = json.loads(originals["info"])
        info.update(changes)
        if episode_rows is not None:  # a v2.1 dataset whose episodes.jsonl holds arbitrary rows
            info["codebase_version"] = "v2.1"
            (dataset / "meta" / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in episode_rows))
        (dataset / "meta" / "info.json").write_text(json.dumps(info))
        try:
            result = read_lerobot(dataset)
        except IngestError as exc:
            assert exc.reason
            return
        assert all(isinstance(f, IngestError) for f in result.failures)
        assert all(item.clip["n_frames"] >= 1 for item in result.items)


@FUZZ
@given(names=st.lists(st.text(min_size=1, max_size=12).filter(lambda n: "/" not in n and "\x00" not in n
                                                              and n not in (".", "..")), max_size=4),
       payload=st.binary(max_size=256))
def test_discovery_of_arbitrary_file_names_only_gives_ingest_errors(names, payload):
    with scratch() as folder:
        for name in names:
            try:
                (folder / name).write_bytes(payload)
            except OSError:  # a name the file system itself refuses (too long in bytes)
                continue
        candidates, errors = discover([folder, folder / "missing"], "auto")
        assert all(isinstance(e, IngestError) for e in errors)
        assert {c.reader for c in candidates} <= {"video", "egodex", "lerobot"}


def test_ingest_of_a_fuzzed_folder_keeps_what_was_there(root, originals, tmp_path):
    good = make_video(tmp_path / "good.mp4", seed=51)
    ingest(root, [good], progress=False)
    before = query_engine(root).cursor().execute("SELECT clip_id, path FROM clips").fetchall()
    junk = tmp_path / "junk"
    junk.mkdir()
    for i in range(8):
        edits = [(k * 7919 + i, (k * 31 + i) % 256) for k in range(40 * i)]
        (junk / f"{i}.mp4").write_bytes(corrupt(originals["mp4"], edits, 0.3 + 0.1 * i if i % 2 else None))
    (junk / "x.hdf5").write_bytes(corrupt(originals["hdf5"], [(100, 0)], 0.5))
    report = ingest(root, [junk], progress=False)
    after = query_engine(root).cursor().execute("SELECT clip_id, path FROM clips").fetchall()
    assert set(before) <= set(after) and len(after) == len(before) + len(report.added)
    assert all(isinstance(f, IngestError) and f.reason for f in report.failures)


URDF_PIECES = st.sampled_from([
    '<robot name="r">', "</robot>", '<link name="a"/>', '<link name="b"/>', "<link/>",
    '<joint name="j" type="revolute">', '<joint name="k" type="fixed">', '<joint type="prismatic">', "</joint>",
    '<parent link="a"/>', '<child link="b"/>', '<child link="a"/>', '<mimic joint="k" multiplier="x"/>',
    '<mimic joint="j"/>', '<limit lower="1" upper="-1"/>', '<axis xyz="0 0 0"/>', '<origin xyz="1 2"/>',
    '<origin rpy="nan 0 0"/>', "<!-- c -->", "&amp;", "<", ">", '"', "\x00", "🤖",
])


@FUZZ
@given(pieces=st.lists(URDF_PIECES, max_size=20))
def test_urdf_parser_raises_only_urdf_errors(pieces):
    try:
        tree = parse_urdf("".join(pieces), source="fuzz.urdf")
    except URDFError as exc:
        assert str(exc).startswith("fuzz.urdf: ")
    else:
        assert tree.root_link


@pytest.fixture(scope="module")
def view_store(tmp_path_factory) -> Path:
    """A small real store: two videos and a flag, so compiled views run against real views."""
    base = tmp_path_factory.mktemp("views")
    root = base / "root"
    ingest(root, [make_video(base / "a.mp4", seed=52), make_video(base / "b.mp4", n_frames=20, seed=53)],
           progress=False)
    return root


SPEC_VALUES = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats()
               | st.text(max_size=30) | st.lists(st.text(max_size=10), max_size=3)
               | st.sampled_from(["human", "robot", "proposed", "confirmed", *SORT_COLUMNS[:6]]))
SPEC_KEYS = st.sampled_from(["metric_ranges", "tasks", "sources", "kinds", "flag_states", "exclude_flag_states",
                             "text", "order_by", "descending", "limit", "'; DROP VIEW clips; --"])
RANGES = st.dictionaries(st.sampled_from([*RANGE_COLUMNS[:8], "nope", "x\"; --"]),
                         st.lists(st.none() | st.floats() | st.integers(-10**30, 10**30) | st.text(max_size=3),
                                  min_size=1, max_size=3), max_size=3)


@FUZZ
@given(data=st.dictionaries(SPEC_KEYS, SPEC_VALUES, max_size=5), ranges=st.none() | RANGES,
       limit=st.none() | st.integers(0, 5))
def test_random_view_specs_are_refused_or_run(view_store, data, ranges, limit):
    if ranges is not None:
        data = {**data, "metric_ranges": ranges}
    try:
        spec = ViewSpec.from_json(json.dumps(data))
    except ValueError as exc:
        assert str(exc)
        return
    assert ViewSpec.from_json(spec.to_json()) == spec  # what parses round-trips
    engine = query_engine(view_store)
    sql, params = compile_view(spec, limit=limit)
    # Bound, never spliced: no string parameter with SQL-significant characters appears in the SQL (short
    # ones such as '=' and plain words such as 'clip' are in any SQL text, so those tell nothing).
    assert isinstance(sql, str) and all(p not in sql for p in params
                                        if isinstance(p, str) and len(p) >= 4 and not p.isidentifier())
    rows = view_clips(engine, spec, limit=limit)
    assert len(rows) <= (limit if limit is not None else 2) and count_view(engine, spec) <= 2


def test_view_spec_from_text_that_is_not_json():
    for text in ("", "{", "[]", "null", "1e999", '{"tasks": "a"}', '{"text": ' + '"x"' * 2 + "}"):
        with pytest.raises(ValueError):
            ViewSpec.from_json(text)


def test_egodex_hdf5_with_wrong_dtypes_everywhere(tmp_path):
    write_egodex_pair(tmp_path, name="0")
    with h5py.File(tmp_path / "0.hdf5", "a") as h5:
        for key in list(h5["transforms"]):
            del h5[f"transforms/{key}"]
            h5[f"transforms/{key}"] = "not an array"
    with pytest.raises(IngestError, match="0.hdf5"):
        read_egodex(tmp_path / "0.mp4", tmp_path / "0.hdf5")
