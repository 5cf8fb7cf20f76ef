"""The `egocurate proxies` command: browser proxies of the clips a browser cannot play (registered on app.cli's main).

    egocurate [--root DIR] proxies [--background | --status]

`egocurate ingest` starts the same job in the background by itself; this command makes what is
missing in the foreground (a killed run, clips ingested with --no-proxies), starts it detached, or
shows how far the newest jobs are.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # the CLI starts without importing the stages
    from labeling.sources.ingest import IngestReport


def proxies_after_ingest(root: Path, report: IngestReport, enabled: bool) -> None:
    """What `egocurate ingest` does last: start the job making its new clips' proxies (unless --no-proxies)."""
    if enabled:
        from labeling.sources.ingest import start_proxies

        start_proxies(root, report)


@click.command()
@click.option("--background", is_flag=True, help="Start a detached job and return at once.")
@click.option("--status", is_flag=True, help="Show the newest proxy jobs and how many proxies are missing.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def proxies(root: Path, background: bool, status: bool, quiet: bool) -> None:
    """Make the H.264 proxies the viewer plays for MPEG-4, AV1, ... clips (the missing ones; resumable)."""
    from labeling.media.proxy_jobs import missing_proxies, proxy_jobs, run_proxies, start_proxy_job

    if status:
        for job in proxy_jobs(root):
            click.echo(f"job {job.job_id}: {job.state}, {job.n_done} of {job.n_total} made, {job.n_failed} failed"
                       f"{' - ' + job.message if job.message else ''}")
        click.echo(f"{sum(1 for _ in missing_proxies(root))} clips still need a proxy")
        return
    if background:
        click.echo(f"proxies: started job {start_proxy_job(root)}; `egocurate proxies --status` shows how far it is")
        return
    result = run_proxies(root, progress=not quiet)
    click.echo(f"proxies: {result.n_made} made, {result.n_failed} failed, {result.n_done} of {result.n_total} "
               f"clips that need one have it (job {result.job_id})")
    if result.n_failed:
        raise SystemExit(1)
