"""A messy catalog: the data a lab brings, built from ../shared/data plus generated variants, run through every stage.

    inputs = build_messy_inputs(work_dir, shared_data)     # files only (seconds)
    catalog = run_messy_stages(root, inputs)               # every CLI stage, as a user runs them (~3 min)

One input per class of mess the stages must take (issue 14): human clips without task text, with a
2,000-character task and with Unicode/emoji task text (`ingest --task`), with an audio track, one
frame long, with no hand ever in view, with a hand only in the middle third; the shared EgoDex
clips (ground-truth poses) and the webcam video (unlabelled); LeRobot v3.0 and v2.1 datasets whose
vectors are named `state`/`actions` with NaN values, v3.0 and v2.1 datasets with no vectors at all,
a v2.1 dataset whose `info.json` says h264 for an MPEG-4 Part 2 video, and the shared GR00T set.
Every human clip with poses is retargeted to two embodiments: `egocurate_hand22` (22 DoF) and
Inspire (6 DoF, mimic joints; the shared dex-retargeting config and URDF).

The stages run as `python -m app.cli` subprocesses (what a user sees, log noise included); the
curator's decisions between `pair` and `export` (accept proposals, pair the no-task clip by hand)
call the functions the Pairs page calls. Tests may reuse the session fixture `messy_catalog`
(tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curation.action_layout import STATE_WIDTH, rest_hand, state_names
from labeling.media.video import write_h264

REPO = Path(__file__).resolve().parents[1]
FPS = 30.0
SIZE = (640, 360)  # the webcam video's frames are scaled down to this for the generated clips
LONG_TASK = ("Open the second drawer from the top, take out the small red screwdriver and put it on the "
             "workbench next to the blue box; ") * 20  # 2,000 characters
LONG_TASK = LONG_TASK[:2000]
EMOJI_TASK = "Gieße Wasser in die Tasse ☕️ 💧, dann rühre mit dem Löffel um 🥄 — 注意不要洒出来"
LID_TASK = "Place the lid onto the cup on the wooden table."  # EgoDex add_remove_lid/0's llm_description
STAPLER_TASK = "Pick up a black stapler from the metal table and place it in the box lid."  # basic_pick_and_place/0
# Human clips made from the webcam video (frames, or None for generated content) and whether they are labelled.
HUMAN_CLASSES = ("no_task", "long_task", "emoji_task", "middle_third", "no_hand", "one_frame", "audio")
TASK_OF = {"long_task": LONG_TASK, "emoji_task": EMOJI_TASK}  # given with `ingest --task`
LEROBOT_CLASSES = ("v30_renamed_nan", "v21_renamed_nan", "v30_missing", "v21_missing", "v21_mpeg4_as_h264", "gr00t")
# The v3.0 dataset's episodes: its task texts pair them with the clips above (the last has none: paired by hand).
V30_TASKS = (LID_TASK, EMOJI_TASK, STAPLER_TASK, "")
V30_NAN_FRAMES = (5, 6, 7)  # episode 0's frames whose state holds NaN
INSPIRE = ("--hand", "inspire")


@dataclass(frozen=True)
class MessyInputs:
    """The files of a messy catalog, by class."""

    work: Path
    videos: dict[str, Path]  # human class -> its video
    egodex: Path  # the shared EgoDex sample folder (3 clips with task text and ground-truth poses)
    webcam: Path  # the shared webcam video: no task text, left unlabelled
    lerobot: dict[str, Path]  # LEROBOT_CLASSES -> dataset folder
    shared: Path


def _webcam_frames(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    wanted, frames = set(indices), {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames[index] = frame.reformat(width=SIZE[0], height=SIZE[1], format="rgb24").to_ndarray()
            if index >= max(wanted):
                break
    return frames


def _write_video(path: Path, frames: list[np.ndarray], codec: str = "libx264", audio: bool = False) -> Path:
    """`frames` as an mp4 (H.264 by default, or MPEG-4 Part 2), with a 440 Hz AAC track if `audio`."""
    if codec == "libx264" and not audio:
        return write_h264(path, frames, FPS)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(int(FPS)))
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        sound = container.add_stream("aac", rate=44100) if audio else None
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
        if sound is not None:
            samples = np.sin(2 * np.pi * 440 * np.arange(int(44100 * len(frames) / FPS)) / 44100).astype(np.float32)
            for start in range(0, len(samples), 1024):
                chunk = av.AudioFrame.from_ndarray(samples[None, start:start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 44100, start
                container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def _human_videos(work: Path, webcam: Path) -> dict[str, Path]:
    spans = {"no_task": range(0, 45), "long_task": range(100, 140), "emoji_task": range(200, 240),
             "middle_third": range(300, 315), "one_frame": range(400, 401), "audio": range(450, 480)}
    frames = _webcam_frames(webcam, sorted({i for span in spans.values() for i in span}))
    black = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    folder, videos = work / "human", {}
    for name in ("no_task", "long_task", "emoji_task", "one_frame"):
        videos[name] = _write_video(folder / f"{name}.mp4", [frames[i] for i in spans[name]])
    middle = [frames[i] for i in spans["middle_third"]]
    videos["middle_third"] = _write_video(folder / "middle_third.mp4", [black] * 15 + middle + [black] * 15)
    noise = np.random.default_rng(14).integers(0, 255, size=(30, SIZE[1] // 4, SIZE[0] // 4, 3), dtype=np.uint8)
    videos["no_hand"] = _write_video(folder / "no_hand.mp4", [np.kron(f, np.ones((4, 4, 1), np.uint8)) for f in noise])
    videos["audio"] = _write_video(folder / "audio.mp4", [frames[i] for i in spans["audio"]], audio=True)
    return videos


def robot_states(n_frames: int, seed: int) -> np.ndarray:
    """`(T, 62)` smooth robot states in the 62-D hand layout: wrists drifting, joints swinging."""
    t = np.arange(n_frames)[:, None] / FPS
    rng = np.random.default_rng(seed)
    hands = []
    for _ in range(2):
        hand = rest_hand(n_frames)
        hand[:, :3] = 0.05 * np.sin(2 * np.pi * 0.5 * t + rng.uniform(0, np.pi, 3))
        hand[:, 9:] = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0, 22) * t + rng.uniform(0, np.pi, 22))
        hands.append(hand)
    return np.concatenate(hands, axis=1).astype(np.float32)


def _vector_features(keys: tuple[str | None, str | None], dim: int) -> dict:
    feature = {"dtype": "float32", "shape": [dim], "names": list(state_names()) if dim == STATE_WIDTH else None}
    return {key: dict(feature) for key in keys if key}


def _frame_rows(states: np.ndarray, keys: tuple[str | None, str | None], episode: int, first: int, task: int
                ) -> pa.Table:
    n = len(states)
    columns = {key: pa.array(list(states.astype(np.float64)), pa.list_(pa.float32())) for key in keys if key}
    columns |= {"timestamp": pa.array(np.arange(n) / FPS, pa.float32()), "frame_index": np.arange(n),
                "episode_index": np.full(n, episode), "index": first + np.arange(n), "task_index": np.full(n, task)}
    return pa.table(columns)


def _video_feature(codec: str) -> dict:
    return {"dtype": "video", "shape": [SIZE[1], SIZE[0], 3], "names": ["height", "width", "channels"],
            "info": {"video.fps": FPS, "video.codec": codec, "video.pix_fmt": "yuv420p", "has_audio": False}}


def write_v30(root: Path, tasks: tuple[str, ...], keys: tuple[str | None, str | None], frames: list[np.ndarray],
              nan_frames: tuple[int, ...] = ()) -> Path:
    """A LeRobot v3.0 dataset: one episode per task (each `len(frames)` long) in one data file and one video."""
    camera, n = "observation.images.ego", len(frames)
    write_h264(root / "videos" / camera / "chunk-000" / "file-000.mp4", frames * len(tasks), FPS)
    table_tasks = list(dict.fromkeys(tasks))
    tables, episodes = [], []
    for e, task in enumerate(tasks):
        states = robot_states(n, seed=e)
        if e == 0:
            states[list(nan_frames), 3] = np.nan
        tables.append(_frame_rows(states, keys, e, e * n, table_tasks.index(task)))
        episodes.append({"episode_index": e, "tasks": [task], "length": n, "data/chunk_index": 0,
                         "data/file_index": 0, "dataset_from_index": e * n, "dataset_to_index": (e + 1) * n,
                         f"videos/{camera}/chunk_index": 0, f"videos/{camera}/file_index": 0,
                         f"videos/{camera}/from_timestamp": e * n / FPS,
                         f"videos/{camera}/to_timestamp": (e + 1) * n / FPS})
    (root / "data" / "chunk-000").mkdir(parents=True)
    pq.write_table(pa.concat_tables(tables), root / "data" / "chunk-000" / "file-000.parquet")
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(episodes), root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")
    pd.DataFrame({"task_index": range(len(table_tasks))}, index=pd.Index(table_tasks, name="task")).to_parquet(
        root / "meta" / "tasks.parquet")
    info = {"codebase_version": "v3.0", "robot_type": "messy_hand_robot", "total_episodes": len(tasks),
            "total_frames": n * len(tasks), "total_tasks": len(table_tasks), "fps": FPS, "chunks_size": 1000,
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
            "features": {camera: _video_feature("h264"), **_vector_features(keys, STATE_WIDTH)}}
    (root / "meta" / "info.json").write_text(json.dumps(info))
    return root


def write_v21(root: Path, task: str, keys: tuple[str | None, str | None], frames: list[np.ndarray],
              codec: str = "libx264", declared_codec: str = "h264") -> Path:
    """A one-episode LeRobot v2.1 dataset whose video is encoded with `codec` and declared `declared_codec`."""
    camera = "observation.images.ego"
    _write_video(root / "videos" / "chunk-000" / camera / "episode_000000.mp4", frames, codec)
    for folder in ("data/chunk-000", "meta"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    pq.write_table(_frame_rows(robot_states(len(frames), seed=9), keys, 0, 0, 0),
                   root / "data" / "chunk-000" / "episode_000000.parquet")
    (root / "meta" / "episodes.jsonl").write_text(json.dumps({"episode_index": 0, "tasks": [task],
                                                              "length": len(frames)}) + "\n")
    (root / "meta" / "tasks.jsonl").write_text(json.dumps({"task_index": 0, "task": task}) + "\n")
    info = {"codebase_version": "v2.1", "robot_type": "messy_arm", "total_episodes": 1, "fps": FPS,
            "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
            "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
            "features": {camera: _video_feature(declared_codec), **_vector_features(keys, STATE_WIDTH)}}
    (root / "meta" / "info.json").write_text(json.dumps(info))
    return root


def copy_gr00t_v21(shared: Path, root: Path, episodes: tuple[int, ...], renamed: bool) -> Path:
    """The shared GR00T set as v2.1 with `episodes`: vectors renamed `state`/`actions` with NaN rows, or dropped."""
    source = shared / "lerobot" / "gr00t_robot_sim.PickNPlace"
    info = json.loads((source / "meta" / "info.json").read_text())
    info |= {"codebase_version": "v2.1", "total_episodes": len(episodes)}
    features = info["features"]
    for old, new in (("observation.state", "state"), ("action", "actions")):
        feature = features.pop(old)
        if renamed:
            features[new] = feature
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info))
    lines = [line for line in (source / "meta" / "episodes.jsonl").read_text().splitlines()
             if line.strip() and json.loads(line)["episode_index"] in episodes]
    (root / "meta" / "episodes.jsonl").write_text("\n".join(lines) + "\n")
    for name in ("tasks.jsonl", "modality.json"):
        shutil.copy(source / "meta" / name, root / "meta" / name)
    for e in episodes:
        name = f"episode_{e:06d}"
        table = pq.read_table(source / "data" / "chunk-000" / f"{name}.parquet")
        if renamed:
            state = table["observation.state"].to_pylist()
            for row in state[3:6]:
                row[0] = float("nan")
            table = table.set_column(table.column_names.index("observation.state"), "state", pa.array(state))
            table = table.rename_columns(["actions" if c == "action" else c for c in table.column_names])
        else:
            table = table.drop_columns(["observation.state", "action"])
        (root / "data" / "chunk-000").mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / "data" / "chunk-000" / f"{name}.parquet")
        video = Path("videos") / "chunk-000" / "observation.images.ego_view" / f"{name}.mp4"
        (root / video).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / video, root / video)
    return root


def build_messy_inputs(work: Path, shared: Path) -> MessyInputs:
    """Write every generated input under `work` (the shared files are used where they are)."""
    webcam = shared / "videos" / "dexretargeting_human_hand_video.mp4"
    videos = _human_videos(work, webcam)
    robot_frames = [f for f in _webcam_frames(webcam, list(range(500, 530))).values()]
    lerobot = work / "lerobot"
    datasets = {
        "v30_renamed_nan": write_v30(lerobot / "v30_renamed_nan", V30_TASKS, ("state", "actions"), robot_frames,
                                     V30_NAN_FRAMES),
        "v21_renamed_nan": copy_gr00t_v21(shared, lerobot / "v21_renamed_nan", (0, 1), renamed=True),
        "v30_missing": write_v30(lerobot / "v30_missing", ("wipe the table",), (None, None), robot_frames[:20]),
        "v21_missing": copy_gr00t_v21(shared, lerobot / "v21_missing", (2,), renamed=False),
        "v21_mpeg4_as_h264": write_v21(lerobot / "v21_mpeg4_as_h264", "stack the red cups",
                                       ("observation.state", "action"), robot_frames[:24], codec="mpeg4"),
        "gr00t": shared / "lerobot" / "gr00t_robot_sim.PickNPlace",
    }
    return MessyInputs(work=work, videos=videos, egodex=shared / "egodex_sample", webcam=webcam, lerobot=datasets,
                       shared=shared)


# --- Running the stages ----------------------------------------------------------------------------

@dataclass
class MessyCatalog:
    """A data root after every stage ran over the messy inputs, with what each stage printed."""

    root: Path
    inputs: MessyInputs
    outputs: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)  # stage -> its run
    clip_ids: dict[str, str] = field(default_factory=dict)  # human class -> clip id
    exports: dict[str, Path] = field(default_factory=dict)  # lerobot-v2.1 / lerobot-v3 -> folder
    runs: dict[str, Path] = field(default_factory=dict)  # pretrain / midtrain -> run folder
    hand_pair_id: int | None = None  # the pair made by hand (the clip without task text)


def cli(root: Path, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess:
    """`egocurate --root ROOT ARGS`, as a user runs it (this checkout first on the path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("EGOCURATE_VERBOSE", None)
    return subprocess.run([sys.executable, "-m", "app.cli", "--root", str(root), *args], capture_output=True,
                          text=True, timeout=timeout_s, env=env, cwd=REPO)


def _clip_ids_by_path(root: Path) -> dict[str, str]:
    from db.engine import query_engine
    from db.queries.door import fetch_all

    return {path: clip_id for clip_id, path in fetch_all(query_engine(root), "SELECT clip_id, path FROM clips")}


def accept_hand_pairs(root: Path, catalog: MessyCatalog) -> None:
    """What a curator does on the Pairs page: accept the proposals whose robot has the 62-D hand state, and
    pair the clip without task text with the robot episode without one."""
    from curation.manual_pairs import pair_by_hand
    from curation.pair_store import decide_pair
    from db.engine import query_engine
    from db.queries.annotations import pair_rows
    from db.queries.clips import clips_by_id

    engine = query_engine(root)
    proposed = pair_rows(engine, ("proposed",))
    robots = clips_by_id(engine, sorted(set(proposed["robot_clip_id"]))).set_index("clip_id")
    for row in proposed.itertuples():
        names = json.loads(robots.at[row.robot_clip_id, "state_names"] or "[]")
        if len(names) == STATE_WIDTH:
            decide_pair(root, int(row.id), "accepted", "messy-curator", int(row.version))
    silent_robot = next(clip_id for clip_id, task, source in
                        engine.cursor().execute("SELECT clip_id, task, dataset FROM clips WHERE kind = 'robot'")
                        .fetchall() if source.endswith("v30_renamed_nan") and not (task or "").strip())
    record = pair_by_hand(root, catalog.clip_ids["no_task"], silent_robot, "messy-curator", "same motion, no text")
    catalog.hand_pair_id = record.id


def run_messy_stages(root: Path, inputs: MessyInputs) -> MessyCatalog:
    """Every CLI stage over the messy inputs, in a user's order; each stage's run is kept for the checks."""
    catalog = MessyCatalog(root=root, inputs=inputs)
    out = catalog.outputs
    plain = [inputs.videos[name] for name in HUMAN_CLASSES if name not in TASK_OF]
    out["ingest"] = cli(root, "ingest", "--quiet", str(inputs.egodex), str(inputs.webcam), *map(str, plain),
                        *map(str, inputs.lerobot.values()))
    for name, task in TASK_OF.items():
        out[f"ingest_{name}"] = cli(root, "ingest", "--quiet", "--task", task, str(inputs.videos[name]))
    by_path = _clip_ids_by_path(root)
    catalog.clip_ids = {name: by_path[str(inputs.videos[name].resolve())] for name in HUMAN_CLASSES}
    labelled = [arg for name in HUMAN_CLASSES for arg in ("--clips", catalog.clip_ids[name])]
    out["label"] = cli(root, "label", "--quiet", "--max-side", "640", *labelled)
    out["retarget_hand22"] = cli(root, "retarget", "--quiet", "--hand", "egocurate_hand22")
    out["retarget_inspire"] = cli(root, "retarget", "--quiet", *INSPIRE, "--config-dir",
                                  str(inputs.shared / "retargeting_configs"), "--urdf-dir", str(inputs.shared / "urdf"))
    out["score"] = cli(root, "score", "--quiet")
    # the clips are unrelated footage matched only on task text: no alignment gate (cost or speed ratio) applies
    out["pair"] = cli(root, "pair", "--quiet", "--max-cost", "1000", "--min-speed-ratio", "0")
    accept_hand_pairs(root, catalog)
    for fmt, extra in (("lerobot-v2.1", ("--gr00t",)), ("lerobot-v3", ())):
        folder = inputs.work / "exports" / fmt.replace(".", "")
        folder.parent.mkdir(parents=True, exist_ok=True)
        out[f"export_{fmt}"] = cli(root, "export", "--quiet", "--out", str(folder), "--format", fmt,
                                   "--unpaired-human", *extra)
        catalog.exports[fmt] = folder
    data = catalog.exports["lerobot-v3"]
    catalog.runs = {stage: inputs.work / "runs" / stage for stage in ("pretrain", "midtrain")}
    out["pretrain"] = cli(root, "train", "--data", str(data), "--stage", "pretrain", "--config", "smoke",
                          "--out", str(catalog.runs["pretrain"]), "--device", "cpu")
    out["midtrain"] = cli(root, "train", "--data", str(data), "--stage", "midtrain", "--config", "smoke",
                          "--init", str(catalog.runs["pretrain"] / "checkpoints" / "last"),
                          "--out", str(catalog.runs["midtrain"]), "--device", "cpu")
    return catalog
