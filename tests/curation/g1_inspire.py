"""A robot dataset shaped like a real humanoid with two Inspire hands (issue 15), built from real data.

The case a lab brings: a LeRobot v2.1 or v3.0 set whose 26-D state is 7 arm joints per side, then
six hand values per side in the Inspire vendor's normalised units (1 = open, the URDF's lower limit)
under vendor names (`kRightHandPinky`, ...). The hand values here come from the shared EgoDex clips
retargeted to the shared Inspire URDF, time-warped and written in vendor units, so each robot
episode really does what one human clip does, on its own clock.

    root = g1_root(tmp, shared_data)            # EgoDex ingested, retargeted to the spec, both datasets written
    spec_path(tmp, shared_data)                  # the spec (absolute paths into ../shared/data)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curation.hand_space import HandSpace, human_sequence, q_columns
from db.engine import query_engine
from db.queries.clips import pairing_clips
from db.queries.retargets import retarget_rows
from labeling.embodiment.joints import radians_to_dims
from labeling.embodiment.spec import read_spec
from labeling.retarget.stage import run_retarget
from labeling.sources.ingest import ingest
from labeling.synthetic.plan import warp_times
from tests.conftest import make_video

ARM = ("ShoulderPitch", "ShoulderRoll", "ShoulderYaw", "Elbow", "WristRoll", "WristPitch", "WristYaw")
HAND = ("Pinky", "Ring", "Middle", "Index", "ThumbBend", "ThumbRotation")
JOINTS = {"Pinky": "pinky_proximal_joint", "Ring": "ring_proximal_joint", "Middle": "middle_proximal_joint",
          "Index": "index_proximal_joint", "ThumbBend": "thumb_proximal_pitch_joint",
          "ThumbRotation": "thumb_proximal_yaw_joint"}
NAMES = [f"k{s}{a}" for s in ("Left", "Right") for a in ARM] + [f"k{s}Hand{h}" for s in ("Left", "Right") for h in HAND]
FPS = 30.0
WARP = 0.35  # robot frame k shows human frame warp_times(n, WARP)[k] * (n_human - 1)
ROBOT_FRACTION = 0.8  # robot episodes are this long, relative to their human clip
SPEC_NAME = "g1_inspire"


def spec_text(shared: Path) -> str:
    """The spec YAML for the shared Inspire URDF and dex-retargeting configs (absolute paths)."""
    teleop = shared / "retargeting_configs" / "dex-retargeting" / "teleop"
    lines = [f"name: {SPEC_NAME}", f"urdf_dir: {shared / 'urdf' / 'dex-urdf' / 'hands'}", "hands:"]
    for side in ("right", "left"):
        lines += [f"  {side}:", f"    hand: {teleop / f'inspire_hand_{side}.yml'}", "    joints:"]
        lines += [f"      k{side.capitalize()}Hand{h}: {{joint: {j}, unit: normalized, invert: true}}"
                  for h, j in JOINTS.items()]
    return "\n".join(lines + ["wrist: null", ""])


def spec_path(folder: Path, shared: Path) -> Path:
    path = folder / "g1_inspire.yml"
    path.write_text(spec_text(shared))
    return path


def hand_episodes(root: Path, spec_file: Path) -> list[dict]:
    """Per retargeted EgoDex clip: its task, and a warped robot episode's 26-D state in vendor units."""
    spec = read_spec(spec_file)
    space = HandSpace.of(spec)
    engine = query_engine(root)
    clips = pairing_clips(engine)
    humans = clips[clips["kind"] == "human"].sort_values("clip_id")
    columns = q_columns(root, space, SPEC_NAME)
    assert not isinstance(columns, str), columns
    rows = retarget_rows(engine, humans["clip_id"].tolist(), SPEC_NAME)
    episodes = []
    for index, human in enumerate(humans.itertuples()):
        mine = rows.filter(pa.compute.equal(rows["clip_id"], human.clip_id))
        sequence, _ = human_sequence(space, mine, columns, int(human.n_frames))  # (T, 12): left 6 then right 6
        n_robot = int(human.n_frames * ROBOT_FRACTION)
        truth = warp_times(n_robot, WARP) * (human.n_frames - 1)
        warped = np.stack([np.interp(truth, np.arange(len(sequence)), sequence[:, k])
                           for k in range(sequence.shape[1])], axis=1)
        t = np.linspace(0.0, 1.0, n_robot)[:, None]
        arms = 0.3 * np.sin(2 * np.pi * t * np.linspace(0.5, 1.5, 14) + index)  # radians, any motion
        left = radians_to_dims(spec.hands["left"], warped[:, :6])
        right = radians_to_dims(spec.hands["right"], warped[:, 6:])
        state = np.concatenate([arms, left, right], axis=1).astype(np.float32)
        episodes.append({"task": human.task, "state": state, "human_clip_id": human.clip_id, "truth": truth})
    return episodes


def _features(dim: int) -> dict:
    vector = {"dtype": "float32", "shape": [dim], "names": [NAMES]}  # nested, like the real G1 info.json
    key = "observation.images.cam_left_high"
    return {key: {"dtype": "video", "shape": [48, 64, 3], "names": ["height", "width", "channel"],
                  "info": {"video.fps": FPS, "video.codec": "h264"}},
            "observation.state": vector, "action": dict(vector),
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
            **{k: {"dtype": "int64", "shape": [1], "names": None}
               for k in ("frame_index", "episode_index", "index", "task_index")}}


def _rows(episode: dict, index: int, first: int, task_index: int) -> list[dict]:
    state = episode["state"]
    action = np.concatenate([state[1:], state[-1:]])
    return [{"observation.state": state[f].tolist(), "action": action[f].tolist(), "timestamp": f / FPS,
             "frame_index": f, "episode_index": index, "index": first + f, "task_index": task_index}
            for f in range(len(state))]


def write_g1_v21(folder: Path, episodes: list[dict]) -> Path:
    """A LeRobot v2.1 dataset: one Parquet and one mp4 per episode."""
    key = "observation.images.cam_left_high"
    tasks = list(dict.fromkeys(e["task"] for e in episodes))
    first = 0
    for index, episode in enumerate(episodes):
        n = len(episode["state"])
        make_video(folder / f"videos/chunk-000/{key}/episode_{index:06d}.mp4", n_frames=n, fps=FPS, seed=20 + index)
        (folder / "data/chunk-000").mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(_rows(episode, index, first, tasks.index(episode["task"]))),
                       folder / f"data/chunk-000/episode_{index:06d}.parquet")
        first += n
    (folder / "meta").mkdir(parents=True, exist_ok=True)
    info = {"codebase_version": "v2.1", "robot_type": "Unitree_G1_Inspire", "total_episodes": len(episodes),
            "total_frames": first, "total_tasks": len(tasks), "total_videos": len(episodes), "total_chunks": 1,
            "chunks_size": 1000, "fps": FPS, "splits": {"train": f"0:{len(episodes)}"},
            "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
            "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
            "features": _features(len(NAMES))}
    (folder / "meta/info.json").write_text(json.dumps(info, indent=2))
    (folder / "meta/tasks.jsonl").write_text("".join(json.dumps({"task_index": i, "task": t}) + "\n"
                                                     for i, t in enumerate(tasks)))
    (folder / "meta/episodes.jsonl").write_text("".join(
        json.dumps({"episode_index": i, "tasks": [e["task"]], "length": len(e["state"])}) + "\n"
        for i, e in enumerate(episodes)))
    return folder


def write_g1_v30(folder: Path, episodes: list[dict]) -> Path:
    """A LeRobot v3.0 dataset: every episode in one data file and one concatenated video."""
    key = "observation.images.cam_left_high"
    tasks = list(dict.fromkeys(e["task"] for e in episodes))
    lengths = [len(e["state"]) for e in episodes]
    starts = np.cumsum([0, *lengths])
    make_video(folder / f"videos/{key}/chunk-000/file-000.mp4", n_frames=int(starts[-1]), fps=FPS, seed=40)
    rows = [r for i, e in enumerate(episodes) for r in _rows(e, i, int(starts[i]), tasks.index(e["task"]))]
    (folder / "data/chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "data/chunk-000/file-000.parquet")
    (folder / "meta/episodes/chunk-000").mkdir(parents=True)
    pd.DataFrame({"task_index": range(len(tasks))}, index=pd.Index(tasks, name="task")).to_parquet(
        folder / "meta/tasks.parquet")
    pq.write_table(pa.Table.from_pylist([{
        "episode_index": i, "tasks": [e["task"]], "length": lengths[i], "data/chunk_index": 0, "data/file_index": 0,
        "dataset_from_index": int(starts[i]), "dataset_to_index": int(starts[i + 1]),
        f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": 0,
        f"videos/{key}/from_timestamp": starts[i] / FPS, f"videos/{key}/to_timestamp": starts[i + 1] / FPS,
    } for i, e in enumerate(episodes)]), folder / "meta/episodes/chunk-000/file-000.parquet")
    info = {"codebase_version": "v3.0", "robot_type": "Unitree_G1_Inspire", "total_episodes": len(episodes),
            "total_frames": int(starts[-1]), "total_tasks": len(tasks), "fps": FPS, "chunks_size": 1000,
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
            "features": _features(len(NAMES))}
    (folder / "meta/info.json").write_text(json.dumps(info, indent=2))
    return folder


def g1_root(folder: Path, shared: Path) -> tuple[Path, Path, list[Path], list[dict]]:
    """EgoDex ingested and retargeted to the spec; the robot datasets written (not yet ingested).

    Returns (data root, spec file, [v2.1 dataset, v3.0 dataset], the episodes written).
    """
    root, spec_file = folder / "root", spec_path(folder, shared)
    ingest(root, [shared / "egodex_sample"], progress=False)
    run_retarget(root, read_spec(spec_file).retarget_target(), progress=False, device="cpu")
    episodes = hand_episodes(root, spec_file)
    datasets = [write_g1_v21(folder / "g1_inspire_v21", episodes), write_g1_v30(folder / "g1_inspire_v30", episodes)]
    return root, spec_file, datasets, episodes
