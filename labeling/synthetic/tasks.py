"""The six tabletop tasks of the synthetic demo: props on the table and hand keyframes.

Each task builder draws its per-clip variation (prop positions and colours, motion amplitude,
speed, start delay) from the `rng` it is given, and returns a `TaskScene`: props, one keyframe
track per hand (times in seconds) and the grasps that carry props along with a hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .grips import grip_point_m, hand_rotation

TABLE_Y_M = 0.76  # table top height in the world (y up)
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Prop:
    """A rigid object on the table."""

    name: str
    shape: str  # box | cylinder | cup | bowl | drawer
    size_m: Vec3  # box/drawer: x width, y height, z depth; cylinder/cup/bowl: radius, height, 0
    color_rgb: tuple[int, int, int]
    position_m: Vec3  # bottom centre, world
    yaw_rad: float = 0.0  # about world up


@dataclass(frozen=True)
class HandTrack:
    """Keyframes of one hand; values are held before the first and after the last key."""

    side: str  # left | right
    shape: str  # grip shape closed by `grip` (see grips.GRIP_SHAPES)
    t_s: tuple[float, ...]  # key times, seconds, increasing
    pos_m: tuple[Vec3, ...]  # wrist position, world
    ypr_rad: tuple[Vec3, ...]  # yaw, pitch, roll (see grips.hand_rotation)
    grip: tuple[float, ...]  # closure in [0, 1]
    idle: bool = False  # add a slow sway, for a hand that only rests
    circle: tuple[float, float, float, float] | None = None  # t_start_s, t_end_s, radius_m, turns


@dataclass(frozen=True)
class Attachment:
    """A prop moves rigidly with a hand between grasp and release."""

    prop: str
    side: str
    t_grasp_s: float
    t_release_s: float


@dataclass(frozen=True)
class TaskScene:
    """Everything needed to evaluate and draw one clip's motion."""

    slug: str
    description: str  # natural task sentence (EgoDex llm_description)
    environment: str  # EgoDex-style environment attribute
    object_desc: str  # EgoDex-style object attribute
    duration_s: float
    props: tuple[Prop, ...]
    tracks: tuple[HandTrack, HandTrack]  # left, right
    attachments: tuple[Attachment, ...]
    sleeve_rgb: tuple[int, int, int]


REST_M = {"left": (-0.16, TABLE_Y_M + 0.045, -0.19), "right": (0.16, TABLE_Y_M + 0.045, -0.19)}
REST_YPR = {"left": (-0.35, 0.25, 0.0), "right": (0.35, 0.25, 0.0)}


class _Keys:
    """Collects keyframes of one hand at phases in [0, 1] of the clip's active window."""

    def __init__(self, side: str, shape: str) -> None:
        self.side, self.shape = side, shape
        self.phases: list[float] = [0.0]
        self.pos: list[Vec3] = [REST_M[side]]
        self.ypr: list[Vec3] = [REST_YPR[side]]
        self.grip: list[float] = [0.0]

    def add(self, phase: float, pos: npt.ArrayLike, ypr: Vec3 | None = None, grip: float = 0.0) -> _Keys:
        self.phases.append(phase)
        self.pos.append(tuple(float(v) for v in np.asarray(pos)))  # type: ignore[arg-type]
        self.ypr.append(ypr if ypr is not None else self.ypr[-1])
        self.grip.append(grip)
        return self

    def rest(self, phase: float) -> _Keys:
        return self.add(phase, REST_M[self.side], REST_YPR[self.side], 0.0)

    def track(self, var: _Variation, idle: bool = False,
              circle: tuple[float, float, float, float] | None = None) -> HandTrack:
        if self.phases[-1] < 1.0:
            self.rest(1.0)
        times = tuple(var.time_s(p) for p in self.phases)
        if circle is not None:
            circle = (var.time_s(circle[0]), var.time_s(circle[1]), circle[2], circle[3])
        return HandTrack(side=self.side, shape=self.shape, t_s=times, pos_m=tuple(self.pos),
                         ypr_rad=tuple(self.ypr), grip=tuple(self.grip), idle=idle, circle=circle)


class _Variation:
    """Per-clip randomness: timing, amplitude, prop placement and colour."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.duration_s = float(rng.uniform(4.0, 6.0))
        self.delay_s = float(rng.uniform(0.0, 0.4))
        self.active_s = self.duration_s - self.delay_s - float(rng.uniform(0.1, 0.4))
        self.amp = float(rng.uniform(0.85, 1.15))

    def time_s(self, phase: float) -> float:
        return self.delay_s + phase * self.active_s

    def at(self, x: float, z: float, y: float = 0.0, spread_m: float = 0.03) -> npt.NDArray[np.float64]:
        dx, dz = self.rng.uniform(-spread_m, spread_m, size=2)
        return np.array([x + dx, TABLE_Y_M + y, z + dz])

    def color(self, rgb: tuple[int, int, int]) -> tuple[int, int, int]:
        jitter = self.rng.integers(-22, 23, size=3)
        return tuple(int(c) for c in np.clip(np.asarray(rgb) + jitter, 0, 255))  # type: ignore[return-value]


def wrist_for(side: str, shape: str, point_m: npt.ArrayLike, ypr: Vec3) -> npt.NDArray[np.float64]:
    """Wrist position that puts the grip point of `shape` at `point_m` with orientation `ypr`."""
    rotation = hand_rotation(*ypr)
    return np.asarray(point_m, dtype=np.float64) - rotation @ grip_point_m(side, shape)


def _prop(name: str, shape: str, size: Vec3, rgb: tuple[int, int, int], at: npt.ArrayLike) -> Prop:
    return Prop(name=name, shape=shape, size_m=size, color_rgb=rgb,
                position_m=tuple(float(v) for v in at))  # type: ignore[arg-type]


def _pick_and_place(keys: _Keys, var: _Variation, grasp_m: npt.ArrayLike, target_m: npt.ArrayLike,
                    ypr: Vec3, lift_m: float) -> tuple[float, float]:
    """Reach, close, lift, carry, set down, open, retreat. Returns (grasp, release) phases."""
    grasp = wrist_for(keys.side, keys.shape, grasp_m, ypr)
    place = grasp + (np.asarray(target_m) - np.asarray(grasp_m))
    up = np.array([0.0, lift_m * var.amp, 0.0])
    keys.add(0.16, grasp + [0.0, 0.07, 0.04], ypr, 0.1).add(0.28, grasp, ypr, 0.0).add(0.36, grasp, ypr, 1.0)
    keys.add(0.5, grasp + up, ypr, 1.0).add(0.64, place + up, ypr, 1.0).add(0.76, place, ypr, 1.0)
    keys.add(0.84, place, ypr, 0.0).add(0.92, place + [0.0, 0.07, 0.05], ypr, 0.0)
    return 0.36, 0.76


def _idle(side: str, var: _Variation) -> HandTrack:
    return _Keys(side, "rest").rest(1.0).track(var, idle=True)


def _scene(slug: str, var: _Variation, props: list[Prop], left: HandTrack, right: HandTrack,
           grasps: list[tuple[str, str, float, float]], object_desc: str) -> TaskScene:
    spec = TASKS[slug]
    attachments = tuple(Attachment(p, s, var.time_s(a), var.time_s(b)) for p, s, a, b in grasps)
    sleeves = [(62, 84, 130), (90, 92, 98), (70, 110, 80), (128, 60, 60), (40, 40, 48)]
    return TaskScene(slug=slug, description=spec.description, environment=spec.environment,
                     object_desc=object_desc, duration_s=var.duration_s, props=tuple(props),
                     tracks=(left, right), attachments=attachments,
                     sleeve_rgb=sleeves[int(var.rng.integers(len(sleeves)))])


def pick_place_cube(var: _Variation) -> TaskScene:
    """Right hand pinches a cube and sets it on a mat."""
    cube_m, mat_m, side_m = var.at(0.07, -0.36), var.at(-0.1, -0.33), 0.045
    props = [_prop("mat", "box", (0.11, 0.004, 0.11), var.color((70, 150, 80)), mat_m),
             _prop("cube", "box", (side_m, side_m, side_m), var.color((200, 40, 40)), cube_m)]
    keys = _Keys("right", "pinch")
    half = np.array([0.0, side_m / 2, 0.0])
    grasp, release = _pick_and_place(keys, var, cube_m + half, mat_m + half + [0, 0.004, 0],
                                     (0.35, 0.55, 0.0), 0.10)
    return _scene("pick_place_cube", var, props, _idle("left", var), keys.track(var),
                  [("cube", "right", grasp, release)], "object:cube, color:red")


def stack_blocks(var: _Variation) -> TaskScene:
    """Right hand puts the yellow block on the blue one; the left hand steadies the blue block."""
    top_m, base_m, size = var.at(0.09, -0.32), var.at(-0.05, -0.4), (0.05, 0.04, 0.05)
    props = [_prop("base_block", "box", size, var.color((50, 80, 190)), base_m),
             _prop("top_block", "box", size, var.color((230, 200, 40)), top_m)]
    keys = _Keys("right", "pinch")
    half = np.array([0.0, size[1] / 2, 0.0])
    grasp, release = _pick_and_place(keys, var, top_m + half, base_m + half + [0, size[1], 0],
                                     (0.3, 0.55, 0.0), 0.12)
    helper = _Keys("left", "flat")
    steady = wrist_for("left", "flat", base_m + [-0.06, 0.03, 0.0], (-0.6, 0.5, 0.0))
    helper.add(0.25, steady, (-0.6, 0.5, 0.0), 0.4).add(0.85, steady, (-0.6, 0.5, 0.0), 0.4)
    return _scene("stack_blocks", var, props, helper.track(var), keys.track(var),
                  [("top_block", "right", grasp, release)], "object:blocks, color:yellow and blue")


def open_drawer(var: _Variation) -> TaskScene:
    """Right hand hooks the handle and pulls the drawer open; the left hand rests on the cabinet."""
    cab_m, cab = var.at(0.03, -0.47, spread_m=0.02), (0.26, 0.16, 0.2)
    front_m = cab_m + [0.0, 0.0, cab[2] / 2]
    props = [_prop("cabinet", "box", cab, var.color((165, 100, 62)), cab_m),
             _prop("drawer", "drawer", (0.2, 0.07, 0.0), var.color((190, 150, 105)), front_m + [0, 0.03, 0])]
    handle_m, ypr = front_m + [0.0, 0.065, 0.02], (0.1, 1.1, 0.0)
    grasp = wrist_for("right", "hook", handle_m, ypr)
    pulled = grasp + [0.0, 0.0, 0.13 * var.amp]
    keys = _Keys("right", "hook").add(0.2, grasp + [0.0, 0.06, 0.06], ypr, 0.2).add(0.32, grasp, ypr, 0.0)
    keys.add(0.4, grasp, ypr, 1.0).add(0.7, pulled, ypr, 1.0).add(0.78, pulled, ypr, 0.0)
    keys.add(0.88, pulled + [0.0, 0.08, 0.04], ypr, 0.0)
    top = wrist_for("left", "flat", cab_m + [-0.07, cab[1], 0.02], (-0.3, 0.15, 0.0))
    helper = _Keys("left", "flat").add(0.18, top, (-0.3, 0.15, 0.0), 0.3).add(0.86, top, grip=0.3)
    return _scene("open_drawer", var, props, helper.track(var), keys.track(var),
                  [("drawer", "right", 0.4, 0.7)], "object:drawer, color:brown")


def pour_cup(var: _Variation) -> TaskScene:
    """Right hand grasps a cup from the side and pours into a bowl that the left hand holds."""
    cup_m, bowl_m, cup = var.at(0.1, -0.34), var.at(-0.06, -0.38), (0.036, 0.095, 0.0)
    props = [_prop("bowl", "bowl", (0.075, 0.05, 0.0), var.color((235, 235, 230)), bowl_m),
             _prop("cup", "cup", cup, var.color((50, 110, 200)), cup_m)]
    hold, tilt = (0.0, 0.1, 1.45), (0.0, 0.1, 1.45 - 1.2 * var.amp)
    grasp = wrist_for("right", "power", cup_m + [0.0, cup[1] * 0.45, 0.0], hold)
    over = grasp + (bowl_m - cup_m) + [0.09, 0.14, 0.0]
    keys = _Keys("right", "power").add(0.16, grasp + [0.06, 0.05, 0.03], hold, 0.1).add(0.26, grasp, hold)
    keys.add(0.33, grasp, hold, 1.0).add(0.45, over, hold, 1.0).add(0.58, over, tilt, 1.0)
    keys.add(0.66, over, hold, 1.0).add(0.78, grasp, hold, 1.0).add(0.84, grasp, hold, 0.0)
    keys.add(0.92, grasp + [0.06, 0.05, 0.04], hold, 0.0)
    rim = wrist_for("left", "power", bowl_m + [-0.085, 0.04, 0.0], (-0.2, 0.3, 0.0))
    helper = _Keys("left", "power").add(0.2, rim, (-0.2, 0.3, 0.0), 0.45).add(0.8, rim, grip=0.45)
    return _scene("pour_cup", var, props, helper.track(var), keys.track(var),
                  [("cup", "right", 0.33, 0.78)], "object:cup, color:blue")


def wipe_table(var: _Variation) -> TaskScene:
    """Right hand wipes small circles on the table with a sponge."""
    sponge_m, size = var.at(0.04, -0.33), (0.09, 0.03, 0.06)
    props = [_prop("sponge", "box", size, var.color((90, 180, 70)), sponge_m)]
    ypr = (0.3, 0.15, 0.0)
    grasp = wrist_for("right", "flat", sponge_m + [0.0, size[1], 0.0], ypr)
    keys = _Keys("right", "flat").add(0.15, grasp + [0.0, 0.06, 0.04], ypr, 0.1).add(0.25, grasp, ypr)
    keys.add(0.3, grasp, ypr, 0.8).add(0.8, grasp, ypr, 0.8).add(0.86, grasp, ypr, 0.0)
    keys.add(0.93, grasp + [0.0, 0.07, 0.04], ypr, 0.0)
    turns = float(var.rng.integers(2, 4))
    track = keys.track(var, circle=(0.32, 0.78, 0.045 * var.amp, turns))
    return _scene("wipe_table", var, props, _idle("left", var), track,
                  [("sponge", "right", 0.3, 0.8)], "object:sponge, color:green")


def press_button(var: _Variation) -> TaskScene:
    """Left index finger presses a button once or twice."""
    base_m = var.at(-0.05, -0.36)
    props = [_prop("button_base", "box", (0.07, 0.02, 0.07), var.color((120, 120, 125)), base_m),
             _prop("button", "cylinder", (0.022, 0.015, 0.0), var.color((220, 30, 30)), base_m + [0, 0.02, 0])]
    ypr = (-0.25, 0.9, 0.0)
    press = wrist_for("left", "point", base_m + [0.0, 0.031, 0.0], ypr)
    above = press + [0.0, 0.05 * var.amp, 0.0]
    keys = _Keys("left", "point").add(0.2, above + [0.0, 0.03, 0.04], ypr, 1.0).add(0.35, above, ypr, 1.0)
    keys.add(0.45, press, ypr, 1.0).add(0.55, above, ypr, 1.0)
    if var.rng.uniform() < 0.5:
        keys.add(0.65, press, ypr, 1.0).add(0.75, above, ypr, 1.0)
    keys.add(0.85, above + [0.0, 0.03, 0.04], ypr, 0.3)
    return _scene("press_button", var, props, keys.track(var), _idle("right", var), [],
                  "object:button, color:red")


@dataclass(frozen=True)
class TaskSpec:
    """A registered task."""

    slug: str
    description: str  # the task sentence, shared by every clip and episode of the task
    environment: str
    build: Callable[[_Variation], TaskScene]
    robot: bool  # whether the demo's robot dataset has episodes of it


_ENV = "table:wood, position:sitting, background:grey wall, hand:{}"
TASKS: dict[str, TaskSpec] = {spec.slug: spec for spec in (
    TaskSpec("pick_place_cube", "Pick up the red cube and place it on the green mat.", _ENV.format("right"),
             pick_place_cube, robot=True),
    TaskSpec("open_drawer", "Open the drawer of the small wooden cabinet.", _ENV.format("both"),
             open_drawer, robot=True),
    TaskSpec("pour_cup", "Pour the water from the blue cup into the white bowl.", _ENV.format("both"),
             pour_cup, robot=True),
    TaskSpec("stack_blocks", "Stack the yellow block on top of the blue block.", _ENV.format("both"),
             stack_blocks, robot=True),
    TaskSpec("wipe_table", "Wipe the table with the green sponge in small circles.", _ENV.format("right"),
             wipe_table, robot=False),
    TaskSpec("press_button", "Press the red button with the left index finger.", _ENV.format("left"),
             press_button, robot=False),
)}


def build_scene(slug: str, rng: np.random.Generator) -> TaskScene:
    """Draw one clip of a task with its own variation."""
    return TASKS[slug].build(_Variation(rng))
