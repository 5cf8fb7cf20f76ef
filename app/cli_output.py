"""How the command line prints a stage's report and its hints: shared by `egocurate ingest`, `train` and `demo`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # the CLI starts without importing the stages
    from labeling.sources.ingest import IngestReport


def echo_ingest_report(report: IngestReport) -> None:
    """Warnings and failures to stderr (coloured), then one summary line to stdout."""
    for warning in report.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    for failure in report.failures:
        click.secho(f"error: {failure.item}: {failure.reason}", fg="red", err=True)
    for note in report.notes:
        click.secho(f"note: {note}", fg="cyan", err=True)
    video_only = (f" ({len(report.video_only)} of them video-only: no state or action vector)"
                  if report.video_only else "")
    revectored = (f", {len(report.revectored)} re-read with the vector keys given" if report.revectored else "")
    click.echo(f"ingest: {len(report.added)} clips added{video_only}, {report.skipped} already catalogued"
               f"{revectored}, {len(report.failures)} failed")


def echo_warnings(warnings: Iterable[str]) -> None:
    """One `warning:` line each, to stderr (coloured)."""
    for warning in warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)


def echo_midtrain_hint(pretrain_run: Path) -> None:
    """`train --stage midtrain` without `--init`: it starts from random weights; say so and name the usual init."""
    echo_warnings([f"--stage midtrain without --init starts from random weights (from scratch); give the pretrain "
                   f"run, e.g. --init {pretrain_run}"])
