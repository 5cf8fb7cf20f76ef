"""Issue 15's Done-when, end to end on real data: a humanoid dataset with two Inspire hands (v2.1 and v3.0,
vendor names, normalised hand values) is ingested with its spec, EgoDex clips are retargeted to Inspire,
`egocurate pair` aligns every candidate in the robot's own hand space and recovers the time warp; a pair is
accepted from the command line and exported as v3.0 and v2.1 + GR00T (one dataset per embodiment), and the
trainer midtrains on the export from a human-pretrained checkpoint, with validation per embodiment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from app.cli import main
from curation.align import AlignConfig, align_sequences, warp_error_frames
from curation.hand_space import HandSpace, robot_sequence
from curation.pair_store import get_pair
from curation.pair_view import pair_detail
from curation.pairing import PairConfig, run_pairing
from db.engine import query_engine
from db.queries.annotations import pair_rows
from db.queries.clips import pairing_clips
from db.queries.frames import robot_state_rows
from labeling.embodiment.spec import read_spec
from labeling.synthetic.plan import warp_times
from trainer.run_log import read_log

from .g1_inspire import NAMES, SPEC_NAME, g1_root


def cli(root: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--root", str(root), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def g1(tmp_path_factory, shared_data) -> dict:
    folder = tmp_path_factory.mktemp("g1")
    root, spec_file, datasets, episodes = g1_root(folder, shared_data)
    out = cli(root, "ingest", *map(str, datasets), "--embodiment", str(spec_file), "--quiet")
    assert "6 clips added" in out and "6 robot episodes follow it" in out
    cli(root, "retarget", "--hand", "egocurate_hand22", "--device", "cpu", "--quiet")  # the 62-D human layout
    return {"folder": folder, "root": root, "spec": spec_file, "datasets": datasets, "episodes": episodes,
            "pair_output": cli(root, "pair", "--quiet")}


def test_pair_aligns_every_candidate_in_the_robot_hand_space(g1):
    summary = json.loads(g1["pair_output"].split("pair: ", 1)[1])
    assert summary["candidates"] == 6 and summary["aligned"] == 6 and summary["proposed"] == 6
    report = run_pairing(g1["root"], PairConfig())  # the same, as data: every candidate has a cost
    assert len(report.frame) == 6 and report.frame["cost"].notna().all() and report.frame["note"].isna().all()


def test_the_default_threshold_passes_true_pairs_and_not_wrong_task_ones(g1):
    """Every robot episode against every human clip: only the clip it was built from is proposed, and `pair`
    shows what the others cost (RMS rad per joint) and why they were not proposed."""
    report = run_pairing(g1["root"], PairConfig(min_task_similarity=0.0))
    frame = report.frame
    true = frame["human_task"] == frame["robot_task"]  # each robot episode replays the one clip of its task
    assert len(frame) == 18 and true.sum() == 6
    assert (frame.loc[true, "outcome"] == "proposed").all() and frame.loc[true, "cost"].max() < 0.02
    assert frame.loc[~true, "outcome"].isin(["too_costly", "degenerate"]).all()
    assert frame.loc[frame["outcome"] == "too_costly", "cost"].min() > PairConfig().max_cost
    output = cli(g1["root"], "pair", "--min-similarity", "0", "--quiet")
    assert "not proposed (12 aligned candidates; cost is RMS rad per joint, --max-cost 0.1)" in output
    shown = [line for line in output.splitlines() if line.startswith("  cost ")]
    assert len(shown) == 12 and all(("> max 0.1" in line) or ("collapses one side" in line) for line in shown)


def test_each_robot_episode_recovers_its_time_warp_against_its_human_clip(g1):
    pairs = pair_rows(query_engine(g1["root"]))
    clips = pairing_clips(query_engine(g1["root"])).set_index("clip_id")
    by_human = {e["human_clip_id"]: e for e in g1["episodes"]}
    for row in pairs.itertuples():
        episode = by_human[row.human_clip_id]
        path = np.asarray(get_pair(g1["root"], int(row.id)).path)
        assert clips.loc[row.robot_clip_id, "n_frames"] == len(episode["truth"])
        assert warp_error_frames(path, episode["truth"]) < 3.0, row  # frames, at 30 fps
        assert row.cost < 0.1


def test_an_episode_against_a_time_warped_copy_of_its_own_hand_trajectory_recovers_the_warp(g1):
    spec = read_spec(g1["spec"])
    space = HandSpace.of(spec)
    engine = query_engine(g1["root"])
    robot_id = pairing_clips(engine).query("kind == 'robot'")["clip_id"].iloc[0]
    state = np.asarray(robot_state_rows(engine, [robot_id]).column("state").to_pylist(), np.float64)
    robot = robot_sequence(space, NAMES, state)  # (T, 12) radians
    for amplitude in (0.4, -0.4):
        truth = warp_times(len(robot), amplitude) * (len(robot) - 1)
        warped = np.stack([np.interp(truth, np.arange(len(robot)), robot[:, k]) for k in range(robot.shape[1])], 1)
        alignment = align_sequences(robot, warped, space.features, AlignConfig(subsequence=False))
        assert warp_error_frames(alignment.path, truth) < 2.0


def test_the_pairs_page_draws_both_hands_and_says_why_a_pair_has_no_cost(g1, tmp_path, shared_data):
    detail = pair_detail(g1["root"], query_engine(g1["root"]), 1)
    assert detail.note is None and not detail.curves.empty
    assert set(detail.curves["series"]) == {"robot", "human, warped"}
    hands = detail.hands
    assert hands is not None and {h["side"] for h in hands["robot"]} == {"left", "right"}
    assert len(hands["robot"][0]["xyz"]) == detail.robot["n_frames"]
    assert len(hands["human"][0]["xyz"]) == detail.human["n_frames"]
    # The same robot dataset without a spec: proposed on its task alone, and the page says why.
    root = tmp_path / "nospec"
    cli(root, "ingest", str(shared_data / "egodex_sample"), str(g1["datasets"][0]), "--quiet")
    output = CliRunner().invoke(main, ["--root", str(root), "pair", "--quiet"]).output
    assert "no embodiment spec" in output
    pair = pair_rows(query_engine(root)).iloc[0]
    detail = pair_detail(root, query_engine(root), int(pair.id))
    assert detail.pair.cost is None and "26-D state and no embodiment spec" in detail.note


@pytest.fixture(scope="module")
def exported(g1) -> dict:
    root = g1["root"]
    listed = cli(root, "pair", "list", "--json")
    first = json.loads(listed.splitlines()[0])
    assert "accepted by tester" in cli(root, "pair", "accept", str(first["id"]), "--author", "tester")
    for row in map(json.loads, listed.splitlines()[1:]):
        if row["human_task"] != first["human_task"]:  # one pair per human clip goes in
            cli(root, "pair", "accept", str(row["id"]), "--author", "tester")
            first = row
    out = {}
    for fmt, extra in (("lerobot-v3", ()), ("lerobot-v2.1", ("--gr00t",))):
        folder = g1["folder"] / f"export-{fmt}"
        cli(root, "export", "--out", str(folder), "--format", fmt, "--size", "64x48", "--quiet", *extra)
        out[fmt] = folder
    return out


def test_accept_from_the_command_line_is_audited(g1, exported):
    from sqlalchemy import select

    from db.models import AuditEntry
    from db.store import session_scope

    with session_scope(g1["root"]) as session:
        actions = session.execute(select(AuditEntry.actor, AuditEntry.action).where(
            AuditEntry.entity == "pair", AuditEntry.action == "pair.accepted")).all()
    assert actions and all(actor == "tester" for actor, _ in actions)
    result = CliRunner().invoke(main, ["--root", str(g1["root"]), "pair", "reject", "999", "--reason", "x"])
    assert result.exit_code != 0 and "no pair with id 999" in result.output


def test_deciding_again_changes_nothing_and_the_list_has_no_nan(g1, exported):
    first = json.loads(cli(g1["root"], "pair", "list", "--json", "--state", "accepted").splitlines()[0])
    again = cli(g1["root"], "pair", "accept", str(first["id"]), "--author", "someone")
    assert f"pair {first['id']} is already accepted by tester (version {first['version']}); nothing changed" in again
    assert get_pair(g1["root"], int(first["id"])).version == first["version"]
    listed = cli(g1["root"], "pair", "list")  # accepted and proposed pairs: reasons and deciders partly empty
    assert "accepted" in listed and "proposed" in listed and "NaN" not in listed and "None" not in listed


def test_mixed_exports_keep_each_datasets_aspect_unless_a_size_is_given(g1):
    from curation.export_episodes import VideoSpec
    from curation.export_mixture import dataset_video

    clips = pairing_clips(query_engine(g1["root"]))
    humans, robots = clips[clips.kind == "human"], clips[clips.kind == "robot"]
    fitted = VideoSpec(keep_aspect=True)
    assert (dataset_video(g1["root"], humans, fitted).width, dataset_video(g1["root"], humans, fitted).height) == (
        320, 180)  # EgoDex is 1920x1080: no letterbox bars
    assert dataset_video(g1["root"], robots, fitted).height == 240  # the robot's 64x48 camera is 4:3
    assert dataset_video(g1["root"], humans, VideoSpec(width=64, height=48)) == VideoSpec(width=64, height=48)


@pytest.mark.parametrize("fmt", ["lerobot-v3", "lerobot-v2.1"])
def test_export_writes_one_dataset_per_embodiment_in_its_own_layout(exported, fmt):
    folder = exported[fmt]
    mixture = json.loads((folder / "mixture.json").read_text())
    datasets = {d["name"]: d for d in mixture["datasets"]}
    assert sorted(datasets) == ["g1_inspire", "human"]
    assert datasets["g1_inspire"]["state_names"] == NAMES and datasets["g1_inspire"]["state_dim"] == 26
    assert datasets["human"]["state_dim"] == 62
    assert sum(d["weight"] for d in datasets.values()) == pytest.approx(1.0)
    for name, width in (("g1_inspire", 26), ("human", 62)):
        info = json.loads((folder / name / "meta" / "info.json").read_text())
        assert info["features"]["observation.state"]["shape"] == [width]
        assert info["features"]["action"]["shape"] == [width]
        data = next((folder / name / "data").rglob("*.parquet"))
        assert pq.read_schema(data).field("observation.state").type.list_size == width
    pairs = [json.loads(line) for line in (folder / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == 3 and all(p["human"]["dataset"] == "human" and p["robot"]["dataset"] == "g1_inspire"
                                   for p in pairs)
    if fmt == "lerobot-v2.1":
        modality = json.loads((folder / "g1_inspire" / "meta" / "modality.json").read_text())
        assert modality["state"]["left_hand"] == {"start": 14, "end": 20}
        assert modality["state"]["right_hand"] == {"start": 20, "end": 26}
        assert modality["state"]["other"] == {"start": 0, "end": 14}
        human = json.loads((folder / "human" / "meta" / "modality.json").read_text())
        assert human["state"]["right_hand"]["end"] == 62


def test_train_midtrains_on_the_export_from_a_human_pretrained_checkpoint(g1, exported):
    root, data = g1["root"], exported["lerobot-v2.1"]
    cli(root, "train", "--data", str(data), "--stage", "pretrain", "--config", "smoke", "--max-steps", "6")
    pretrain = root / "runs" / f"pretrain-{data.name}"
    cli(root, "train", "--data", str(data), "--stage", "midtrain", "--init", str(pretrain), "--config", "smoke",
        "--max-steps", "6")
    log = read_log(root / "runs" / f"midtrain-{data.name}")
    validation = [r["val"] for r in log if "val" in r]
    assert validation and set(validation[-1]) == {"human", SPEC_NAME}  # validation per embodiment


def test_wrist_motion_counts_when_the_spec_names_wrists(g1):
    """A spec with end-effector poses (xyz + quaternion per side): the sequence carries them as 6D rotations and
    the DTW features add start-relative wrist positions, so a different wrist motion costs more."""
    from labeling.embodiment.spec import spec_from_dict

    values = read_spec(g1["spec"]).to_dict()
    ee = {side: [f"{side}_ee_{k}" for k in ("x", "y", "z", "qw", "qx", "qy", "qz")] for side in ("left", "right")}
    values["wrist"] = {side: {"dims": dims, "quaternion": "wxyz"} for side, dims in ee.items()}
    space = HandSpace.of(spec_from_dict(values))
    assert space.wrists and space.n_joints == 12
    engine = query_engine(g1["root"])
    robot_id = pairing_clips(engine).query("kind == 'robot'")["clip_id"].iloc[0]
    hands = np.asarray(robot_state_rows(engine, [robot_id]).column("state").to_pylist(), np.float64)
    t = np.linspace(0, 1, len(hands))[:, None]

    def with_wrists(amplitude_m: float) -> np.ndarray:
        poses = []
        for k in range(2):
            position = amplitude_m * np.concatenate([np.sin(3 * t + k), np.cos(2 * t), t], axis=1)
            angle = 0.4 * np.sin(2 * t[:, 0] + k)
            quaternion = np.stack([np.cos(angle / 2), 0 * angle, 0 * angle, np.sin(angle / 2)], axis=1)  # about z
            poses.append(np.concatenate([position, quaternion], axis=1))
        return np.concatenate([hands, *poses], axis=1)

    names = NAMES + ee["left"] + ee["right"]
    robot = robot_sequence(space, names, with_wrists(0.2))
    assert robot.shape == (len(hands), 12 + 2 * 9)
    features = space.features(robot, False, AlignConfig())
    assert features.shape == (len(hands), 12 + 6) and np.allclose(features[0, 12:], 0.0)
    truth = warp_times(len(robot), 0.4) * (len(robot) - 1)
    warped = np.stack([np.interp(truth, np.arange(len(robot)), robot[:, k]) for k in range(robot.shape[1])], 1)
    same = align_sequences(robot, warped, space.features, AlignConfig(subsequence=False))
    assert warp_error_frames(same.path, truth) < 2.0
    still = robot_sequence(space, names, with_wrists(0.0))  # the same fingers, wrists that never move
    assert align_sequences(still, warped, space.features, AlignConfig(subsequence=False)).cost > 3 * same.cost


def test_a_mixed_embodiment_export_cuts_flagged_frames_and_carries_segments(g1, exported):
    """Issue 16 inside a mixture: the human dataset splits at a confirmed flag, its segment is a GR00T annotation,
    and pairs.jsonl's paths are in the kept episodes' frames."""
    root = g1["root"]
    pairs = [json.loads(line) for line in (exported["lerobot-v2.1"] / "pairs.jsonl").read_text().splitlines()]
    accepted = [p for p in pair_rows(query_engine(root)).itertuples() if p.state == "accepted"]
    human = next(p.human_clip_id for p in accepted)
    flag_id = CliRunner().invoke(main, ["--root", str(root), "flag", "add", human, "--frames", "10:29", "--reason",
                                        "occluded", "--user", "tester"]).stdout.strip()
    assert flag_id.isdigit() and pairs
    cli(root, "segment", "add", human, "--frames", "40:60", "--text", "lift the lid", "--user", "tester")
    folder = g1["folder"] / "export-cut-v21"
    cli(root, "export", "--out", str(folder), "--format", "lerobot-v2.1", "--gr00t", "--size", "64x48", "--quiet",
        "--min-episode-s", "0.3")
    episodes = [json.loads(line) for line in (folder / "human" / "meta" / "episodes.jsonl").read_text().splitlines()]
    mine = [e for e in episodes if e["clip_id"] == human]
    assert [e["kept_frames"][0][0] for e in mine] == [0, 30] and mine[0]["kept_frames"][0][1] == 10
    later = mine[1]
    assert later["sub_tasks"] == [{"start": 10, "end": 31, "text": "lift the lid"}]
    assert "human.subtask" in json.loads((folder / "human" / "meta" / "modality.json").read_text())["annotation"]
    lines = [json.loads(line) for line in (folder / "pairs.jsonl").read_text().splitlines()]
    ours = [line for line in lines if line["human"]["episode"] in {e["episode_index"] for e in mine}]
    assert ours and all(0 <= h < next(e["length"] for e in mine if e["episode_index"] == line["human"]["episode"])
                        for line in ours for h, _ in line["path"])
    manifest = json.loads((folder / "egocurate_manifest.json").read_text())
    assert manifest["cuts"]["clips"][human][0] == {"frame_from": 10, "frame_to": 30, "reason": "flag",
                                                   "flag_id": int(flag_id)}
