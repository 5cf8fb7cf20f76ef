"""The synthetic demo generator: layout, projection onto the rendered hands, noise ground truth,
LeRobot self-consistency and determinism. Tiny sizes keep the whole module to a few seconds."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labeling.media.video import iter_frames_rgb, probe_video
from labeling.synthetic import DemoConfig, DemoManifest, generate_demo
from labeling.synthetic.egodex_writer import ARKIT_FROM_MEDIAPIPE21, HAND_JOINTS, egodex_arrays
from labeling.synthetic.hand_drawing import HUMAN
from labeling.synthetic.lerobot_writer import check_dataset, state_names
from labeling.synthetic.plan import ROBOT_DATASET, confidence_rng, human_motion, plan_demo

SMALL = {"seed": 3, "n_human": 12, "n_robot": 4, "width": 320, "height": 240, "fps": 10.0}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoManifest]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo(out, progress=False, **SMALL)


def _clip_arrays(h5: h5py.File) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    return ({k: v[()] for k, v in h5["transforms"].items()}, {k: v[()] for k, v in h5["confidences"].items()})


def _clean_arrays(cfg: DemoConfig, file: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    clip = next(c for c in plan_demo(cfg)[0] if c.file == file)
    _, motion = human_motion(cfg, clip)
    return egodex_arrays(motion, confidence_rng(cfg, clip))


def test_layout_and_manifest(demo: tuple[Path, DemoManifest]) -> None:
    out, manifest = demo
    assert DemoManifest.read(out / "demo_manifest.json") == manifest
    assert manifest.generator == "egocurate-demo-v1" and manifest.seed == SMALL["seed"]
    assert len(manifest.human_clips) == 12
    assert {c.task for c in manifest.human_clips} == set(manifest.tasks) and len(manifest.tasks) == 6
    for clip in manifest.human_clips:
        assert (out / clip.file).is_file() and (out / clip.hdf5).is_file()
        assert clip.file.startswith(f"human/{clip.task}/") and clip.file.endswith(".mp4")
    noise = json.loads((out / "injected_noise.json").read_text())
    assert noise == [n.to_dict() for n in manifest.noise]
    assert sorted(n["kind"] for n in noise) == ["dropout", "jitter", "swap"]  # 1/4 of 12, one of each
    noisy = {c.file: c.noise for c in manifest.human_clips if c.noise}
    assert noisy == {n["file"]: n["kind"] for n in noise}
    robot_tasks = {e.task for e in manifest.robot_episodes}
    assert len(robot_tasks) == 4 and not robot_tasks & {"wipe_table", "press_button"}
    assert manifest.robot_dataset == ROBOT_DATASET


def test_hdf5_follows_egodex_layout(demo: tuple[Path, DemoManifest]) -> None:
    out, manifest = demo
    clip = next(c for c in manifest.human_clips if c.noise is None)
    with h5py.File(out / clip.hdf5, "r") as h5:
        assert h5.attrs["task"] == clip.task
        assert h5.attrs["llm_description"] == clip.description
        assert h5.attrs["egocurate_generator"] == "egocurate-demo-v1"
        assert {"environment", "object"} <= set(h5.attrs)
        intrinsic = h5["camera/intrinsic"][()]
        assert intrinsic.shape == (3, 3) and intrinsic.dtype == np.float32
        transforms, confidences = _clip_arrays(h5)
    n = probe_video(out / clip.file).n_frames
    assert n == clip.n_frames and 4 * SMALL["fps"] <= n <= 6 * SMALL["fps"] + 1
    assert len(transforms) == 1 + 50 and set(confidences) == set(transforms) - {"camera"}
    for side in ("left", "right"):
        assert f"{side}Hand" in transforms and f"{side}LittleFingerMetacarpal" in transforms
    for name, pose in transforms.items():
        assert pose.shape == (n, 4, 4) and pose.dtype == np.float32, name
        rotation = pose[:, :3, :3].astype(np.float64)
        np.testing.assert_allclose(rotation @ rotation.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (n, 3, 3)),
                                   atol=1e-5)
    for name, conf in confidences.items():
        assert conf.shape == (n,) and ((conf >= 0.9) & (conf <= 1.0)).all(), name
    camera = transforms["camera"]
    assert (camera[:, 1, 3] > 1.1).all()  # head above the table (world y up)
    forward = camera[:, :3, 2]
    assert (forward[:, 1] < -0.5).all()  # z (forward) looks down at the table


def _skin_fraction(frame: npt.NDArray[np.uint8], uv: npt.NDArray[np.float64]) -> tuple[int, int]:
    tones = np.array(HUMAN.fill_rgb, dtype=np.float64)
    hits, seen = 0, 0
    for u, v in uv:
        x, y = int(round(u)), int(round(v))
        if not (0 <= x < frame.shape[1] and 0 <= y < frame.shape[0]):
            continue
        seen += 1
        hits += np.linalg.norm(tones - frame[y, x].astype(np.float64), axis=1).min() < 40
    return hits, seen


def test_stored_keypoints_project_onto_rendered_skin(demo: tuple[Path, DemoManifest]) -> None:
    out, manifest = demo
    hits = seen = shifted = 0
    for clip in [c for c in manifest.human_clips if c.noise is None][:5]:
        with h5py.File(out / clip.hdf5, "r") as h5:
            intrinsic = h5["camera/intrinsic"][()].astype(np.float64)
            cam_to_world = h5["transforms/camera"][()].astype(np.float64)
            world = np.stack([h5[f"transforms/{side}{s}"][()][:, :3, 3] for side in ("left", "right")
                              for s in ARKIT_FROM_MEDIAPIPE21], axis=1).astype(np.float64)
        for index, frame in iter_frames_rgb(out / clip.file, stride=7):
            # the SOURCES.md convention: p_cam = inv(T_cam) @ p_world, u = fx * x / z + cx
            p_cam = np.einsum("ij,kj->ki", np.linalg.inv(cam_to_world[index]),
                              np.concatenate([world[index], np.ones((42, 1))], axis=1))[:, :3]
            uv = p_cam[:, :2] / p_cam[:, 2:] * np.diag(intrinsic)[:2] + intrinsic[:2, 2]
            h, s = _skin_fraction(frame, uv)
            hits, seen = hits + h, seen + s
            shifted += _skin_fraction(frame, uv + [0.0, -0.25 * frame.shape[0]])[0]
    assert seen > 300
    assert hits / seen > 0.9, (hits, seen)
    assert shifted / seen < 0.5  # skin is where the hands are drawn, not everywhere


def test_noise_manifest_matches_stored_poses(demo: tuple[Path, DemoManifest]) -> None:
    out, manifest = demo
    cfg = DemoConfig(**SMALL)
    for entry in manifest.noise:
        clean_t, clean_c = _clean_arrays(cfg, entry.file)
        with h5py.File(out / entry.file.replace(".mp4", ".hdf5"), "r") as h5:
            stored_t, stored_c = _clip_arrays(h5)
        inside = np.zeros(len(clean_t["camera"]), bool)
        inside[entry.frame_start:entry.frame_end] = True
        assert entry.frame_end > entry.frame_start
        for name in clean_t:  # untouched outside the range, everywhere for the camera
            np.testing.assert_array_equal(stored_t[name][~inside], clean_t[name][~inside], err_msg=name)
        if entry.kind == "dropout":
            assert entry.frame_end - entry.frame_start >= 0.5 * cfg.fps
            for name in HAND_JOINTS[entry.hand]:
                assert np.isnan(stored_t[name][inside]).all() and (stored_c[name][inside] == 0).all()
        elif entry.kind == "swap":
            for left, right in zip(HAND_JOINTS["left"], HAND_JOINTS["right"], strict=True):
                np.testing.assert_array_equal(stored_t[right][inside], clean_t[left][inside])
                np.testing.assert_array_equal(stored_c[left][inside], clean_c[right][inside])
        elif entry.kind == "jitter":
            delta = np.stack([stored_t[n][inside, :3, 3] - clean_t[n][inside, :3, 3] for n in HAND_JOINTS[entry.hand]])
            assert 0.6 * entry.strength < delta.std() < 1.4 * entry.strength
            other = "left" if entry.hand == "right" else "right"
            for name in HAND_JOINTS[other]:
                np.testing.assert_array_equal(stored_t[name], clean_t[name])


def test_clean_clips_store_the_clean_motion(demo: tuple[Path, DemoManifest]) -> None:
    out, manifest = demo
    clip = next(c for c in manifest.human_clips if c.noise is None)
    clean_t, clean_c = _clean_arrays(DemoConfig(**SMALL), clip.file)
    with h5py.File(out / clip.hdf5, "r") as h5:
        stored_t, stored_c = _clip_arrays(h5)
    for name in clean_t:
        np.testing.assert_array_equal(stored_t[name], clean_t[name])


def test_lerobot_dataset_is_self_consistent(demo: tuple[Path, DemoManifest]) -> None:
    out, manifest = demo
    root = out / manifest.robot_dataset
    info = json.loads((root / "meta/info.json").read_text())
    episodes = [json.loads(line) for line in (root / "meta/episodes.jsonl").read_text().splitlines()]
    tasks = [json.loads(line) for line in (root / "meta/tasks.jsonl").read_text().splitlines()]
    stats = [json.loads(line) for line in (root / "meta/episodes_stats.jsonl").read_text().splitlines()]
    assert info["codebase_version"] == "v2.1" and info["fps"] == SMALL["fps"]
    assert info["total_episodes"] == len(episodes) == len(stats) == 4 == info["total_videos"]
    assert info["total_tasks"] == len(tasks) == 4 and info["splits"] == {"train": "0:4"}
    assert info["features"]["observation.state"]["names"] == state_names() and len(state_names()) == 62
    video = info["features"]["observation.images.ego_view"]
    assert video["shape"] == [SMALL["height"], SMALL["width"], 3] and video["info"]["video.codec"] == "h264"
    modality = json.loads((root / "meta/modality.json").read_text())
    spans = sorted((g["start"], g["end"]) for g in modality["state"].values())
    assert spans[0][0] == 0 and spans[-1][1] == 62
    assert all(a[1] == b[0] for a, b in zip(spans[:-1], spans[1:], strict=True))
    assert check_dataset(root) == info["total_frames"]
    next_index = 0
    for row, entry in zip(episodes, manifest.robot_episodes, strict=True):
        i = row["episode_index"]
        table = pq.read_table(root / f"data/chunk-000/episode_{i:06d}.parquet")
        for key in ("observation.state", "action"):
            vector = table.schema.field(key).type
            assert pa.types.is_fixed_size_list(vector) and vector.list_size == 62
            assert vector.value_type == pa.float32()
        assert table.num_rows == row["length"] == entry.n_frames
        assert probe_video(root / f"videos/chunk-000/observation.images.ego_view/episode_{i:06d}.mp4").n_frames \
            == row["length"]
        frame = table.column("frame_index").to_numpy()
        np.testing.assert_allclose(table.column("timestamp").to_numpy(), frame / info["fps"], atol=1e-6)
        np.testing.assert_array_equal(table.column("index").to_numpy(), next_index + frame)
        next_index += table.num_rows
        state = np.stack(table.column("observation.state").to_numpy(zero_copy_only=False))
        action = np.stack(table.column("action").to_numpy(zero_copy_only=False))
        np.testing.assert_array_equal(action[:-1], state[1:])
        assert row["tasks"] == [tasks[table.column("task_index")[0].as_py()]["task"]]
        assert stats[i]["stats"]["observation.state"]["count"] == [row["length"]]


def test_robot_episode_replays_its_human_take(demo: tuple[Path, DemoManifest]) -> None:
    out, manifest = demo
    human = {c.file: c for c in manifest.human_clips}
    entry = next(e for e in manifest.robot_episodes if e.source_clip in human and human[e.source_clip].noise is None)
    table = pq.read_table(out / manifest.robot_dataset / f"data/chunk-000/episode_{entry.episode_index:06d}.parquet")
    state = np.stack(table.column("observation.state").to_numpy(zero_copy_only=False))
    with h5py.File(out / human[entry.source_clip].hdf5, "r") as h5:
        wrists = [h5[f"transforms/{side}Hand"][()] for side in ("left", "right")]
    for h, wrist in enumerate(wrists):  # the warp fixes both ends: phi(0) = 0, phi(1) = 1
        for robot_frame, human_frame in ((0, 0), (-1, -1)):
            expected = wrist[human_frame, :3, 3] + np.asarray(entry.offset_m)
            np.testing.assert_allclose(state[robot_frame, 31 * h: 31 * h + 3], expected, atol=1e-5)
    assert abs(entry.warp_amplitude) >= 0.35  # non-linear


def test_generation_is_deterministic_and_replaces_previous(tmp_path: Path) -> None:
    tiny = {"n_human": 3, "n_robot": 1, "width": 64, "height": 48, "fps": 8.0, "progress": False}
    first = generate_demo(tmp_path / "a", seed=11, **tiny)
    second = generate_demo(tmp_path / "b", seed=11, **tiny)
    other = generate_demo(tmp_path / "c", seed=12, **tiny)
    assert first == second and first != other
    for clip in first.human_clips:
        with h5py.File(tmp_path / "a" / clip.hdf5) as a, h5py.File(tmp_path / "b" / clip.hdf5) as b:
            for name in a["transforms"]:
                np.testing.assert_array_equal(a["transforms"][name][()], b["transforms"][name][()])
        frames_a = np.stack([f for _, f in iter_frames_rgb(tmp_path / "a" / clip.file)]).astype(int)
        frames_b = np.stack([f for _, f in iter_frames_rgb(tmp_path / "b" / clip.file)]).astype(int)
        # Rendering is not bit-exact between runs on a loaded machine (a pixel can move, and H.264's
        # predicted frames carry the change on, up to ~3 grey levels on average at 64x48); another
        # seed gives another scene, tens of levels away.
        assert np.abs(frames_a - frames_b).mean() < 4.0
    other_clip = other.human_clips[0].file
    frames_other = np.stack([f for _, f in iter_frames_rgb(tmp_path / "c" / other_clip)]).astype(int)
    frames_first = np.stack([f for _, f in iter_frames_rgb(tmp_path / "a" / first.human_clips[0].file)]).astype(int)
    if frames_other.shape == frames_first.shape:
        assert np.abs(frames_other - frames_first).mean() > 8.0
    episode = "robot/egocurate_demo_bimanual/data/chunk-000/episode_000000.parquet"
    assert pq.read_table(tmp_path / "a" / episode).equals(pq.read_table(tmp_path / "b" / episode))
    smaller = generate_demo(tmp_path / "a", seed=11, **{**tiny, "n_human": 2})
    assert len(smaller.human_clips) == 2
    assert not (tmp_path / "a" / first.human_clips[2].file).exists()
    assert not (tmp_path / "a" / first.human_clips[2].hdf5).exists()


@pytest.mark.parametrize(("field", "value"), [("width", 101), ("height", 10), ("fps", 0.0), ("n_human", -1)])
def test_config_rejects_bad_values(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"DemoConfig.{field}"):
        DemoConfig(**{field: value})


def test_the_egodex_reader_ingests_a_synthetic_clip(demo: tuple[Path, DemoManifest]) -> None:
    egodex = pytest.importorskip("labeling.sources.egodex")
    out, manifest = demo
    clip = manifest.human_clips[0]
    item = egodex.read_egodex(out / clip.file, out / clip.hdf5)
    assert item.clip["source"] == "synthetic" and item.clip["n_frames"] == clip.n_frames
    assert not item.warnings
