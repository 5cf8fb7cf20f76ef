"""What the demo generator makes, decided up front from the seed: clips, episodes, noise, manifest.

Every random choice comes from `np.random.default_rng([seed, purpose, ...])`, so a clip's content
depends only on the seed and the clip's identity (task, take), not on the order or the process
that renders it. Robot episodes replay the motion of a human take of the same task on a
non-linear clock: robot frame k (of n) shows the human motion at time
`phi(k / (n - 1)) * (n_human - 1) / fps`, with `phi(s) = s + a * sin(2 pi s) / (2 pi)`, `|a| < 1`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from db.paths import DEMO_HUMAN_DIR, DEMO_ROBOT_DIR

from .geometry import intrinsic_matrix
from .motions import CameraPath, ClipMotion, evaluate_scene
from .noise import NOISE_KINDS, NoiseSpec, plan_noise
from .tasks import TASKS, TaskScene, build_scene

GENERATOR = "egocurate-demo-v1"
ROBOT_DATASET = f"{DEMO_ROBOT_DIR}/egocurate_demo_bimanual"
ROBOT_TYPE = "egocurate_hand22_bimanual"
TASK_ORDER = tuple(TASKS)
ROBOT_TASKS = tuple(slug for slug in TASK_ORDER if TASKS[slug].robot)
_SCENE, _NOISE, _WARP, _CAMERA, _WOBBLE, _CONFIDENCE = range(1, 7)  # rng purposes


@dataclass(frozen=True)
class DemoConfig:
    """Size and seed of a demo set."""

    seed: int = 0  # everything follows from it
    n_human: int = 36  # human clips, spread round-robin over the 6 tasks
    n_robot: int = 12  # robot episodes, round-robin over the robot tasks
    width: int = 480  # video width, pixels (even)
    height: int = 360  # video height, pixels (even)
    fps: float = 30.0  # frames per second of every clip and episode
    noise_fraction: float = 0.25  # share of human clips whose stored poses are corrupted
    hfov_deg: float = 75.0  # horizontal field of view of the head camera, degrees

    def __post_init__(self) -> None:
        """Validate fields; errors name the field."""
        for name in ("n_human", "n_robot"):
            if getattr(self, name) < 0:
                raise ValueError(f"DemoConfig.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value < 32 or value % 2:
                raise ValueError(f"DemoConfig.{name} must be an even number >= 32 (H.264), got {value}")
        if not 1.0 <= self.fps <= 240.0:
            raise ValueError(f"DemoConfig.fps must be in [1, 240], got {self.fps}")
        if not 0.0 <= self.noise_fraction <= 1.0:
            raise ValueError(f"DemoConfig.noise_fraction must be in [0, 1], got {self.noise_fraction}")
        if not 20.0 <= self.hfov_deg <= 140.0:
            raise ValueError(f"DemoConfig.hfov_deg must be in [20, 140], got {self.hfov_deg}")

    def intrinsic(self) -> npt.NDArray[np.float64]:
        """`(3, 3)` pinhole intrinsics of the head camera."""
        return intrinsic_matrix(self.width, self.height, self.hfov_deg)

    def rng(self, purpose: int, *key: int) -> np.random.Generator:
        """An independent generator for one purpose and item."""
        return np.random.default_rng([self.seed, purpose, *key])


@dataclass(frozen=True)
class HumanClipPlan:
    """One human clip to write."""

    index: int  # position in the demo
    slug: str  # task
    take: int  # clip number within the task (the file stem)
    n_frames: int
    noise: NoiseSpec | None

    @property
    def file(self) -> str:
        """Video path relative to the demo folder."""
        return f"{DEMO_HUMAN_DIR}/{self.slug}/{self.take}.mp4"

    @property
    def hdf5(self) -> str:
        """Pose file path relative to the demo folder."""
        return f"{DEMO_HUMAN_DIR}/{self.slug}/{self.take}.hdf5"


@dataclass(frozen=True)
class RobotEpisodePlan:
    """One robot episode: a human take of the same task, time-warped and shifted."""

    index: int  # episode_index
    slug: str
    take: int  # the human take it replays
    n_frames: int
    warp_amplitude: float  # a in phi(s) = s + a sin(2 pi s) / (2 pi)
    offset_m: tuple[float, float, float]  # shift of hands and props, world

    @property
    def source_clip(self) -> str:
        """The human clip whose motion this episode replays."""
        return f"{DEMO_HUMAN_DIR}/{self.slug}/{self.take}.mp4"


def plan_demo(cfg: DemoConfig) -> tuple[list[HumanClipPlan], list[RobotEpisodePlan]]:
    """Decide every clip and episode (cheap: no rendering)."""
    noisy = cfg.rng(_NOISE).permutation(cfg.n_human)[: int(round(cfg.n_human * cfg.noise_fraction))]
    kinds = {int(j): NOISE_KINDS[k % len(NOISE_KINDS)] for k, j in enumerate(sorted(noisy))}
    clips = []
    for j in range(cfg.n_human):
        slug, take = TASK_ORDER[j % len(TASK_ORDER)], j // len(TASK_ORDER)
        n_frames = _frames(cfg, human_scene(cfg, slug, take).duration_s)
        noise = None
        if j in kinds:
            noise = plan_noise(cfg.rng(_NOISE, j), f"{DEMO_HUMAN_DIR}/{slug}/{take}.mp4", kinds[j], n_frames, cfg.fps)
        clips.append(HumanClipPlan(j, slug, take, n_frames, noise))
    episodes = []
    for e in range(cfg.n_robot):
        slug, take = ROBOT_TASKS[e % len(ROBOT_TASKS)], (e // len(ROBOT_TASKS))
        rng = cfg.rng(_WARP, e)
        human_frames = _frames(cfg, human_scene(cfg, slug, take).duration_s)
        n_frames = max(8, int(round(human_frames * rng.uniform(0.85, 1.2))))
        amplitude = float(rng.uniform(0.35, 0.6) * rng.choice([-1.0, 1.0]))
        dx, dz = rng.uniform(-0.02, 0.02, size=2)
        episodes.append(RobotEpisodePlan(e, slug, take, n_frames, round(amplitude, 4),
                                         (round(float(dx), 4), 0.0, round(float(dz), 4))))
    return clips, episodes


def human_scene(cfg: DemoConfig, slug: str, take: int) -> TaskScene:
    """The scene of a human take (also replayed by robot episodes)."""
    return build_scene(slug, cfg.rng(_SCENE, TASK_ORDER.index(slug), take))


def human_motion(cfg: DemoConfig, clip: HumanClipPlan) -> tuple[TaskScene, ClipMotion]:
    """Scene and clean motion of a human clip, one sample per video frame."""
    scene = human_scene(cfg, clip.slug, clip.take)
    t_s = np.arange(clip.n_frames) / cfg.fps
    return scene, evaluate_scene(scene, t_s, camera_path(cfg, 0, clip.index), _wobble(cfg, clip.slug, clip.take))


def robot_motion(cfg: DemoConfig, episode: RobotEpisodePlan) -> tuple[TaskScene, ClipMotion]:
    """Scene and motion of a robot episode: the human take on a warped clock, shifted."""
    scene = human_scene(cfg, episode.slug, episode.take)
    human_frames = _frames(cfg, scene.duration_s)
    t_s = warp_times(episode.n_frames, episode.warp_amplitude) * (human_frames - 1) / cfg.fps
    camera = camera_path(cfg, 1, episode.index)
    motion = evaluate_scene(scene, t_s, camera, _wobble(cfg, episode.slug, episode.take), episode.offset_m)
    return scene, motion


def warp_times(n_frames: int, amplitude: float) -> npt.NDArray[np.float64]:
    """`(n_frames,)` monotone warp of [0, 1] onto itself: phi(s) = s + a sin(2 pi s) / (2 pi)."""
    s = np.linspace(0.0, 1.0, n_frames)
    return s + amplitude * np.sin(2 * np.pi * s) / (2 * np.pi)


def camera_path(cfg: DemoConfig, kind: int, index: int) -> CameraPath:
    """Head camera of a human clip (kind 0) or robot episode (kind 1): same rig, own sway."""
    return CameraPath(phases_rad=tuple(float(p) for p in cfg.rng(_CAMERA, kind, index).uniform(0, 2 * np.pi, 6)))


def confidence_rng(cfg: DemoConfig, clip: HumanClipPlan) -> np.random.Generator:
    """Generator for a clip's tracking confidences."""
    return cfg.rng(_CONFIDENCE, clip.index)


def noise_rng(cfg: DemoConfig, clip: HumanClipPlan) -> np.random.Generator:
    """Generator for a clip's injected jitter values."""
    return cfg.rng(_NOISE, clip.index, 1)


def _wobble(cfg: DemoConfig, slug: str, take: int) -> tuple[int, ...]:
    return (cfg.seed, _WOBBLE, TASK_ORDER.index(slug), take)


def _frames(cfg: DemoConfig, duration_s: float) -> int:
    return int(round(duration_s * cfg.fps))


@dataclass(frozen=True)
class HumanClipEntry:
    """A written human clip, as listed in the manifest."""

    file: str  # video, relative to the demo folder
    hdf5: str  # EgoDex pose file, relative to the demo folder
    task: str  # task slug
    description: str  # task sentence
    n_frames: int
    noise: str | None  # injected noise kind, None for a clean clip


@dataclass(frozen=True)
class RobotEpisodeEntry:
    """A written robot episode, as listed in the manifest."""

    episode_index: int
    task: str  # task slug
    description: str  # task sentence (tasks.jsonl)
    source_clip: str  # the human clip whose motion it replays
    n_frames: int
    warp_amplitude: float  # see the module docstring
    offset_m: tuple[float, float, float]


@dataclass(frozen=True)
class DemoManifest:
    """Everything `generate_demo` wrote, with the ground truth for later evaluation."""

    generator: str
    seed: int
    fps: float
    width: int
    height: int
    tasks: dict[str, str]  # slug → sentence
    human_clips: tuple[HumanClipEntry, ...]
    noise: tuple[NoiseSpec, ...]  # also in injected_noise.json
    robot_dataset: str  # LeRobot dataset folder, relative to the demo folder
    robot_episodes: tuple[RobotEpisodeEntry, ...]
    files: dict[str, str] = field(default_factory=dict)  # other outputs: name → relative path

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able dict."""
        return asdict(self)

    def write(self, path: Path) -> Path:
        """Write as JSON."""
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> DemoManifest:
        """Read a manifest written by `write`."""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        episodes = [RobotEpisodeEntry(**{**e, "offset_m": tuple(e["offset_m"])}) for e in raw["robot_episodes"]]
        return cls(**{**raw, "human_clips": tuple(HumanClipEntry(**c) for c in raw["human_clips"]),
                      "noise": tuple(NoiseSpec(**n) for n in raw["noise"]), "robot_episodes": tuple(episodes)})
