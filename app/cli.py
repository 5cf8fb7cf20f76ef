"""The `egocurate` command line: thin over the packages, the same functions the app calls.

    egocurate [--root DIR] ingest PATH... [--source ...] [--embodiment SPEC.yml] [--task TEXT] [--state-key K]
    egocurate [--root DIR] task set CLIP_ID TEXT | import FILE.csv | list --missing [--csv]
    egocurate [--root DIR] sql [--json] "SELECT ..."
    egocurate [--root DIR] label [--clips ID]... [--stride K] [--workers N] [--executor local|ray]
    egocurate [--root DIR] retarget --hand NAME|CONFIG.yml [--config-dir DIR] [--urdf-dir DIR] | --embodiment SPEC
    egocurate [--root DIR] score [--rules YML] [--clips ID]...
    egocurate [--root DIR] view save NAME JSON | list | show NAME
    egocurate [--root DIR] pair [--min-similarity F] [--max-cost F] | list | accept ID | reject ID --reason TEXT
    egocurate [--root DIR] embodiment set SPEC.yml (--dataset DIR | --clips ID...) | propose | list | show NAME
    egocurate [--root DIR] export --out DIR --format lerobot-v2.1|lerobot-v3 [--view NAME] [--gr00t] [--unpaired-human]
                                  [--min-episode-s S] [--trim-idle] [--trim-absent] [--no-subtasks]
    egocurate [--root DIR] train --data DIR --stage pretrain|midtrain [--init CKPT] [--config NAME] [--scaling]
    egocurate [--root DIR] demo [--no-app] [--no-train] [--port N]
    egocurate [--root DIR] app [--port N] [--host ADDR]
    egocurate [--root DIR] user add NAME [--role viewer|curator|admin] [--password-stdin] | list
    egocurate [--root DIR] user set-role NAME ROLE | passwd NAME [--password-stdin] | remove NAME
    egocurate [--root DIR] flag list | add CLIP_ID --frames A:B --reason TEXT | confirm ID | dismiss ID
    egocurate [--root DIR] segment add CLIP_ID --frames A:B --text TEXT | list CLIP_ID

`--root` defaults to `$EGOCURATE_HOME`, else `./egocurate-data`. A failure prints one line naming what
failed and why; `--verbose` adds the traceback and third-party logs (app/cli_errors.py).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sys
from collections import Counter
from pathlib import Path

import click

from app.cli_embodiments import embodiment
from app.cli_errors import GuardedGroup, set_verbose
from app.cli_flags import flag, segment
from app.cli_ingest import ingest
from app.cli_output import echo_midtrain_hint, json_cell
from app.cli_pairs import pair
from app.cli_proxies import proxies
from app.cli_tasks import task
from app.cli_users import user
from db import paths


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data root (default: $EGOCURATE_HOME, else ./egocurate-data).")
@click.option("--verbose", is_flag=True, help="Show tracebacks and third-party (MediaPipe, TensorFlow Lite) logs.")
@click.pass_context
def main(ctx: click.Context, root: Path | None, verbose: bool) -> None:
    """EgoCurate: egocentric hand video to robot-ready training data."""
    set_verbose(verbose)
    ctx.obj = paths.resolve_root(root)


main.add_command(user)  # app/cli_users.py: the accounts and roles of the app's sign-in
main.add_command(pair)  # app/cli_pairs.py: propose + align pairs, then list, accept, reject
main.add_command(embodiment)  # app/cli_embodiments.py: robot embodiment specs
main.add_command(flag)  # app/cli_flags.py: a curator's flag decisions from a script
main.add_command(segment)  # app/cli_flags.py: segment labels (exported as subtasks)
main.add_command(task)  # app/cli_tasks.py: task text for clips whose media has none
main.add_command(ingest)  # app/cli_ingest.py: catalogue videos, EgoDex pairs, LeRobot datasets
main.add_command(proxies)  # app/cli_proxies.py: browser proxies of clips a browser cannot play


@main.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per row.")
@click.option("--row-cap", type=click.IntRange(1, 1_000_000), default=None,
              help="Rows returned at most (default: db.queries.SQL_ROW_CAP).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1, 3600), default=None,
              help="Seconds before the query is interrupted (default: db.queries.SQL_TIMEOUT_S).")
@click.pass_obj
def sql(root: Path, query: str, as_json: bool, row_cap: int | None, timeout_s: float | None) -> None:
    """Run one read-only SELECT over the public views (clips, frames, robot_frames, ...)."""
    from db.engine import query_engine
    from db.queries.door import SQL_ROW_CAP, SQL_TIMEOUT_S, SqlError, run_readonly_sql

    try:
        result = run_readonly_sql(query_engine(root), query, row_cap or SQL_ROW_CAP, timeout_s or SQL_TIMEOUT_S)
    except SqlError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for record in result.frame.to_dict(orient="records"):
            click.echo(json.dumps({k: json_cell(v) for k, v in record.items()}, default=str))
    else:
        click.echo(result.frame.to_string(index=False, max_colwidth=60))
    if result.truncated:
        click.secho(f"(truncated to {len(result.frame)} rows)", fg="yellow", err=True)


@main.command()
@click.option("--clips", "clip_ids", multiple=True, help="Label only this clip id (repeatable); default: every "
              "human clip without MediaPipe poses.")
@click.option("--stride", type=click.IntRange(1, 1000), default=1, show_default=True, help="Label every k-th frame.")
@click.option("--model-complexity", type=click.IntRange(0, 1), default=1, show_default=True,
              help="MediaPipe Hands model: 0 lite, 1 full.")
@click.option("--max-side", "max_side_px", type=click.IntRange(64, 8192), default=1920, show_default=True,
              help="Frames are scaled down so their longer side is at most this many pixels for detection.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--background", is_flag=True, help="Start a detached job and print its id (see the Label page).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def label(root: Path, clip_ids: tuple[str, ...], stride: int, model_complexity: int, max_side_px: int,
          workers: int, executor: str, background: bool, quiet: bool) -> None:
    """Label hand poses with MediaPipe (pose_source 'mediapipe') on clips that have none."""
    from labeling.pose.label import run_label
    from labeling.pose.label_jobs import start_label_job

    options = {"stride": stride, "model_complexity": model_complexity, "max_side_px": max_side_px,
               "workers": workers, "executor": executor}
    if background:
        job_id = start_label_job(root, clip_ids=list(clip_ids) or None, **options)
        click.echo(f"label: job {job_id} started in the background")
        return
    try:
        report = run_label(root, list(clip_ids) or None, progress=not quiet, **options)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for failure in report.failures:
        click.secho(f"error: {failure.item}: {failure.reason}", fg="red", err=True)
    for clip_id, camera in sorted(report.cameras.items()):
        click.echo(f"camera {clip_id}: {camera}")
    click.echo(f"label: {len(report.done)} clips labelled, {len(report.skipped)} already labelled, "
               f"{len(report.failures)} failed; {report.frames} frames at {report.frames_per_s:.1f} frames/s")
    if not report.ok:
        sys.exit(1)


@main.command()
@click.option("--hand", default=None,
              help="A registered hand (egocurate_hand22, sharpa_ha4, g1_dex3, allegro, inspire, leap, ability) "
                   "or a dex-retargeting YAML config.")
@click.option("--embodiment", "spec", default=None,
              help="Instead of --hand: a robot's embodiment spec (YAML or stored name); its hands, under its name.")
@click.option("--clips", "clip_ids", multiple=True, help="Retarget only this clip id (repeatable); default: all.")
@click.option("--config-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Where the named hands' dex-retargeting configs live (not needed for egocurate_hand22).")
@click.option("--urdf-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Resolves configs' relative urdf_path, like dex-retargeting's set_default_urdf_dir.")
@click.option("--pose-source", default=None, help="Poses to retarget (default: egodex, synthetic, then mediapipe).")
@click.option("--device", default=None, help="torch device (default: cuda when available, else cpu).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def retarget(root: Path, hand: str | None, spec: str | None, clip_ids: tuple[str, ...], config_dir: Path | None,
             urdf_dir: Path | None, pose_source: str | None, device: str | None, workers: int, executor: str,
             quiet: bool) -> None:
    """Retarget human hand poses to a robot hand through its URDF (whole clips, batched)."""
    from labeling.embodiment.apply import retarget_spec
    from labeling.retarget.config import ConfigError
    from labeling.retarget.stage import run_retarget

    if (hand is None) == (spec is None):
        raise click.UsageError("give --hand or --embodiment (one of them)")
    try:
        hand_arg = (retarget_spec(root, spec).retarget_target() if spec else
                    Path(hand) if hand.endswith((".yml", ".yaml")) else hand)
        report = run_retarget(root, hand_arg, list(clip_ids) or None, pose_source=pose_source, device=device,
                              progress=not quiet, config_dir=config_dir, urdf_dir=urdf_dir, workers=workers,
                              executor=executor)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    for failure in report.failures:
        click.secho(f"error: {failure.item}: {failure.reason}", fg="red", err=True)
    click.echo(f"retarget {report.embodiment}: {len(report.done)} clip-hands done, {len(report.skipped)} already "
               f"there, {len(report.failures)} failed; {report.frames} frames at {report.frames_per_s:.0f} frames/s")
    if not report.ok:
        sys.exit(1)


@main.command()
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Noisy-demo rule set (YAML; default: curation/default_rules.yml).")
@click.option("--clips", "clip_ids", multiple=True, help="Score only this clip id (repeatable); default: all.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def score(root: Path, rules_path: Path | None, clip_ids: tuple[str, ...], quiet: bool) -> None:
    """Quality metrics per clip and hand, then proposed flags from the noisy-demo rules."""
    from curation.score import ScoreConfig, run_score

    cfg = ScoreConfig(rules_path=rules_path) if rules_path else ScoreConfig()
    report = run_score(root, cfg, clip_ids=list(clip_ids) or None, progress=not quiet)
    for clip_id, reason in report.failures:
        click.secho(f"error: clip {clip_id}: {reason}", fg="red", err=True)
    flags = report.flags
    click.echo(f"score: {report.scored} clips scored ({report.retarget_rows} embodiment-hand rows), "
               f"{len(report.failures)} failed; flags: {flags.created} proposed, {flags.reproposed} "
               f"proposed again, {flags.kept} unchanged, {flags.withdrawn} withdrawn")


@main.group()
def view() -> None:
    """Saved views: named filter specs (JSON) that the app, the CLI and exports share."""


@view.command("save")
@click.argument("name")
@click.argument("spec_json")
@click.option("--author", default=lambda: os.environ.get("USER") or "cli", help="Who saves it (default: $USER).")
@click.option("--replace", is_flag=True, help="Replace the view of that name if there is one.")
@click.pass_obj
def view_save(root: Path, name: str, spec_json: str, author: str, replace: bool) -> None:
    """Save SPEC_JSON, e.g. '{"metric_ranges": {"jitter_mm": [null, 3]}, "tasks": ["pour_cup"]}', as NAME."""
    from curation.flags import StaleUpdateError
    from curation.views import get_view, save_view
    from db.view_spec import ViewSpec

    try:
        spec = ViewSpec.from_json(spec_json)
        expected = None
        if replace:
            with contextlib.suppress(KeyError):
                expected = get_view(root, name).version
        saved = save_view(root, name, spec, author, expected_version=expected)
    except (ValueError, StaleUpdateError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"view {saved.name!r} saved (version {saved.version})")


@view.command("list")
@click.pass_obj
def view_list(root: Path) -> None:
    """The saved views and their specs."""
    from curation.views import list_views

    click.echo(list_views(root).to_string(index=False, max_colwidth=100))


@view.command("show")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per clip.")
@click.pass_obj
def view_show(root: Path, name: str, limit: int, as_json: bool) -> None:
    """The clips a saved view selects (in its order)."""
    from curation.views import load_view
    from db.engine import query_engine
    from db.queries.views import count_view, view_clips

    try:
        spec = load_view(root, name)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from exc
    engine = query_engine(root)
    frame = view_clips(engine, spec, limit=limit)
    if as_json:
        for record in frame.to_dict(orient="records"):
            click.echo(json.dumps({k: json_cell(v) for k, v in record.items()}, default=str))
    else:
        click.echo(frame.to_string(index=False, max_colwidth=40))
    click.secho(f"({len(frame)} of {count_view(engine, spec)} clips)", err=True)


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The dataset folder to create (its parent must exist).")
@click.option("--format", "fmt", required=True, type=click.Choice(["lerobot-v2.1", "lerobot-v3"]))
@click.option("--view", "view_name", default=None, help="A saved view (default: every clip).")
@click.option("--gr00t", is_flag=True, help="Also write GR00T's meta/modality.json.")
@click.option("--overwrite", is_flag=True, help="Replace an existing non-empty --out folder.")
@click.option("--unpaired-human", is_flag=True,
              help="Also the view's human clips in no accepted pair (data for human pretraining).")
@click.option("--codec", type=click.Choice(["h264", "av1"]), default="h264", show_default=True)
@click.option("--size", default=None, help="WIDTHxHEIGHT of the videos (even numbers), letterboxed. Default: 320x240, "
              "and in a mixed-embodiment export each dataset 320 wide at its clips' aspect.")
@click.option("--min-episode-s", type=click.FloatRange(0), default=1.0, show_default=True,
              help="A cut splits a clip into episodes at least this long, else keeps the longer piece.")
@click.option("--trim-idle", is_flag=True, help="Also cut human clips' idle ends (wrists slower than the idle metric).")
@click.option("--trim-absent", is_flag=True, help="Also cut the frames where a tracked hand is lost.")
@click.option("--no-subtasks", is_flag=True, help="Leave segment labels out (LeRobot 0.4 cannot read v3 subtasks).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def export(root, out_dir, fmt, view_name, gr00t, overwrite, unpaired_human, codec, size, min_episode_s,  # noqa: ANN001
           trim_idle, trim_absent, no_subtasks, quiet) -> None:  # noqa: ANN001
    """Export accepted pairs of a saved view as LeRobot v2.1 (+ GR00T) or v3.0, atomically."""
    from tqdm import tqdm

    from curation.export_episodes import VideoSpec
    from curation.export_lerobot import ExportError, checked_destination, run_export
    from curation.export_plan import ExportConfig

    try:
        width, height = (int(v) for v in (size or "320x240").lower().split("x"))
        cfg = ExportConfig(out_dir=out_dir, format=fmt, view_name=view_name, gr00t=gr00t, overwrite=overwrite,
                           video=VideoSpec(width=width, height=height, codec=codec, keep_aspect=size is None),
                           author=getpass.getuser(), unpaired_human=unpaired_human, min_episode_s=min_episode_s,
                           trim_idle=trim_idle, trim_absent=trim_absent, subtasks=not no_subtasks)
        checked_destination(root, cfg)  # a missing parent folder fails before the progress bar shows
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    bar = tqdm(desc="egocurate export", unit="episode", disable=quiet)

    def progress(done: int, total: int, _text: str) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        result = run_export(root, cfg, progress=progress)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        bar.close()
    counts, cut = result.manifest["counts"], result.manifest["cuts"]["by_reason"]
    cut_text = ", ".join(f"{v['frames']} frames cut ({reason})" for reason, v in cut.items())
    click.echo(f"export: {counts['episodes']} episodes ({counts['pairs']} pairs, {result.manifest['hours']:.3f} h"
               f"{'; ' + cut_text if cut_text else ''}) written to {result.out_dir}")
    dropped = Counter(pair["reason"] for pair in result.manifest["pairs_dropped"])
    if dropped:  # which accepted pairs stayed out, and why (the manifest's pairs_dropped lists them)
        n = sum(dropped.values())
        click.echo(f"export: {n} accepted pair{'s' * (n != 1)} left out ("
                   + "; ".join(f"{reason}: {n}" for reason, n in sorted(dropped.items())) + ")"
                   + (f"; {counts['unpaired_human']} human episodes went in unpaired" if unpaired_human else ""))


@main.command()
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="An EgoCurate export to train on (LeRobot v2.1 or v3.0, or a mixed-embodiment folder).")
@click.option("--stage", type=click.Choice(["pretrain", "midtrain"]), default="pretrain", show_default=True,
              help="pretrain: the export's human episodes; midtrain: human + robot episodes.")
@click.option("--init", "init", type=click.Path(exists=True, path_type=Path), default=None,
              help="Checkpoint to start from: a run folder (runs/pretrain-<export>), its checkpoints/last or a .pt.")
@click.option("--config", "config_name", default="smoke", show_default=True,
              help="smoke | demo | small | paper, or a YAML file (trainer/configs/).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder (default: <root>/runs/<stage>-<export name>); an existing run there resumes.")
@click.option("--scaling", is_flag=True,
              help="A scaling run, recorded in the store (the Scaling page shows it) and trained here: pretrain on "
                   "nested fractions of the human hours (steps in proportion, several seeds), fit L = a + b ln(hours), "
                   "midtrain each checkpoint on the robot episodes and correlate the losses.")
@click.option("--fractions", default="0.125,0.25,0.5,1", show_default=True,
              help="With --scaling: the fractions of the human training hours, comma-separated.")
@click.option("--seeds", type=click.IntRange(1, 99), default=3, show_default=True,
              help="With --scaling: pretrain runs per fraction.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None,
              help="With --scaling: passes over each fraction's human samples, so its steps grow with its hours "
                   "(default: trainer.scaling.ScalingConfig's).")
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Override the config's max_steps.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: the config's, auto).")
@click.option("--no-resume", is_flag=True, help="Start over even if the run folder has a checkpoint.")
@click.pass_obj
def train(root: Path, data_dir: Path, stage: str, init: Path | None, config_name: str, out_dir: Path | None,
          scaling: bool, fractions: str, seeds: int, epochs: float | None, max_steps: int | None, device: str | None,
          no_resume: bool) -> None:
    """Train the policy on an export: pretrain on human data, midtrain on aligned human + robot data.

    The run is recorded in the store's `runs` (the Train page lists it, its curves and checkpoints; a
    scaling run's figures are the Scaling page's too)."""
    from trainer.runs import run_here
    from trainer.scaling import describe_scaling, read_scaling
    from trainer.train import TrainConfig, config_path

    if scaling and max_steps:
        raise click.UsageError("--max-steps does not apply to --scaling: its runs' steps follow their hours (--epochs)")
    out = out_dir or root / paths.RUNS_DIR / f"{'scaling' if scaling else stage}-{data_dir.name}"
    override = {"data_dir": str(data_dir), "out_dir": str(out), "stage": stage,
                "init": str(init) if init else None, "cache_dir": str(root / paths.TRAINER_CACHE_DIR),
                "resume": not no_resume}
    override |= {"max_steps": max_steps} if max_steps else {}
    override |= {"device": device} if device else {}
    if stage == "midtrain" and init is None and not scaling:
        echo_midtrain_hint(root / paths.RUNS_DIR / f"pretrain-{data_dir.name}")
    try:
        TrainConfig.from_yaml(config_path(config_name), override)  # a bad config or value fails here, in words
        study = {"seeds": seeds, "study": {"epochs": epochs} if epochs else None} if scaling else {}
        run = run_here(root, data_dir, stage, config_name, init, getpass.getuser(), scaling=scaling, out_dir=out,
                       fractions=tuple(float(f) for f in fractions.split(",") if f.strip()), max_steps=max_steps,
                       device=device, resume=not no_resume, **study)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if run.state != "done":
        raise click.ClickException(f"train: run {run.run_id} {run.state}: {run.message}")
    if scaling:
        click.echo("\n".join(describe_scaling(read_scaling(out))))
        click.echo(f"scaling: run {run.run_id}; {out / paths.SCALING_RESULT}, {out / paths.SCALING_FIGURE}")
    else:
        click.echo(f"train {stage}: run {run.run_id}, checkpoint {paths.last_checkpoint(out)}; "
                   f"log {paths.run_log_path(out)}")


@main.command()
@click.option("--no-app", is_flag=True, help="Build and ingest the demo set, do not start the app.")
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-train", is_flag=True, help="Do not export the demo's pairs nor start the background scaling run.")
@click.pass_obj
def demo(root: Path, no_app: bool, port: int, seed: int, no_train: bool) -> None:
    """Generate the synthetic demo set (no downloads), ingest, retarget, score and pair it, export the best pairs,
    start a background scaling run (the Scaling page), open the app."""
    from app.demo import run_demo

    run_demo(root, seed=seed, train=not no_train, open_app=not no_app, port=port)


@main.command()
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; the default keeps the app on this machine. Another address needs users "
                   "(egocurate user add): without them the app is in open local mode, where anyone acts as admin.")
@click.pass_obj
def app(root: Path, port: int, host: str) -> None:
    """Start the web app on the data root."""
    from app.launch import BindRefused, launch

    try:
        launch(root, port=port, host=host)
    except BindRefused as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":
    main()
