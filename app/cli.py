"""The `egocurate` command line: thin over the packages, the same functions the app calls.

    egocurate [--root DIR] ingest PATH... [--source auto|video|egodex|lerobot]
    egocurate [--root DIR] sql [--json] "SELECT ..."
    egocurate [--root DIR] demo [--no-app] [--port N]
    egocurate [--root DIR] app [--port N] [--host ADDR]

`--root` defaults to `$EGOCURATE_HOME`, else `./egocurate-data`.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime
from pathlib import Path

import click

from db import paths


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data root (default: $EGOCURATE_HOME, else ./egocurate-data).")
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """EgoCurate: egocentric hand video to robot-ready training data."""
    ctx.obj = paths.resolve_root(root)


def _print_report(report) -> None:  # noqa: ANN001 (labeling.ingest.IngestReport, imported lazily)
    for warning in report.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    for failure in report.failures:
        click.secho(f"error: {failure.item}: {failure.reason}", fg="red", err=True)
    click.echo(f"ingest: {len(report.added)} clips added, {report.skipped} already catalogued, "
               f"{len(report.failures)} failed")


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", type=click.Choice(["auto", "video", "egodex", "lerobot"]), default="auto",
              show_default=True, help="Force a reader instead of detecting one per input.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def ingest(root: Path, inputs: tuple[Path, ...], source: str, quiet: bool) -> None:
    """Catalogue raw videos, EgoDex pairs (.mp4 + .hdf5) and LeRobot datasets."""
    from labeling.ingest import ingest as run_ingest

    report = run_ingest(root, list(inputs), source=source, progress=not quiet)
    _print_report(report)
    if not report.ok:
        sys.exit(1)


def _json_cell(value: object) -> object:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


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
    from db.queries import SQL_ROW_CAP, SQL_TIMEOUT_S, SqlError, run_readonly_sql

    try:
        result = run_readonly_sql(query_engine(root), query, row_cap or SQL_ROW_CAP, timeout_s or SQL_TIMEOUT_S)
    except SqlError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for record in result.frame.to_dict(orient="records"):
            click.echo(json.dumps({k: _json_cell(v) for k, v in record.items()}, default=str))
    else:
        click.echo(result.frame.to_string(index=False, max_colwidth=60))
    if result.truncated:
        click.secho(f"(truncated to {len(result.frame)} rows)", fg="yellow", err=True)


@main.command()
@click.option("--no-app", is_flag=True, help="Build and ingest the demo set, do not start the app.")
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def demo(root: Path, no_app: bool, port: int, seed: int) -> None:
    """Generate the synthetic demo set (no downloads), ingest it, and open the app."""
    from labeling.demo_set import build_demo

    report = build_demo(root, seed=seed)
    _print_report(report)
    if not no_app:
        from app.launch import launch

        launch(root, port=port)


@main.command()
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; the default keeps the app on this machine.")
@click.pass_obj
def app(root: Path, port: int, host: str) -> None:
    """Start the web app on the data root."""
    from app.launch import launch

    launch(root, port=port, host=host)


if __name__ == "__main__":
    main()
