"""Build the synthetic demo set: EgoDex-layout human clips, a LeRobot v2.1 robot dataset, a manifest.

    from labeling.synthetic import generate_demo
    manifest = generate_demo(Path("egocurate-data/demo"), seed=0)

    out_dir/
      human/<task>/<i>.mp4, <i>.hdf5      EgoDex layout, poses from the 22-DoF hand model
      robot/egocurate_demo_bimanual/      LeRobot v2.1 + GR00T modality.json
      injected_noise.json                 list of corruptions applied to stored poses
      demo_manifest.json                  every clip, episode, task and noise entry

Deterministic for a seed (videos decode to the same frames; x264 output bytes may differ).
Clips are rendered in up to `workers` processes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from db import paths
from labeling.media.video import write_h264
from labeling.sources import lerobot_layout as layout

from .egodex_writer import HAND_JOINTS, egodex_arrays, write_egodex_hdf5
from .hand_drawing import HUMAN, ROBOT
from .lerobot_writer import EpisodeRecord, check_dataset, write_episode_data, write_episode_video, write_meta
from .noise import apply_noise
from .plan import (
    GENERATOR,
    ROBOT_DATASET,
    ROBOT_TASKS,
    ROBOT_TYPE,
    TASKS,
    DemoConfig,
    DemoManifest,
    HumanClipEntry,
    HumanClipPlan,
    RobotEpisodeEntry,
    RobotEpisodePlan,
    confidence_rng,
    human_motion,
    noise_rng,
    plan_demo,
    robot_motion,
)
from .scene import SceneRenderer


def generate_demo(out_dir: Path, seed: int = 0, n_human: int = 36, n_robot: int = 12, width: int = 480,
                  height: int = 360, fps: float = 30.0, progress: bool = True,
                  workers: int | None = None) -> DemoManifest:
    """Generate the demo set into `out_dir` (files of an earlier demo there are replaced).

    Args:
        out_dir: destination folder, created if needed.
        seed: fixes every random choice.
        n_human: human clips (round-robin over 6 tasks, 4-6 s each).
        n_robot: robot episodes (round-robin over the 4 robot tasks).
        width: video width in pixels (even).
        height: video height in pixels (even).
        fps: frame rate of every video.
        progress: show a tqdm progress bar.
        workers: rendering processes; None picks up to 2 for large sets, 1 for small ones.

    Returns:
        The manifest, also written to `out_dir/demo_manifest.json`.
    """
    cfg = DemoConfig(seed=seed, n_human=n_human, n_robot=n_robot, width=width, height=height, fps=fps)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_previous(out_dir)
    clips, episodes = plan_demo(cfg)
    dataset = out_dir / ROBOT_DATASET
    jobs: list[tuple[Callable[..., Any], tuple]] = [(make_human_clip, (cfg, c, out_dir)) for c in clips]
    jobs += [(make_robot_episode, (cfg, e, dataset)) for e in episodes]
    # OpenCV's own threads split some drawing and resizing work in a load-dependent way that can move
    # a pixel; one thread (inherited by the forked workers) keeps the same seed giving the same video.
    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        results = _run(jobs, _workers(workers, len(jobs)), progress)
    finally:
        cv2.setNumThreads(opencv_threads)
    human_entries = results[: len(clips)]
    records = _robot_records(dataset, episodes, results[len(clips):], fps)
    if episodes:
        write_meta(dataset, records, _robot_tasks(episodes), fps, ROBOT_TYPE, width, height)
        check_dataset(dataset)
    noise = tuple(c.noise for c in clips if c.noise is not None)
    _write_json(out_dir / paths.DEMO_NOISE, [n.to_dict() for n in noise])
    manifest = DemoManifest(
        generator=GENERATOR, seed=seed, fps=fps, width=width, height=height,
        tasks={slug: spec.description for slug, spec in TASKS.items()}, human_clips=tuple(human_entries),
        noise=noise, robot_dataset=ROBOT_DATASET if episodes else "",
        robot_episodes=tuple(_episode_entry(e) for e in episodes), files={"injected_noise": paths.DEMO_NOISE})
    manifest.write(out_dir / paths.DEMO_MANIFEST)
    return manifest


def make_human_clip(cfg: DemoConfig, clip: HumanClipPlan, out_dir: Path) -> HumanClipEntry:
    """Render, encode and write one human clip (video + EgoDex HDF5, with its noise if any)."""
    scene, motion = human_motion(cfg, clip)
    renderer = _renderer(cfg.width, cfg.height, cfg.hfov_deg, cfg.seed)
    write_h264(out_dir / clip.file, renderer.frames(motion, scene.props, HUMAN, scene.sleeve_rgb), cfg.fps,
               threads=1)  # one thread: the same seed gives the same bytes on any machine
    transforms, confidences = egodex_arrays(motion, confidence_rng(cfg, clip))
    if clip.noise is not None:
        apply_noise(transforms, confidences, clip.noise, HAND_JOINTS, noise_rng(cfg, clip))
    attrs = {"task": clip.slug, "llm_description": scene.description, "environment": scene.environment,
             "object": scene.object_desc, "egocurate_generator": GENERATOR}
    write_egodex_hdf5(out_dir / clip.hdf5, attrs, cfg.intrinsic(), transforms, confidences)
    return HumanClipEntry(file=clip.file, hdf5=clip.hdf5, task=clip.slug, description=scene.description,
                          n_frames=clip.n_frames, noise=clip.noise.kind if clip.noise else None)


def make_robot_episode(cfg: DemoConfig, episode: RobotEpisodePlan, dataset: Path) -> tuple[Any, dict]:
    """Render and encode one robot episode's video; returns its 62-D state and image stats."""
    scene, motion = robot_motion(cfg, episode)
    renderer = _renderer(cfg.width, cfg.height, cfg.hfov_deg, cfg.seed)
    frames = renderer.frames(motion, scene.props, ROBOT, scene.sleeve_rgb)
    stats = write_episode_video(dataset, episode.index, frames, cfg.fps)
    return motion.state_62(), stats


@lru_cache(maxsize=4)
def _renderer(width: int, height: int, hfov_deg: float, seed: int) -> SceneRenderer:
    """One renderer (and table texture) per process and size."""
    cfg = DemoConfig(width=width, height=height, hfov_deg=hfov_deg, seed=seed)
    return SceneRenderer(width, height, cfg.intrinsic(), seed)


def _robot_tasks(episodes: list[RobotEpisodePlan]) -> list[str]:
    slugs = [slug for slug in ROBOT_TASKS if any(e.slug == slug for e in episodes)]
    return [TASKS[slug].description for slug in slugs]


def _robot_records(dataset: Path, episodes: list[RobotEpisodePlan], results: list[tuple[Any, dict]],
                   fps: float) -> list[EpisodeRecord]:
    """Write each episode's parquet (in order, for the global frame index) and collect its stats."""
    tasks = _robot_tasks(episodes)
    records, first = [], 0
    for episode, (state, image_stats) in zip(episodes, results, strict=True):
        task = TASKS[episode.slug].description
        stats = write_episode_data(dataset, episode.index, first, tasks.index(task), state, fps)
        stats[layout.VIDEO_KEY] = image_stats
        records.append(EpisodeRecord(episode.index, tasks.index(task), task, len(state), stats))
        first += len(state)
    return records


def _episode_entry(episode: RobotEpisodePlan) -> RobotEpisodeEntry:
    return RobotEpisodeEntry(episode_index=episode.index, task=episode.slug,
                             description=TASKS[episode.slug].description, source_clip=episode.source_clip,
                             n_frames=episode.n_frames,
                             warp_amplitude=episode.warp_amplitude, offset_m=episode.offset_m)


def _run(jobs: list[tuple[Callable[..., Any], tuple]], workers: int, progress: bool) -> list[Any]:
    """Run jobs in order, inline or in a process pool, with one progress bar.

    The pool forks on Linux (no re-import of `__main__`, which spawn needs and cannot do from a
    notebook or stdin); if the pool breaks, the unfinished jobs run inline.
    """
    bar = tqdm(total=len(jobs), desc="egocurate demo", unit="clip", disable=not progress)
    results: list[Any] = []
    try:
        if workers > 1:
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            try:
                with ProcessPoolExecutor(max_workers=workers, mp_context=get_context(method)) as pool:
                    futures = [pool.submit(fn, *args) for fn, args in jobs]
                    for future in futures:
                        results.append(_tick(bar, future.result()))
            except BrokenProcessPool:
                pass
        for fn, args in jobs[len(results):]:
            results.append(_tick(bar, fn(*args)))
        return results
    finally:
        bar.close()


def _tick(bar: tqdm, result: Any) -> Any:
    bar.update(1)
    return result


def _workers(requested: int | None, n_jobs: int) -> int:
    if requested is not None:
        return max(1, requested)
    return 1 if n_jobs < 16 else max(1, min(2, os.cpu_count() or 1))


def _remove_previous(out_dir: Path) -> None:
    """Delete the files an earlier demo manifest in `out_dir` lists (and only those)."""
    path = out_dir / paths.DEMO_MANIFEST
    if not path.is_file():
        return
    old = json.loads(path.read_text(encoding="utf-8"))
    for clip in old.get("human_clips", []):
        for key in ("file", "hdf5"):
            (out_dir / clip[key]).unlink(missing_ok=True)
    dataset = out_dir / (old.get("robot_dataset") or "__none__")
    if (dataset / layout.INFO_PATH).is_file():
        for sub in (layout.DATA_DIR, layout.VIDEOS_DIR, layout.META_DIR):
            for item in sorted((dataset / sub).rglob("*"), reverse=True):  # files before their folders
                if item.is_dir():
                    item.rmdir()
                else:
                    item.unlink()


def _write_json(path: Path, value: Iterable | dict) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
