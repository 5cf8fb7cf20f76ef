"""The EgoScale scaling study: human validation loss against hours of human data, and what it predicts on the robot.

    result = run_scaling(cfg, ScalingConfig(fractions=(0.125, 0.25, 0.5, 1), seeds=3))
    result.fit          # L = a + b ln(hours): a, b, R², 95 % intervals (trainer/scaling_fit.py)
    result.transfer     # robot validation loss after midtraining against human validation loss: Pearson r
    read_scaling(out_dir)                                  # the same result, from <out_dir>/scaling.json

A fair comparison of amounts of data (issue 17):
- nested fractions: seed k pretrains fraction f on the human training episodes making up the first f of
  the hours in one order seeded by `data_seed + k` (`data_seed` default `seed`), so each of its fractions
  holds its smaller ones. Each seed draws its own order: on a small export which episodes make up the
  smallest fraction moves its loss more than the training seed does (the demo's 0.25 fraction: 0.94 to
  1.41 between orders, +-0.05 between seeds of one order), and averaging seeds then averages the draws too;
- steps in proportion to the hours: `epochs` passes over the fraction's samples, at least `min_steps`,
  so larger fractions are not cut short;
- fractions are dealt round-robin over the tasks (`trainer.data.nested_subset`), so each holds every
  task its size allows;
- one fixed validation set: the export's human validation episodes (whole pair groups, never trained
  on), scored after the last step on `eval_timesteps` timesteps x `eval_samples` sampled chunks;
- `seeds` runs per fraction (data order, initialisation, batch order, flow noise), fitted as they come;
- transfer: each pretrain checkpoint is midtrained on the export's robot training episodes (the same
  data and `midtrain_epochs` for every fraction) and scored on the robot validation episodes.

Run folders under `cfg.out_dir`, in training order (the order their names sort in): `fraction-<f>-seed-<k>/`
and `fraction-<f>-seed-<k>-midtrain/`; `plan.json` lists them with their steps before the first starts.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from db import paths

from .scaling_fit import ScalingFit, TransferFit, fit_log_law, fit_transfer

HUMAN = "human"  # trainer.data.HUMAN (not imported: that module loads torch, and pages read results)
MAX_SEEDS = 99  # folder names carry the seed index in two digits, so they sort in training order


@dataclass(frozen=True)
class ScalingConfig:
    """How a scaling study spends its runs (the training config itself is a `TrainConfig`)."""

    fractions: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)  # shares of the human training hours, nested
    seeds: int = 3  # pretrain runs per fraction, with seeds seed, seed + 1, ...
    epochs: float = 6.0  # passes over a fraction's human training samples: its steps grow with its hours
    # Floor on a pretrain run's steps. From scratch the loss is still falling steeply after ~200 steps (the demo's
    # smallest fraction, 0.25, gets ~220 at 6 epochs), so a run that short measures how far its schedule got more
    # than its data: its loss sat ~0.1 above the log line through the larger fractions on every bench seed, which
    # alone capped R² near 0.97 (bench/bench_scaling.py). 300 steps are ~8 epochs of that fraction.
    min_steps: int = 300
    transfer: bool = True  # midtrain each pretrain checkpoint on the robot episodes (when the export has some)
    # Passes over the robot training samples (no floor: it starts from a trained checkpoint), the same for
    # every fraction; short, so the robot loss still depends on where it started.
    midtrain_epochs: float = 1.0

    def __post_init__(self) -> None:
        """Check values; errors name the field."""
        object.__setattr__(self, "fractions", tuple(sorted(float(f) for f in self.fractions)))
        if len(set(self.fractions)) < 2 or not all(0 < f <= 1 for f in self.fractions):
            raise ValueError(f"ScalingConfig.fractions: two or more fractions in (0, 1], got {list(self.fractions)}")
        if not 1 <= self.seeds <= MAX_SEEDS:
            raise ValueError(f"ScalingConfig.seeds must be in [1, {MAX_SEEDS}], got {self.seeds}")
        for name in ("epochs", "midtrain_epochs"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ScalingConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.min_steps < 1:
            raise ValueError(f"ScalingConfig.min_steps must be >= 1, got {self.min_steps}")

    @classmethod
    def from_dict(cls, values: dict) -> ScalingConfig:
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown fields {unknown} for ScalingConfig")
        return cls(**{**values, "fractions": tuple(values.get("fractions", cls.fractions))})

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"fractions": list(self.fractions)}


@dataclass(frozen=True)
class ScalingPart:
    """One training run of a study (a row of `plan.json`)."""

    name: str  # its folder under the study's out_dir
    stage: str  # pretrain | midtrain
    fraction: float  # share of the human training hours of the pretrain run
    seed: int  # TrainConfig.seed of the run
    steps: int  # its optimizer steps
    hours: float  # human training hours of the pretrain run (the midtrain run's pretrain checkpoint saw these)
    data_seed: int  # TrainConfig.data_seed of the pretrain run: its nested order of the human episodes


@dataclass(frozen=True)
class ScalingPoint:
    """One seed at one fraction: its pretrain run and (with transfer) the midtrain run from its checkpoint."""

    fraction: float  # share of the human training hours
    seed: int  # TrainConfig.seed of both runs
    hours: float  # human training hours it pretrained on
    steps: int  # pretrain optimizer steps
    human_val: float  # human validation MSE after pretraining
    run: str  # the pretrain run folder
    robot_val: float | None = None  # robot validation MSE after midtraining from that checkpoint
    midtrain_steps: int | None = None  # midtrain optimizer steps
    midtrain_run: str | None = None  # the midtrain run folder
    data_seed: int | None = None  # the pretrain run's order of the human episodes (None: written before it varied)


@dataclass(frozen=True)
class ValidationSet:
    """What every run of a study is scored on (the same for all of them)."""

    human_episodes: int  # the export's human validation episodes
    human_tasks: int  # distinct tasks among them
    human_timesteps: int  # scored: evenly spaced over the episodes, at most eval_timesteps
    robot_episodes: int  # the export's robot validation episodes
    robot_timesteps: int  # scored, per robot embodiment at most eval_timesteps
    samples: int  # sampled action chunks per timestep


@dataclass(frozen=True)
class ScalingResult:
    """The runs of one scaling study and their fits."""

    config: ScalingConfig  # how the runs were spent
    points: list[ScalingPoint]  # one per pretrain run, by fraction then seed
    fit: ScalingFit  # the log law of the human validation loss
    transfer: TransferFit | None  # None: no transfer runs (turned off, or no robot episodes)
    validation: ValidationSet  # what every run was scored on

    @property
    def hours(self) -> list[float]:
        return [p.hours for p in self.points]

    @property
    def losses(self) -> list[float]:
        return [p.human_val for p in self.points]

    def to_dict(self) -> dict[str, object]:
        return {"config": self.config.to_dict(), "points": [asdict(p) for p in self.points], "fit": asdict(self.fit),
                "transfer": asdict(self.transfer) if self.transfer else None, "validation": asdict(self.validation)}

    @classmethod
    def from_dict(cls, values: dict) -> ScalingResult:
        if "points" not in values:  # written before issue 17: one seed, no transfer, no plan
            values = _legacy(values)
        transfer = values.get("transfer")
        return cls(ScalingConfig.from_dict(values["config"]), [ScalingPoint(**p) for p in values["points"]],
                   ScalingFit(**values["fit"]), TransferFit(**transfer) if transfer else None,
                   ValidationSet(**values["validation"]))


def _legacy(values: dict) -> dict:
    points = [{"fraction": f, "seed": 0, "hours": h, "steps": 0, "human_val": loss, "run": run} for f, h, loss, run
              in zip(values["fractions"], values["hours"], values["losses"], values["runs"], strict=True)]
    return {"config": {"fractions": values["fractions"], "seeds": 1, "transfer": False}, "points": points,
            "fit": values["fit"], "transfer": None, "validation": {k: 0 for k in
                                                                  (f.name for f in fields(ValidationSet))}}


def steps_for(samples: int, batch_size: int, epochs: float, min_steps: int) -> int:
    """Optimizer steps for `epochs` passes over `samples` at `batch_size`, at least `min_steps`."""
    return max(min_steps, math.ceil(epochs * samples / batch_size))


def plan_scaling(cfg: object, scaling: ScalingConfig, export: object) -> list[ScalingPart]:
    """The study's runs in training order: per fraction, per seed, the pretrain run then its midtrain run."""
    from .data import nested_subset

    human = export.select("train", {HUMAN})
    robot = [e for e in export.select("train") if e.embodiment != HUMAN]
    data_seed = cfg.seed if cfg.data_seed is None else cfg.data_seed
    midtrain_steps = steps_for(sum(e.length for e in robot), cfg.batch_size, scaling.midtrain_epochs, 1)
    transfer = scaling.transfer and bool(robot) and bool([e for e in export.select("validation")
                                                           if e.embodiment != HUMAN])
    parts = []
    for fraction in scaling.fractions:
        for k in range(scaling.seeds):
            order = data_seed + k  # each seed its own nested order of the episodes
            subset = nested_subset(human, fraction, order)
            steps = steps_for(sum(e.length for e in subset), cfg.batch_size, scaling.epochs, scaling.min_steps)
            hours = sum(e.seconds for e in subset) / 3600
            name = paths.scaling_part_name(fraction, k)
            parts.append(ScalingPart(name, "pretrain", fraction, cfg.seed + k, steps, hours, order))
            if transfer:
                parts.append(ScalingPart(name + paths.SCALING_MIDTRAIN_SUFFIX, "midtrain", fraction, cfg.seed + k,
                                         midtrain_steps, hours, order))
    return parts


def validation_set(cfg: object, export: object) -> ValidationSet:
    """The fixed validation set every run of a study on `export` is scored on.

    Raises:
        ValueError: the export holds no human validation episodes.
    """
    human = export.select("validation", {HUMAN})
    robot = [e for e in export.select("validation") if e.embodiment != HUMAN]
    if not human:
        raise ValueError(f"{cfg.data_dir}: no human validation episodes to score the scaling runs on")
    robot_timesteps = sum(min(cfg.eval_timesteps, sum(e.length for e in robot if e.embodiment == name))
                          for name in {e.embodiment for e in robot})
    human_timesteps = min(cfg.eval_timesteps, sum(e.length for e in human))
    return ValidationSet(len(human), len({e.task for e in human}), human_timesteps, len(robot), robot_timesteps,
                         cfg.eval_samples)


def run_scaling(cfg: object, scaling: ScalingConfig | None = None) -> ScalingResult:
    """Train every run of the study (resuming finished or cut runs), fit, write `scaling.json` + `scaling.html`.

    `cfg` is a `TrainConfig`: its model, batch, LR and evaluation settings serve every run; its stage
    and max_steps are replaced per run (see the module docstring).

    Raises:
        ValueError: no human validation episodes, or a run could not train.
    """
    from .mixture import read_training_data
    from .run_log import final_val
    from .train import train, with_overrides

    scaling = scaling or ScalingConfig()
    out_dir = Path(cfg.out_dir)
    export = read_training_data(Path(cfg.data_dir))  # what train reads: the plan's episodes are its
    validation = validation_set(cfg, export)
    parts = plan_scaling(cfg, scaling, export)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = {"scaling": scaling.to_dict(), "parts": [asdict(p) for p in parts]}
    (out_dir / paths.SCALING_PLAN).write_text(json.dumps(plan, indent=2) + "\n")
    cache = cfg.cache_dir or str(out_dir / paths.RUN_FRAME_CACHE_DIR)
    vals: dict[str, float] = {}
    for part in parts:
        run_dir = out_dir / part.name
        pretrain = out_dir / part.name.removesuffix(paths.SCALING_MIDTRAIN_SUFFIX)
        midtrain = part.stage == "midtrain"
        run_cfg = with_overrides(
            cfg, stage=part.stage, seed=part.seed, data_seed=part.data_seed, max_steps=part.steps, out_dir=str(run_dir),
            cache_dir=cache, eval_every=0, stop_at=None, human_fraction=1.0 if midtrain else part.fraction,
            init=str(paths.last_checkpoint(pretrain)) if midtrain else None, robot_only=midtrain,
            warmup_steps=min(cfg.warmup_steps, part.steps - 1))
        train(run_cfg)
        val = final_val(run_dir)
        wanted = [v for e, v in val.items() if (e == HUMAN) == (part.stage == "pretrain")]
        if not wanted:
            raise ValueError(f"{run_dir}: the run left no {part.stage} validation estimate")
        vals[part.name] = sum(wanted) / len(wanted)
    result = scaling_result(scaling, parts, vals, out_dir, validation)
    (out_dir / paths.SCALING_RESULT).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    from .scaling_figures import scaling_figure, transfer_figure

    figures = [scaling_figure(result)] + ([transfer_figure(result)] if result.transfer is not None else [])
    body = "".join(f.to_html(include_plotlyjs=n == 0, full_html=False) for n, f in enumerate(figures))
    (out_dir / paths.SCALING_FIGURE).write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}"
                                       "</body></html>\n")
    return result


def scaling_result(scaling: ScalingConfig, parts: list[ScalingPart], vals: dict[str, float], out_dir: Path,
                   validation: ValidationSet) -> ScalingResult:
    """The points (one per pretrain run, with its midtrain run's robot loss) and both fits."""
    midtrain = {p.name.removesuffix(paths.SCALING_MIDTRAIN_SUFFIX): p for p in parts if p.stage == "midtrain"}
    points = []
    for part in (p for p in parts if p.stage == "pretrain"):
        mid = midtrain.get(part.name)
        points.append(ScalingPoint(part.fraction, part.seed, part.hours, part.steps, vals[part.name],
                                   str(out_dir / part.name), vals[mid.name] if mid else None,
                                   mid.steps if mid else None, str(out_dir / mid.name) if mid else None,
                                   part.data_seed))
    fit = fit_log_law([p.hours for p in points], [p.human_val for p in points], [p.fraction for p in points])
    paired = [p for p in points if p.robot_val is not None]
    transfer = fit_transfer([p.human_val for p in paired], [p.robot_val for p in paired]) if len(paired) > 1 else None
    return ScalingResult(scaling, points, fit, transfer, validation)


def read_scaling(out_dir: Path | str) -> ScalingResult:
    """A scaling study written by `run_scaling` (for the app)."""
    return ScalingResult.from_dict(json.loads((Path(out_dir) / paths.SCALING_RESULT).read_text()))


def part_steps(out_dir: Path | str, name: str) -> int | None:
    """The planned steps of run folder `name` of a study (None: no plan there, or no such run)."""
    path = Path(out_dir) / paths.SCALING_PLAN
    try:
        parts = json.loads(path.read_text())["parts"] if path.is_file() else []
    except (OSError, ValueError, KeyError):  # a plan being written: the caller shows '?'
        return None
    return next((int(p["steps"]) for p in parts if p.get("name") == name), None)


def describe_scaling(result: ScalingResult) -> list[str]:
    """The study as text lines (the CLI and the bench print these): every run, the validation set, both fits."""
    lines = [f"  fraction {p.fraction:<6g} seed {p.seed:<3d} {p.hours * 60:8.3f} min  {p.steps:5d} steps  "
             f"human val {p.human_val:.4f}" + (f"  robot val {p.robot_val:.4f}" if p.robot_val is not None else "")
             for p in result.points]
    v, fit = result.validation, result.fit
    lines.append(f"validation: {v.human_episodes} human episodes ({v.human_tasks} tasks, {v.human_timesteps} "
                 f"timesteps), {v.robot_episodes} robot episodes ({v.robot_timesteps} timesteps), "
                 f"x {v.samples} sampled chunks")
    interval = f" [{fit.b_low:.4f}, {fit.b_high:.4f}]" if fit.b_low is not None else ""
    lines.append(f"scaling: L = {fit.a:.4f} + ({fit.b:.4f}) ln(hours), b 95% CI{interval or ' n/a'}, "
                 f"R^2 = {fit.r2:.4f} ({fit.n} runs)")
    if result.transfer is not None:
        t = result.transfer
        lines.append(f"transfer: robot val = {t.intercept:.4f} + {t.slope:.4f} x human val, r = {t.r:.3f} "
                     f"({t.n} runs)")
    return lines
