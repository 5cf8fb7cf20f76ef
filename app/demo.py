"""The demo workflow (`egocurate demo`): one walk through every package on a synthetic data set.

    egocurate --root R demo --no-app          # run_demo(R, open_app=False)
    report = build_demo(root)                 # generate <root>/demo once (labeling/synthetic/), ingest it
    started = start_demo_training(root)       # after demo -> retarget -> score -> pair; returns at once

The steps: build and ingest the demo set, retarget it to egocurate_hand22, score it (so the Quality
and Review pages open with flags), pair it, then the training step, then the app. Each step skips
what is already there, so re-running the demo is quick and changes nothing. The training step:
pairs are accepted only while none is (the best-aligned proposal of each robot episode, as actor
'demo'; the others stay proposed for the Pairs page), the export (the pairs, and every other human clip as
pretraining data) is written only while the store has no finished one, and a `demo`-config scaling
run starts only while there is no scaling run: 4 nested fractions x 4 seeds (each seed its own draw of
episodes), each pretrained with steps in proportion to its hours and midtrained on the robot episodes
(trainer/scaling.py; the demo config scores the runs' averaged weights). The run trains in its own
process (about 9,100 steps and 32 evaluations: about 10 minutes on one idle CPU core, measured with
bench/bench_scaling.py), so the Scaling page fills in while the other pages are looked at.

It lives in app/ because it imports every package (labeling, curation, trainer), which only app/ may.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from app.cli_output import echo_ingest_report
from curation.export_episodes import VideoSpec
from curation.export_lerobot import run_export
from curation.export_plan import ExportConfig
from curation.pair_store import decide_pair, get_pair
from curation.pairing import PairConfig, run_pairing
from curation.score import run_score
from db import paths
from db.engine import query_engine
from db.queries.annotations import pair_rows
from labeling.sources.ingest import IngestReport, ingest
from trainer.runs import export_choices, list_runs, start_run

DEMO_ACTOR = "demo"
DEMO_VIDEO = VideoSpec(width=160, height=120)  # the demo model sees 32 x 32 pixels: small videos export fast
DEMO_CONFIG = "demo"  # trainer/configs/demo.yml
# Four points over 4x the hours. An eighth of the demo's 29 human training episodes is 4 episodes for 6
# tasks: its loss sits near chance (~2, as pure noise scores) or not, by which 4 they are, and says
# nothing about a log law.
DEMO_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
DEMO_SEEDS = 4  # pretrain runs per fraction, each with its own draw of episodes: the seed spread on the Scaling page
DEMO_HAND = "egocurate_hand22"  # the built-in hand: needs no downloaded URDF


@dataclass(frozen=True)
class DemoTraining:
    """What `start_demo_training` did."""

    accepted: int  # pairs it accepted (0 when a curator had accepted some already)
    export_dir: Path  # the export the scaling run trains on
    exported: bool  # whether it wrote that export now
    run_id: int  # the scaling run (started now, or the one already there)
    started: bool


def build_demo(root: Path, seed: int = 0, progress: bool = True, **generator_options: object) -> IngestReport:
    """Generate `<root>/demo` unless it is already there, and ingest it (idempotent)."""
    # The generator (and its OpenCV) is imported only here: most callers find the demo built already.
    from labeling.synthetic.demo import generate_demo

    out_dir = root / paths.DEMO_DIR
    if not (out_dir / paths.DEMO_MANIFEST).is_file():
        generate_demo(out_dir, seed=seed, progress=progress, **generator_options)
    return ingest(root, [out_dir / "human", out_dir / "robot"], progress=progress, author="demo")


def accept_best_pairs(root: Path, actor: str = DEMO_ACTOR) -> int:
    """Accept the lowest-cost proposed pair of each robot episode, unless some pair is accepted already."""
    pairs = pair_rows(query_engine(root))
    if (pairs["state"] == "accepted").any():
        return 0
    best = pairs[(pairs["state"] == "proposed") & pairs["cost"].notna()].sort_values("cost")
    accepted = 0
    for pair_id in best.drop_duplicates("robot_clip_id")["id"]:
        pair = get_pair(root, int(pair_id))
        decide_pair(root, pair.id, "accepted", actor, pair.version, reason="demo: best-aligned proposal")
        accepted += 1
    return accepted


def export_demo(root: Path) -> tuple[int, Path]:
    """Accept the best pairs and write the demo export; returns (pairs accepted, export folder)."""
    accepted = accept_best_pairs(root)
    # Every human clip, not only the paired ones: the scaling fit needs hours of human data (36 clips, not 12).
    export = run_export(root, ExportConfig(out_dir=root / paths.DEMO_EXPORT_DIR, video=DEMO_VIDEO,
                                           unpaired_human=True, author=DEMO_ACTOR))
    return accepted, export.out_dir


def start_demo_training(root: Path | str) -> DemoTraining:
    """Accept, export and start the scaling run as the module docstring says; returns what it did."""
    root = Path(root).resolve()
    exports = export_choices(root)
    accepted, exported = 0, False
    if exports:
        export_dir = Path(next(iter(exports)))
    else:
        accepted, export_dir = export_demo(root)
        exported = True
    scaling = list_runs(root, "scaling", limit=1)
    if scaling:
        return DemoTraining(accepted, export_dir, exported, scaling[0].run_id, False)
    run_id = start_run(root, export_dir, "scaling", DEMO_CONFIG, author=DEMO_ACTOR, fractions=DEMO_FRACTIONS,
                       seeds=DEMO_SEEDS)
    return DemoTraining(accepted, export_dir, exported, run_id, True)


def run_demo(root: Path, seed: int = 0, train: bool = True, open_app: bool = True, port: int = 8501) -> None:
    """Every step of the module docstring in turn, each printing one summary line; then the app, unless not.

    Raises:
        click.ClickException: the training step failed (e.g. nothing accepted to export).
    """
    # torch (through the retarget stage's FK) only when the demo runs, not when a test imports build_demo.
    from labeling.retarget.stage import run_retarget

    echo_ingest_report(build_demo(root, seed=seed))
    retargeted = run_retarget(root, DEMO_HAND, progress=True)
    click.echo(f"retarget: {len(retargeted.done)} clip-hands done, {len(retargeted.skipped)} already there")
    scored = run_score(root, progress=True)
    click.echo(f"score: {scored.scored} clips scored, {scored.flags.created} flags proposed")
    paired = run_pairing(root, PairConfig(), actor=DEMO_ACTOR)
    click.echo(f"pair: {len(paired.frame)} human-robot candidates aligned, {paired.proposed} proposed")
    if train:
        try:
            started = start_demo_training(root)
        except (ValueError, RuntimeError) as exc:  # e.g. ExportError: nothing accepted to export
            raise click.ClickException(f"demo training: {exc}") from exc
        click.echo(f"train: {started.accepted} pairs accepted, export {started.export_dir} "
                   f"({'written' if started.exported else 'already there'}); scaling run {started.run_id} "
                   f"{'started in the background' if started.started else 'already there'}")
    if open_app:
        from app.launch import launch

        launch(root, port=port)
