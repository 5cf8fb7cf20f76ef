"""The `egocurate ingest` command (registered on app.cli's main): catalogue videos, EgoDex pairs, LeRobot datasets.

    egocurate [--root DIR] ingest PATH... [--source auto|video|egodex|lerobot] [--embodiment SPEC.yml]
                                  [--task TEXT] [--state-key KEY] [--action-key KEY] [--quiet]
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from app.cli_output import echo_ingest_report, echo_warnings
from app.cli_tasks import apply_ingest_task


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", type=click.Choice(["auto", "video", "egodex", "lerobot"]), default="auto",
              show_default=True, help="Force a reader instead of detecting one per input.")
@click.option("--embodiment", "spec", default=None,
              help="An embodiment spec (YAML, or a stored spec's name) for the LeRobot datasets' robot episodes; "
                   "checked against their names first: a spec that does not fit ingests nothing.")
@click.option("--task", "task_text", default=None, help="Task text of clips whose media has none (raw videos).")
@click.option("--state-key", default=None, help="LeRobot feature to read as the state vector (default: found).")
@click.option("--action-key", default=None, help="LeRobot feature to read as the action vector (default: found).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def ingest(root: Path, inputs: tuple[Path, ...], source: str, spec: str | None, task_text: str | None,
           state_key: str | None, action_key: str | None, quiet: bool) -> None:
    """Catalogue raw videos, EgoDex pairs (.mp4 + .hdf5) and LeRobot datasets."""
    from labeling.embodiment.apply import ingest_with_spec
    from labeling.embodiment.spec import SpecError
    from labeling.sources.ingest import IngestOptions
    from labeling.sources.ingest import ingest as run_ingest

    try:
        options = IngestOptions(task=task_text, state_key=state_key, action_key=action_key)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if spec is None:
        report = run_ingest(root, list(inputs), source=source, progress=not quiet, options=options)
    else:
        try:
            report, applied = ingest_with_spec(root, list(inputs), spec, source, not quiet, getpass.getuser(), options)
        except SpecError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"embodiment {applied.name}: {applied.episodes} robot episodes follow it")
        echo_warnings(applied.warnings)
    echo_ingest_report(report)
    apply_ingest_task(root, report.already, options.task)
    if not report.ok:
        sys.exit(1)
