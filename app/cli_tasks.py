"""The `egocurate task` commands: task text for clips whose media has none (registered on app.cli's main).

    egocurate [--root DIR] task set CLIP_ID TEXT [--author NAME]
    egocurate [--root DIR] task import FILE.csv [--author NAME]      columns clip_id,task (a header row)
    egocurate [--root DIR] task list --missing [--csv]               clips without task text

Each write is the Review page's task correction (`curation.labels.set_task_text`, through
`curation.tasks`), recorded in the audit log with the author.
"""

from __future__ import annotations

import csv
import getpass
import sys
from pathlib import Path

import click


def _default_author() -> str:
    return f"cli:{getpass.getuser()}"


@click.group()
def task() -> None:
    """Task text for clips whose media has none (raw videos): one clip, a CSV of many, the clips missing one.

    A clip without task text is never proposed for pairing by task similarity and is exported with
    the placeholder task "(no task text)"; giving it a task fixes both.
    """


@task.command("set")
@click.argument("clip_id")
@click.argument("text")
@click.option("--author", default=_default_author, help="Who says so (default: cli:$USER).")
@click.pass_obj
def task_set(root: Path, clip_id: str, text: str, author: str) -> None:
    """Give CLIP_ID the task TEXT (replaces an earlier correction)."""
    from curation.tasks import set_clip_task

    try:
        record = set_clip_task(root, clip_id, text, author)
    except (KeyError, ValueError) as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else str(exc)) from exc
    click.echo(f"task of {clip_id} set (version {record.version}): {record.text}")


@task.command("import")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--author", default=_default_author, help="Who says so (default: cli:$USER).")
@click.pass_obj
def task_import(root: Path, csv_path: Path, author: str) -> None:
    """Set the task of every clip in CSV_PATH (UTF-8, header `clip_id,task`); bad rows are reported and skipped."""
    from curation.tasks import import_task_csv

    try:
        result = import_task_csv(root, csv_path, author)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for line, clip_id, reason in result.failures:
        click.secho(f"error: {csv_path}:{line} {clip_id or '(no clip_id)'}: {reason}", fg="red", err=True)
    click.echo(f"task import: {len(result.done)} clips given their task, {len(result.failures)} rows failed")
    if result.failures and not result.done:
        sys.exit(1)


@task.command("list")
@click.option("--missing", is_flag=True, required=True, help="List the clips without task text.")
@click.option("--csv", "as_csv", is_flag=True, help="Print a `clip_id,task` CSV to fill in and `task import`.")
@click.pass_obj
def task_list(root: Path, missing: bool, as_csv: bool) -> None:
    """The clips without task text (neither from their media nor from a curator)."""
    from curation.tasks import clips_without_task
    from db.engine import query_engine

    frame = clips_without_task(query_engine(root))
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["clip_id", "task", "kind", "source", "name"])
        for row in frame.itertuples(index=False):
            writer.writerow([row.clip_id, "", row.kind, row.source, row.task_slug or ""])
        return
    if frame.empty:
        click.echo("every clip has task text")
        return
    click.echo(frame.to_string(index=False, max_colwidth=60))
    click.secho(f"({len(frame)} clips without task text; `egocurate task list --missing --csv > tasks.csv`, fill in "
                "the task column, then `egocurate task import tasks.csv`)", err=True)


def apply_ingest_task(root: Path, clip_ids: list[str], text: str | None) -> None:
    """`ingest --task` on videos catalogued before: give the task to those still without one, and say so."""
    if not text or not clip_ids:
        return
    from curation.tasks import give_missing_tasks

    done = give_missing_tasks(root, clip_ids, text, _default_author())
    if done:
        click.echo(f"task: {len(done)} clips catalogued before had no task text and now have it")
