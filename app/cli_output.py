"""How the command line prints a stage's report: shared by `egocurate ingest` and `egocurate demo`."""

from __future__ import annotations

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
    click.echo(f"ingest: {len(report.added)} clips added, {report.skipped} already catalogued, "
               f"{len(report.failures)} failed")
    if report.proxy_job_id is not None:
        click.echo(f"proxies: making the browser proxies of {report.needing_proxies} new clips in the background "
                   f"(job {report.proxy_job_id}); `egocurate proxies --status` shows how far it is")
