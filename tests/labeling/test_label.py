"""The labelling stage on real clips: the dex-retargeting hand, EgoDex, noise, broken videos."""

from __future__ import annotations

import numpy as np
import pytest

from db.engine import QueryEngine
from db.models import JobError
from db.queries.frames import clip_frames
from db.store import session_scope
from labeling.pose.camera import CameraIntrinsics, compute_aligned_error_m
from labeling.pose.label import clip_camera, run_label
from labeling.pose.label_jobs import job_status
from labeling.pose.label_worker import ClipTask, LabelConfig, label_clip
from labeling.sources.ingest import ingest
from tests.conftest import make_video
from tests.factories import write_lerobot_v3

DEX_VIDEO = "videos/dexretargeting_human_hand_video.mp4"
DEX_REFERENCE = "hand_keypoints/dexretargeting_human_joint_right.npz"


def _stack(values) -> np.ndarray:
    return np.array([np.array([np.asarray(p) for p in v], np.float64) for v in values])


def _dex_check(shared_data, root, stride: int) -> None:
    """The Done-when figures: right hand in >= 95% of frames, world keypoints within 5 mm."""
    ingest(root, [shared_data / DEX_VIDEO], progress=False)
    report = run_label(root, stride=stride, workers=1, progress=False)
    assert len(report.done) == 1 and not report.failures
    frames = clip_frames(QueryEngine(root), report.done[0], "mediapipe")
    right, left = frames[frames["hand"] == "right"], frames[frames["hand"] == "left"]
    assert right["frame_index"].tolist() == list(range(0, 621, stride))
    assert right["present"].mean() >= 0.95
    assert left["present"].mean() <= 0.05
    reference = np.load(shared_data / DEX_REFERENCE)["keypoints"][right["frame_index"].to_numpy()]
    found = right["present"].to_numpy()
    errors_m = compute_aligned_error_m(_stack(right["kp3d_world_m"][found]), reference[found])
    assert np.mean(errors_m) < 0.005
    kp3d = _stack(right["kp3d_m"][found])
    assert (kp3d[..., 2] > 0.05).all(), "hands sit in front of the camera"
    camera = clip_camera(root, report.done[0])
    assert camera["source"] == "assumed" and camera["hfov_deg"] == 90.0
    assert report.cameras[report.done[0]] == camera


def test_dex_clip_with_a_stride(shared_data, root):
    _dex_check(shared_data, root, stride=10)


@pytest.mark.slow
def test_dex_clip_every_frame_with_default_settings(shared_data, root):
    _dex_check(shared_data, root, stride=1)


def test_egodex_clip_holds_ground_truth_and_mediapipe_side_by_side(shared_data, root):
    ingest(root, [shared_data / "egodex_sample" / "add_remove_lid"], progress=False)
    report = run_label(root, stride=4, workers=1, progress=False)
    clip_id = report.done[0]
    assert clip_camera(root, clip_id)["source"] == "clip"
    frames = clip_frames(QueryEngine(root), clip_id)
    counts = frames.groupby("pose_source").size().to_dict()
    assert counts == {"egodex": 2 * 94, "mediapipe": 2 * 24}
    assert frames.loc[frames["pose_source"] == "egodex", "kp3d_world_m"].isna().all()
    both = frames.pivot_table(index=["frame_index", "hand"], columns="pose_source", values="present",
                              aggfunc="first").dropna()
    agree = both[both["egodex"] & both["mediapipe"]]
    assert len(agree) >= 0.7 * 2 * 24, "most ground-truth hands are found (38 of 48 at this stride)"
    truth = frames[frames["pose_source"] == "egodex"].set_index(["frame_index", "hand"]).loc[agree.index]
    estimate = frames[frames["pose_source"] == "mediapipe"].set_index(["frame_index", "hand"]).loc[agree.index]
    error_px = np.linalg.norm(_stack(estimate["kp2d_px"]) - _stack(truth["kp2d_px"]), axis=-1)
    assert np.median(error_px) < 60, "same hand, same side (a swapped hand is hundreds of pixels off)"


def test_a_clip_without_hands_gets_absent_rows(root, tmp_path):
    ingest(root, [make_video(tmp_path / "noise.mp4", n_frames=12, width=160, height=120)], progress=False)
    report = run_label(root, workers=1, progress=False)
    assert len(report.done) == 1 and report.frames == 12 and report.ok
    frames = clip_frames(QueryEngine(root), report.done[0], "mediapipe")
    assert len(frames) == 24 and not frames["present"].any()
    assert np.isnan(_stack(frames["kp2d_px"])).all()


def test_broken_videos_fail_with_reasons_and_the_rest_is_done(root, tmp_path):
    good = make_video(tmp_path / "in" / "good.mp4", seed=1)
    cut = make_video(tmp_path / "in" / "cut.mp4", n_frames=30, seed=2)
    gone = make_video(tmp_path / "in" / "gone.mp4", seed=3)
    ingest(root, [tmp_path / "in"], progress=False)
    cut.write_bytes(b"\x00" * 64 + cut.read_bytes()[64:][: 400])  # corrupted after cataloguing
    gone.unlink()
    report = run_label(root, workers=2, progress=False)
    assert len(report.done) == 1 and report.ok
    reasons = {f.item.rsplit("/", 1)[-1]: f.reason for f in report.failures}
    assert set(reasons) == {"cut.mp4", "gone.mp4"}
    assert "decoding failed" in reasons["cut.mp4"] or "no frames" in reasons["cut.mp4"]
    assert "FileNotFoundError" in reasons["gone.mp4"]
    status = job_status(root, report.job_id)
    assert (status.state, status.n_done, status.n_failed, status.n_total) == ("done", 1, 2, 3)
    assert {f.reason for f in status.failures} == set(reasons.values())
    with session_scope(root) as session:
        assert session.query(JobError).filter_by(job_id=report.job_id).count() == 2
    assert str(good) not in reasons


def test_a_rerun_skips_labelled_clips_and_adds_no_rows(root, tmp_path):
    ingest(root, [make_video(tmp_path / f"c{i}.mp4", seed=i) for i in range(2)], progress=False)
    first = run_label(root, workers=1, progress=False, commit_every_clips=1)
    second = run_label(root, workers=1, progress=False)
    assert len(first.done) == 2 and second.done == [] and sorted(second.skipped) == sorted(first.done)
    assert QueryEngine(root).cursor().execute("SELECT count(*) FROM frames").fetchone()[0] == 2 * 2 * 10
    status = job_status(root, second.job_id)
    assert (status.state, status.n_total, status.eta_s) == ("done", 0, 0.0)


def test_refused_clips_and_options(root, tmp_path):
    ingest(root, [write_lerobot_v3(tmp_path / "robot", lengths=(6,))], progress=False)
    robot_id = QueryEngine(root).cursor().execute("SELECT clip_id FROM clips").fetchone()[0]
    report = run_label(root, [robot_id, "no-such-clip"], workers=1, progress=False)
    reasons = {f.clip_id: f.reason for f in report.failures}
    assert "only human clips" in reasons[robot_id] and "catalog" in reasons["no-such-clip"]
    assert not report.ok
    for bad, field in (({"stride": 0}, "stride"), ({"model_complexity": 2}, "model_complexity"),
                       ({"handedness": "guess"}, "handedness"), ({"assumed_hfov_deg": 0.0}, "assumed_hfov_deg")):
        with pytest.raises(ValueError, match=field):
            LabelConfig(**bad)
    with pytest.raises(ValueError, match="executor"):
        run_label(root, executor="spark", progress=False)
    with pytest.raises(ValueError, match="workers"):
        run_label(root, workers=0, progress=False)


def test_frames_scaled_for_detection_give_keypoints_in_original_pixels(shared_data):
    video = shared_data / DEX_VIDEO
    camera = CameraIntrinsics.from_hfov(1280, 720)

    def right_hand_px(max_side_px: int) -> np.ndarray:
        task = ClipTask("dex", "video", str(video), 30.0, 621, camera, LabelConfig(stride=60, max_side_px=max_side_px))
        result = label_clip(task)
        right = result.table.to_pandas().query("hand == 'right'")
        assert right["present"].all() and result.n_frames == 11
        return _stack(right["kp2d_px"])

    full, scaled = right_hand_px(1920), right_hand_px(640)
    assert np.median(np.linalg.norm(full - scaled, axis=-1)) < 8.0
    assert full[..., 0].max() > 640, "original pixels, not the 640-wide detection image's"
