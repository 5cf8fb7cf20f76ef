"""Ground-truth `retargets` for the synthetic demo's human clips, straight from the generator.

The retargeting stage is another engineer's; until it lands (and to test pairing and export apart
from its accuracy) these rows hold the joint angles and camera-frame wrist poses the demo clips
were rendered from, under the `egocurate_hand22` embodiment.

    write_demo_retargets(root)      # after build_demo(root, ...)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

from curation.action_layout import HAND22_EMBODIMENT, SIDES, layout_from_retarget_order
from db import paths
from db.engine import query_engine
from db.lake import Lake
from db.store import get_engine
from labeling.kinematics.rotations import matrix_to_rot6d
from labeling.synthetic.plan import DemoConfig, DemoManifest, RobotEpisodeEntry, human_motion, plan_demo


def demo_config(root: Path) -> tuple[DemoConfig, DemoManifest]:
    """The generator settings a demo under `root` was built with (from its manifest)."""
    manifest = DemoManifest.read(root / paths.DEMO_DIR / "demo_manifest.json")
    cfg = DemoConfig(seed=manifest.seed, n_human=len(manifest.human_clips), n_robot=len(manifest.robot_episodes),
                     width=manifest.width, height=manifest.height, fps=manifest.fps)
    return cfg, manifest


def clip_ids_by_file(root: Path) -> dict[str, str]:
    """Demo-relative video path (`human/<task>/<n>.mp4`) -> clip_id of the catalogued human clips."""
    rows = query_engine(root).cursor().execute("SELECT clip_id, path FROM clips WHERE kind = 'human'").fetchall()
    # Copies of the demo root keep pointing at the template's media, so match the demo-relative tail.
    marker = f"/{paths.DEMO_DIR}/"
    return {path.rsplit(marker, 1)[1]: clip_id for clip_id, path in rows if marker in path}


def demo_retarget_table(root: Path) -> pa.Table:
    """One row per clip, frame and hand: the generator's q_rad and camera-frame wrist pose."""
    cfg, _ = demo_config(root)
    ids = clip_ids_by_file(root)
    tables = []
    for clip in plan_demo(cfg)[0]:
        if clip.file not in ids:
            continue
        _, motion = human_motion(cfg, clip)
        wrist_cam = np.linalg.inv(motion.camera_c2w)[:, None] @ motion.wrist_pose  # (T, 2, 4, 4)
        n = len(motion.t_s)
        for h, side in enumerate(SIDES):
            pose9 = np.concatenate([wrist_cam[:, h, :3, 3], matrix_to_rot6d(wrist_cam[:, h, :3, :3])], axis=1)
            # Stored like the real retarget stage stores it: dex-retargeting's (pinocchio) joint order.
            q_stored = np.empty_like(motion.q_rad[:, h])
            q_stored[:, layout_from_retarget_order(side)] = motion.q_rad[:, h]
            tables.append(pa.table({
                "clip_id": [ids[clip.file]] * n, "frame_index": np.arange(n, dtype=np.int32), "hand": [side] * n,
                "embodiment": [HAND22_EMBODIMENT] * n,
                "q_rad": pa.array(q_stored.astype(np.float32).tolist(), pa.list_(pa.float32())),
                "wrist_pose": pa.array(pose9.astype(np.float32).tolist(), pa.list_(pa.float32())),
                "residual": np.zeros(n, np.float32)}))
    return pa.concat_tables(tables)


def write_demo_retargets(root: Path) -> int:
    """Commit the ground-truth retargets of every catalogued demo human clip; returns rows written."""
    table = demo_retarget_table(root)
    with Lake(root).batch(stage="retargets", origin="demo ground truth") as batch:
        batch.write("retargets", table, {"embodiment": HAND22_EMBODIMENT})
    return table.num_rows


SMALL_DEMO = {"n_human": 12, "n_robot": 4, "width": 160, "height": 120}  # 2 takes per task, 1 episode per robot task
_built: dict[str, Path] = {}


def paired_demo_root(base: Path) -> Path:
    """A small demo set with ground-truth retargets, built once per session and copied per caller.

    Each caller (a module- or session-scoped fixture) gets its own copy, so pair decisions made by
    one test module never change what another one sees, whatever order they run in.
    """
    if "template" not in _built:
        from app.demo import build_demo

        template = base / "paired-demo-template"
        report = build_demo(template, seed=0, progress=False, **SMALL_DEMO)
        assert report.ok and not report.failures, report.failures
        write_demo_retargets(template)
        _checkpoint(template)
        _built["template"] = template
    copies = len([k for k in _built if k.startswith("copy")])
    root = base / f"paired-demo-{copies}"
    shutil.copytree(_built["template"], root)
    _built[f"copy{copies}"] = root
    return root


def _checkpoint(root: Path) -> None:
    """Fold SQLite's WAL into catalog.db so a plain file copy is a complete snapshot."""
    with get_engine(root).connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def robot_episodes(root: Path) -> dict[str, RobotEpisodeEntry]:
    """robot clip_id -> its manifest entry (task, replayed take, time-warp amplitude)."""
    _, manifest = demo_config(root)
    rows = query_engine(root).cursor().execute(
        "SELECT clip_id, episode_index FROM clips WHERE kind = 'robot'").fetchall()
    by_episode = {e.episode_index: e for e in manifest.robot_episodes}
    return {clip_id: by_episode[int(episode)] for clip_id, episode in rows}


def source_clip_of_robot(root: Path) -> dict[str, str]:
    """robot clip_id -> the human clip_id its episode replays (the demo's ground truth)."""
    ids = clip_ids_by_file(root)
    return {clip_id: ids[entry.source_clip] for clip_id, entry in robot_episodes(root).items()}


def accept_replayed_pairs(root: Path, actor: str = "curator") -> None:
    """Propose pairs, then accept each robot episode's pair with the human clip it replays."""
    from curation.pair_store import decide_pair, get_pair
    from curation.pairing import PairConfig, run_pairing
    from db.queries.annotations import pair_rows

    run_pairing(root, PairConfig())
    pairs = pair_rows(query_engine(root))
    for robot, human in source_clip_of_robot(root).items():
        pair = get_pair(root, int(pairs[(pairs.robot_clip_id == robot) & (pairs.human_clip_id == human)].iloc[0].id))
        if pair.state != "accepted":
            decide_pair(root, pair.id, "accepted", actor, pair.version)
