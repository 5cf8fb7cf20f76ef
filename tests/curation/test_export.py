"""Exports of the paired demo: LeRobot v2.1 (+ GR00T modality) and v3.0, read back, atomic, nothing excluded leaks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.export_episodes import VideoSpec
from curation.export_lerobot import ExportError, list_exports, run_export
from curation.export_manifest import file_hashes
from curation.export_plan import ExportConfig, plan_export
from curation.flags import create_flag
from curation.views import save_view
from db.engine import query_engine
from db.view_spec import ViewSpec
from labeling.sources.lerobot import read_lerobot
from labeling.sources.lerobot_layout import MANIFEST_PATH, PAIRS_PATH

from .demo_retargets import accept_replayed_pairs, paired_demo_root, source_clip_of_robot

SMALL_VIDEO = VideoSpec(width=96, height=72)


@pytest.fixture(scope="module")
def paired(tmp_path_factory) -> Path:
    """The demo with its 4 replayed (human, robot) pairs accepted."""
    root = paired_demo_root(tmp_path_factory.getbasetemp())
    accept_replayed_pairs(root)
    return root


def export(root: Path, out: Path, fmt: str, **options: object):
    return run_export(root, ExportConfig(out_dir=out, format=fmt, video=SMALL_VIDEO, **options))


@pytest.fixture(scope="module")
def v21(paired, tmp_path_factory) -> Path:
    return export(paired, tmp_path_factory.mktemp("v21") / "demo-v21", "lerobot-v2.1", gr00t=True).out_dir


@pytest.fixture(scope="module")
def v30(paired, tmp_path_factory) -> Path:
    return export(paired, tmp_path_factory.mktemp("v30") / "demo-v30", "lerobot-v3").out_dir


@pytest.mark.parametrize("fixture", ["v21", "v30"])
def test_an_export_reads_back_through_our_lerobot_reader(request, fixture):
    out = request.getfixturevalue(fixture)
    read = read_lerobot(out)
    assert not read.failures and not read.warnings
    assert len(read.items) == 8  # 4 accepted pairs x (human, robot)
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["codebase_version"] == ("v2.1" if fixture == "v21" else "v3.0")
    assert info["total_frames"] == sum(item.clip["n_frames"] for item in read.items)
    for item in read.items:
        state = np.asarray(item.robot_frames.column("state").to_pylist())
        assert state.shape[1] == 62 and np.isfinite(state).all()


def test_human_episodes_carry_relative_wrists_and_absolute_joints(v21):
    episodes = [json.loads(line) for line in (v21 / "meta" / "episodes.jsonl").read_text().splitlines()]
    human = next(e for e in episodes if e["embodiment"] == "human")
    table = pq.read_table(v21 / f"data/chunk-000/episode_{human['episode_index']:06d}.parquet")
    state = np.asarray(table.column("observation.state").to_pylist())
    action = np.asarray(table.column("action").to_pylist())
    identity = [0, 0, 0, 1, 0, 0, 0, 1, 0]
    np.testing.assert_allclose(state[0, :9], identity, atol=1e-6)  # left wrist at the episode start
    np.testing.assert_allclose(state[0, 31:40], identity, atol=1e-6)  # right wrist
    assert np.abs(state[:, 9:31]).max() > 0.1  # joints are absolute angles, not zeroed
    np.testing.assert_allclose(action[:-1], state[1:], atol=1e-6)  # action = next state


def test_pairs_never_straddle_the_split_and_episodes_say_who_they_are(v21):
    info = json.loads((v21 / "meta" / "info.json").read_text())
    episodes = [json.loads(line) for line in (v21 / "meta" / "episodes.jsonl").read_text().splitlines()]
    ranges = {name: range(*map(int, span.split(":"))) for name, span in info["splits"].items()}
    assert set(ranges) == {"train", "validation"}
    split_of_group = {}
    for episode in episodes:
        split = next(name for name, span in ranges.items() if episode["episode_index"] in span)
        assert episode["split"] == split
        assert split_of_group.setdefault(episode["pair_id"], split) == split
        assert episode["embodiment"] in ("human", "egocurate_hand22_bimanual")
    pairs = [json.loads(line) for line in (v21 / PAIRS_PATH).read_text().splitlines()]
    assert len(pairs) == 4 and all(len(p["path"]) > 10 for p in pairs)


def test_the_manifest_records_view_counts_hours_hashes_and_the_code(v30, paired):
    manifest = json.loads((v30 / MANIFEST_PATH).read_text())
    assert manifest["counts"]["episodes"] == 8 and manifest["counts"]["pairs"] == 4
    assert set(manifest["counts"]["by_embodiment"]) == {"human", "egocurate_hand22_bimanual"}
    assert manifest["hours"] == pytest.approx(manifest["counts"]["frames"] / 30.0 / 3600.0)
    assert manifest["files"] == file_hashes(v30)
    assert manifest["code_version"]["egocurate"]
    recorded = list_exports(paired)
    row = recorded[recorded.out_dir == str(v30)].iloc[0]
    assert row.state == "done" and row.manifest["files"] == manifest["files"]


def test_excluded_clips_never_leak_in_through_a_pair(paired, tmp_path):
    robot, human = next(iter(source_clip_of_robot(paired).items()))
    save_view(paired, "robots-and-humans", ViewSpec(kinds=("human", "robot")), "curator")
    flag = create_flag(paired, human, "hand mostly out of frame", "curator")  # confirmed: excludes the clip
    try:
        result = export(paired, tmp_path / "flagged", "lerobot-v3", view_name="robots-and-humans")
        clip_ids = set(pq.read_table(result.out_dir / "meta/episodes/chunk-000/file-000.parquet")
                       .column("clip_id").to_pylist())
        assert human not in clip_ids and robot not in clip_ids and len(clip_ids) == 6
        assert [f["id"] for f in result.manifest["flags_excluded"]] == [flag.id]
        assert result.manifest["pairs_dropped"][0]["reason"] == "a clip has an excluding flag"
        only_humans = plan_export(paired, ExportConfig(out_dir=tmp_path / "x", view_name=None))
        assert len(only_humans.episodes) == 6
    finally:
        from curation.flags import dismiss_flag

        dismiss_flag(paired, flag.id, "curator", flag.version)


def test_a_failed_export_leaves_nothing_behind(paired, tmp_path):
    human = next(iter(source_clip_of_robot(paired).values()))
    video = Path(query_engine(paired).cursor().execute("SELECT path FROM clips WHERE clip_id = ?", [human])
                 .fetchone()[0])
    moved = video.with_suffix(".away")
    shutil.move(video, moved)  # the media disappeared after cataloguing: decoding fails mid-export
    try:
        with pytest.raises(ExportError, match="nothing was written"):
            export(paired, tmp_path / "broken", "lerobot-v2.1")
    finally:
        shutil.move(moved, video)
    assert list(tmp_path.iterdir()) == []
    recorded = list_exports(paired)
    assert recorded[recorded.out_dir == str(tmp_path / "broken")].iloc[0].state == "failed"


def test_destinations_are_validated_and_never_overwritten_silently(paired, tmp_path):
    for bad in ("..", "a/..", "with space", ".hidden"):
        with pytest.raises(ValueError, match="out_dir"):
            ExportConfig(out_dir=tmp_path / bad)
    with pytest.raises(ExportError, match="parent"):
        export(paired, tmp_path / "missing" / "x", "lerobot-v3")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="overwrite"):
        export(paired, taken, "lerobot-v3")
    assert (taken / "keep.txt").read_text() == "mine"
    export(paired, taken, "lerobot-v2.1", overwrite=True)
    assert not (taken / "keep.txt").exists() and (taken / "meta" / "info.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no temp or old folders left


def test_unpaired_human_clips_join_as_their_own_groups_for_pretraining(paired, tmp_path):
    """`unpaired_human`: every retargeted human clip of the view, paired or not; excluding flags still hold."""
    from trainer.data import HUMAN, read_export

    engine = query_engine(paired)
    humans = {r[0] for r in engine.cursor().execute(
        "SELECT DISTINCT clip_id FROM retargets WHERE clip_id IN (SELECT clip_id FROM clips WHERE kind = 'human')"
    ).fetchall()}
    paired_humans = set(source_clip_of_robot(paired).values())
    plain = plan_export(paired, ExportConfig(out_dir=tmp_path / "x"))
    assert set(plain.episodes.loc[plain.episodes.kind == "human", "clip_id"]) == paired_humans
    lone = sorted(humans - paired_humans)[0]
    flag = create_flag(paired, lone, "hand mostly out of frame", "curator")  # confirmed: excludes the clip
    try:
        result = export(paired, tmp_path / "pretrain", "lerobot-v3", unpaired_human=True)
    finally:
        from curation.flags import dismiss_flag

        dismiss_flag(paired, flag.id, "curator", flag.version)
    counts = result.manifest["counts"]
    assert counts["unpaired_human"] == len(humans) - len(paired_humans) - 1 and counts["pairs"] == len(paired_humans)
    assert counts["pair_groups"] == plain.episodes["pair_id"].nunique()  # unpaired clips add no pair group
    episodes = read_export(result.out_dir).episodes
    assert sum(e.embodiment == HUMAN for e in episodes) == len(humans) - 1  # the flagged clip stayed out
    assert {e.split for e in episodes if e.embodiment == HUMAN} == {"train", "validation"}
