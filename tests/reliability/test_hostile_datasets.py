"""Broken EgoDex HDF5 and LeRobot metadata that lies: clear per-input errors, the rest ingested, nothing lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from db.engine import QueryEngine
from labeling.sources.base import IngestError
from labeling.sources.ingest import ingest
from labeling.sources.lerobot import read_lerobot
from tests.conftest import make_video
from tests.factories import write_egodex_pair, write_lerobot_v3

GR00T = "lerobot/gr00t_robot_sim.PickNPlace"  # LeRobot v2.0, 5 episodes, one camera that exists


def _catalog(root: Path) -> list[tuple]:
    cursor = QueryEngine(root).cursor()
    return (cursor.execute("SELECT clip_id, n_frames, task FROM clips ORDER BY clip_id").fetchall()
            + cursor.execute("SELECT clip_id, count(*) FROM frames GROUP BY ALL ORDER BY 1").fetchall()
            + cursor.execute("SELECT clip_id, count(*) FROM robot_frames GROUP BY ALL ORDER BY 1").fetchall())


@pytest.fixture
def stored(root, tmp_path) -> list[tuple]:
    """A root already holding one EgoDex clip (with poses) and one video: what must survive."""
    ingest(root, [write_egodex_pair(tmp_path / "kept" / "toy", name="0").parent,
                  make_video(tmp_path / "kept" / "plain.mp4", seed=21)], progress=False)
    catalog = _catalog(root)
    assert len(catalog) == 3  # two clips, one with frames
    return catalog


def _edit_hdf5(folder: Path, name: str, edit) -> Path:  # noqa: ANN001 (a callable on the open file)
    write_egodex_pair(folder, name=name)
    with h5py.File(folder / f"{name}.hdf5", "a") as h5:
        edit(h5)
    return folder / f"{name}.hdf5"


def _replace(h5: h5py.File, key: str, value: object) -> None:
    del h5[key]
    h5[key] = value


EGODEX_BREAKAGES = {
    "no_camera": (lambda h5: h5.__delitem__("transforms/camera"), "no dataset 'transforms/camera'"),
    "intrinsic_2x2": (lambda h5: _replace(h5, "camera/intrinsic", np.eye(2)), "camera/intrinsic"),
    "joint_is_group": (lambda h5: (h5.__delitem__("transforms/leftHand"), h5.create_group("transforms/leftHand")),
                       "transforms/leftHand"),
    "joint_3x3": (lambda h5: _replace(h5, "transforms/rightHand", np.zeros((6, 3, 3))), "transforms/rightHand"),
    "joint_short": (lambda h5: _replace(h5, "transforms/rightHand", np.tile(np.eye(4), (2, 1, 1))),
                    "has 2 frames, camera has 6"),
    "joint_strings": (lambda h5: _replace(h5, "transforms/leftThumbTip", np.full((6, 4, 4), b"x")),
                      "malformed EgoDex data"),
    "singular_camera": (lambda h5: _replace(h5, "transforms/camera", np.zeros((6, 4, 4))), "malformed EgoDex data"),
    "short_confidence": (lambda h5: _replace(h5, "confidences/leftHand", np.ones(2)), "malformed EgoDex data"),
}


def test_broken_egodex_hdf5_each_fail_with_the_dataset_named(root, tmp_path, stored):
    folder = tmp_path / "broken" / "task"
    for name, (edit, _) in EGODEX_BREAKAGES.items():
        _edit_hdf5(folder, name, edit)
    (folder / "not_hdf5.hdf5").write_text("plain text")
    make_video(folder / "not_hdf5.mp4", seed=30)
    report = ingest(root, [folder.parent], progress=False)
    reasons = {Path(f.item).stem: f.reason for f in report.failures}
    assert set(reasons) == {*EGODEX_BREAKAGES, "not_hdf5"}, reasons
    for name, (_, expected) in EGODEX_BREAKAGES.items():
        assert expected in reasons[name], (name, reasons[name])
    assert "not a readable HDF5 file" in reasons["not_hdf5"]
    assert not report.added and _catalog(root) == stored


def test_nan_transforms_mark_the_hand_absent_in_those_frames_only(root, tmp_path):
    def poison(h5: h5py.File) -> None:
        pose = h5["transforms/leftIndexFingerTip"][()]
        pose[2:4] = np.nan
        _replace(h5, "transforms/leftIndexFingerTip", pose)
        camera = h5["transforms/camera"][()]
        camera[5] = np.nan  # a lost SLAM pose: both hands unknown in that frame
        _replace(h5, "transforms/camera", camera)

    _edit_hdf5(tmp_path / "nan" / "toy", "nan", poison)
    report = ingest(root, [tmp_path / "nan"], progress=False)
    assert len(report.added) == 1 and not report.failures
    present = QueryEngine(root).cursor().execute(
        "SELECT hand, list(present ORDER BY frame_index) FROM frames WHERE clip_id = ? GROUP BY hand ORDER BY hand",
        [report.added[0]]).fetchall()
    assert present == [("left", [True, True, False, False, True, False]),
                       ("right", [True, True, True, True, True, False])]


@pytest.fixture
def gr00t(shared_data, tmp_path) -> Path:
    copy = tmp_path / "gr00t"
    shutil.copytree(shared_data / GR00T, copy)
    return copy


def _rewrite_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_lying_episode_counts_and_lengths_are_warnings_the_files_win(root, gr00t, stored):
    _rewrite_json(gr00t / "meta" / "info.json", total_episodes=50, total_frames=7)
    lines = (gr00t / "meta" / "episodes.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["length"] = 9999
    lines[0] = json.dumps(first)
    (gr00t / "meta" / "episodes.jsonl").write_text("\n".join(lines[:4]) + "\n")  # episode 4 left out
    report = ingest(root, [gr00t], progress=False)
    assert len(report.added) == 4 and not report.failures
    assert any("says 50 episodes" in w for w in report.warnings)
    assert any("metadata says 9999 frames, the data file holds 416" in w for w in report.warnings)
    rows = QueryEngine(root).cursor().execute(
        "SELECT episode_index, n_frames FROM clips WHERE source = 'lerobot' ORDER BY 1").fetchall()
    assert rows[0] == (0, 416) and [r[0] for r in rows] == [0, 1, 2, 3]
    assert set(stored) <= set(_catalog(root))


def test_missing_videos_and_data_files_fail_per_episode(root, gr00t, stored):
    (gr00t / "videos" / "chunk-000" / "observation.images.ego_view" / "episode_000001.mp4").unlink()
    (gr00t / "data" / "chunk-000" / "episode_000002.parquet").unlink()
    (gr00t / "data" / "chunk-000" / "episode_000003.parquet").write_bytes(b"PAR1 but not really")
    with open(gr00t / "meta" / "episodes.jsonl", "a") as handle:  # an episode with no files at all
        handle.write(json.dumps({"episode_index": 7, "tasks": ["ghost"], "length": 10}) + "\n")
    report = ingest(root, [gr00t], progress=False)
    reasons = {Path(f.item).name if f.item.endswith(".parquet") else f.item.rsplit(" ", 1)[-1]: f.reason
               for f in report.failures}
    assert set(reasons) == {"1", "2", "episode_000003.parquet", "7"}
    assert "no video file" in reasons["1"] and "looked for" in reasons["1"]
    assert "episode_000002.parquet is missing" in reasons["2"]
    assert "unreadable Parquet" in reasons["episode_000003.parquet"]
    assert "episode_000007.parquet is missing" in reasons["7"]
    assert len(report.added) == 2 and report.ok  # episodes 0 and 4
    assert set(stored) <= set(_catalog(root))


@pytest.mark.parametrize("changes, reason", [
    ({"data_path": "data/nowhere/episode_{episode_index:06d}.parquet"}, None),
    ({"data_path": "data/{no_such_field}.parquet"}, "cannot be filled"),
    ({"data_path": "../../outside/{episode_index}.parquet"}, "leads outside the dataset"),
    ({"data_path": "/etc/{episode_index}.parquet"}, "leads outside the dataset"),
    ({"video_path": "../{video_key}/{episode_index}.mp4"}, "leads outside the dataset"),
    ({"fps": "fast"}, "'fps' must be a positive number"),
    ({"fps": 0}, "'fps' must be a positive number"),
    ({"features": ["observation.state"]}, "'features' must be an object"),
    ({"chunks_size": "many"}, "malformed LeRobot metadata"),
    ({"codebase_version": "v9.9"}, "unsupported LeRobot codebase_version"),
])
def test_info_json_that_points_nowhere_or_elsewhere(root, gr00t, stored, changes, reason):
    _rewrite_json(gr00t / "meta" / "info.json", **changes)
    report = ingest(root, [gr00t], progress=False)
    assert not report.added and not report.ok
    if reason is None:  # a template that fills but finds no files: every episode fails alone
        assert len(report.failures) == 5 and all("is missing" in f.reason for f in report.failures)
    else:
        assert len(report.failures) == 1 and reason in report.failures[0].reason
        assert report.failures[0].item == str(gr00t.resolve())
    assert _catalog(root) == stored


@pytest.mark.parametrize("line, reason", [
    ('{"tasks": ["no index"], "length": 3}', "malformed LeRobot metadata"),
    ('["a", "list"]', "malformed LeRobot metadata"),
    ('{"episode_index": "zero"}', "malformed LeRobot metadata"),
    ("{not json", "line 6: invalid JSON"),
])
def test_episodes_jsonl_rows_of_the_wrong_shape(gr00t, line, reason):
    with open(gr00t / "meta" / "episodes.jsonl", "a") as handle:
        handle.write(line + "\n")
    with pytest.raises(IngestError, match=reason):
        read_lerobot(gr00t)


def test_episodes_jsonl_disagreeing_with_the_parquet(root, tmp_path, gr00t):
    # Episode 0's row in episodes.jsonl points at the parquet of episode 1 (its `episode_index` column says 1).
    data = gr00t / "data" / "chunk-000"
    shutil.copy(data / "episode_000001.parquet", data / "episode_000000.parquet")
    report = ingest(root, [gr00t], progress=False)
    reasons = {f.item.rsplit(" ", 1)[-1]: f.reason for f in report.failures}
    assert "no rows for this episode" in reasons["0"]
    assert len(report.added) == 4


def test_lerobot_v3_with_broken_episode_index(root, tmp_path):
    dataset = write_lerobot_v3(tmp_path / "v3", lengths=(5, 5))
    (dataset / "meta" / "episodes" / "chunk-000" / "file-000.parquet").write_bytes(b"garbage")
    report = ingest(root, [dataset], progress=False)
    assert not report.added and "malformed LeRobot metadata" in report.failures[0].reason
    (dataset / "meta" / "tasks.parquet").unlink()
    write_lerobot_v3(tmp_path / "v3b", lengths=(5,))
    (tmp_path / "v3b" / "meta" / "tasks.parquet").unlink()
    report = ingest(root, [tmp_path / "v3b"], progress=False)
    assert "missing meta/tasks.parquet" in report.failures[0].reason
