"""MediaPipe labelling accuracy against ground truth, with the stage's default settings.

    .venv/bin/python bench/bench_pose_accuracy.py [--data ../shared/data] [--stride 1]

1. The dex-retargeting webcam clip (a right hand, 621 frames): right-hand detection rate, and the
   mean per-joint error of our world keypoints against the reference MediaPipe world keypoints
   (`hand_keypoints/dexretargeting_human_joint_right.npz`, another frame) after a per-frame rigid
   (Kabsch, no scale) alignment.
2. The EgoDex fixtures (ARKit ground truth projected with the clip's intrinsics), per clip and hand:
   detection rate over ground-truth hands in view, wrong-side rate, 2D PCK@10/20 px and mean 2D
   error over the 21 joints, and the wrist's camera-frame position error (3D, depth alone, lateral
   alone, and the median ratio of estimated to true depth); then the 2D error per joint group.
   `--handedness` compares the rules of labeling/pose/mediapipe_hands.py on the wrong-side rate.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.engine import QueryEngine  # noqa: E402
from db.queries.clips import get_clip  # noqa: E402
from db.queries.frames import clip_frames  # noqa: E402
from labeling.pose.camera import compute_aligned_error_m
from labeling.pose.label import run_label
from labeling.sources.ingest import ingest

REPO = Path(__file__).resolve().parents[1]
IN_VIEW_FRACTION = 0.5  # a ground-truth hand counts as in view when this share of joints projects inside


def _stack(frame: pd.DataFrame, column: str, dims: int) -> np.ndarray:
    """(N, 21, dims) float array from a nested keypoint column (NaN where null)."""
    out = np.full((len(frame), 21, dims), np.nan, np.float64)
    for i, value in enumerate(frame[column]):
        if value is not None:
            out[i] = np.array([np.asarray(p, np.float64) for p in value])
    return out


def hand_table(engine: QueryEngine, clip_id: str, pose_source: str, hand: str) -> pd.DataFrame:
    rows = clip_frames(engine, clip_id, pose_source)
    return rows[rows["hand"] == hand].set_index("frame_index").sort_index()


JOINT_GROUPS = {"wrist": [0], "thumb": [1, 2, 3, 4], "finger MCPs": [5, 9, 13, 17],
                "finger PIP/DIP": [6, 7, 10, 11, 14, 15, 18, 19], "fingertips": [8, 12, 16, 20]}


def compare_hand(mp: pd.DataFrame, gt: pd.DataFrame, other_gt: pd.DataFrame, width: int, height: int) -> dict:
    """Agreement of one hand's MediaPipe rows with its ground truth on the frames MediaPipe labelled."""
    gt = gt.loc[mp.index]
    other_gt = other_gt.loc[mp.index]
    gt2d, mp2d, other2d = _stack(gt, "kp2d_px", 2), _stack(mp, "kp2d_px", 2), _stack(other_gt, "kp2d_px", 2)
    gt3d, mp3d = _stack(gt, "kp3d_m", 3), _stack(mp, "kp3d_m", 3)
    inside = ((gt2d[..., 0] >= 0) & (gt2d[..., 0] < width) & (gt2d[..., 1] >= 0) & (gt2d[..., 1] < height)
              & (gt3d[..., 2] > 0))
    in_view = gt["present"].to_numpy() & (inside.mean(axis=1) >= IN_VIEW_FRACTION)
    found = mp["present"].to_numpy()
    both = in_view & found
    error_px = np.linalg.norm(mp2d[both] - gt2d[both], axis=-1)  # (n, 21)
    wrong_side = (np.linalg.norm(mp2d[found] - other2d[found], axis=-1).mean(axis=1)
                  < np.linalg.norm(mp2d[found] - gt2d[found], axis=-1).mean(axis=1))
    wrist_m = mp3d[both, 0] - gt3d[both, 0]
    return {"errors_px": error_px, "in_view": int(in_view.sum()), "found": int(both.sum()),
            "detection": both.sum() / max(1, in_view.sum()),
            "wrong_side": float(np.nanmean(wrong_side)) if found.any() else np.nan,
            "pck10": float(np.nanmean(error_px < 10)), "pck20": float(np.nanmean(error_px < 20)),
            "err2d_px": float(np.nanmean(error_px)), "err2d_median_px": float(np.nanmedian(error_px)),
            "wrist_mm": 1000 * float(np.nanmean(np.linalg.norm(wrist_m, axis=1))),
            "wrist_median_mm": 1000 * float(np.nanmedian(np.linalg.norm(wrist_m, axis=1))),
            "wrist_depth_mm": 1000 * float(np.nanmean(np.abs(wrist_m[:, 2]))),
            "wrist_lateral_mm": 1000 * float(np.nanmean(np.linalg.norm(wrist_m[:, :2], axis=1))),
            "depth_ratio": float(np.nanmedian(mp3d[both, 0, 2] / gt3d[both, 0, 2]))}


def bench_dex_video(data: Path, work: Path) -> None:
    root = work / "dex"
    ingest(root, [data / "videos" / "dexretargeting_human_hand_video.mp4"], progress=False)
    report = run_label(root, workers=1, progress=False)
    engine = QueryEngine(root)
    right = hand_table(engine, report.done[0], "mediapipe", "right")
    left = hand_table(engine, report.done[0], "mediapipe", "left")
    reference = np.load(data / "hand_keypoints" / "dexretargeting_human_joint_right.npz")["keypoints"]
    world = _stack(right, "kp3d_world_m", 3)
    errors_mm = 1000 * compute_aligned_error_m(world, reference[right.index.to_numpy()])
    print("dex-retargeting clip, default settings (1 worker):")
    print(f"  frames labelled        {len(right)} at {report.frames_per_s:.1f} frames/s")
    print(f"  right hand found       {right['present'].mean():.1%}  (left hand reported: {left['present'].mean():.1%})")
    print(f"  world keypoints vs reference after rigid alignment: mean {np.nanmean(errors_mm):.2f} mm, "
          f"median {np.nanmedian(errors_mm):.2f} mm, p95 {np.nanpercentile(errors_mm, 95):.2f} mm, "
          f"max {np.nanmax(errors_mm):.2f} mm")
    camera = report.cameras[report.done[0]]
    print(f"  camera: {camera['text']}")


def bench_egodex(data: Path, work: Path, stride: int, handedness: str) -> None:
    root = work / "egodex"
    ingest(root, [data / "egodex_sample"], progress=False)
    started = time.perf_counter()
    report = run_label(root, workers=2, stride=stride, handedness=handedness, progress=False)
    print(f"\nEgoDex fixtures: {len(report.done)} clips, {report.frames} frames labelled in "
          f"{time.perf_counter() - started:.1f} s (stride {stride}, handedness rule {handedness!r}); "
          "intrinsics from the clips")
    engine = QueryEngine(root)
    rows = []
    for clip_id in report.done:
        clip = get_clip(engine, clip_id)
        for hand, other in (("left", "right"), ("right", "left")):
            mp = hand_table(engine, clip_id, "mediapipe", hand)
            result = compare_hand(mp, hand_table(engine, clip_id, "egodex", hand),
                                  hand_table(engine, clip_id, "egodex", other), int(clip["width"]), int(clip["height"]))
            rows.append({"clip": clip["task_slug"][:24], "hand": hand, **result})
    errors_px = np.concatenate([row.pop("errors_px") for row in rows])
    table = pd.DataFrame(rows)
    weights = table["found"]
    overall = {"clip": "ALL (weighted)", "hand": "both", "in_view": table["in_view"].sum(),
               "found": weights.sum(), "detection": weights.sum() / table["in_view"].sum()}
    for column in ("wrong_side", "pck10", "pck20", "err2d_px", "err2d_median_px", "wrist_mm", "wrist_median_mm",
                   "wrist_depth_mm", "wrist_lateral_mm", "depth_ratio"):
        overall[column] = np.average(table[column].fillna(0), weights=weights)
    table = pd.concat([table, pd.DataFrame([overall])], ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    print("(median columns in the ALL row are weighted means of per-hand medians)")
    groups = ", ".join(f"{name} {np.nanmean(errors_px[:, joints]):.1f}" for name, joints in JOINT_GROUPS.items())
    print(f"mean 2D error per joint group, px: {groups}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--stride", type=int, default=1, help="EgoDex part only")
    parser.add_argument("--handedness", default="egocentric", help="EgoDex part only: a pose.HANDEDNESS_RULES key")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_dex_video(args.data, Path(tmp))
        bench_egodex(args.data, Path(tmp), args.stride, args.handedness)


if __name__ == "__main__":
    main()
