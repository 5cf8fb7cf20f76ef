"""How the command line fails: one line naming what failed and why, never a Python traceback (unless --verbose).

Stages report the failures they expect themselves (a clip, a file and the reason, and the batch
goes on). `GuardedGroup` catches what they did not expect, anywhere under `egocurate`: the user
sees `error: <command>: <Type>: <message>` and a hint; `egocurate --verbose` (or
`EGOCURATE_VERBOSE=1`) prints the traceback too, and lets third-party native logs through
(`labeling/native_logs.py`).
"""

from __future__ import annotations

import os
import traceback

import click

from labeling.native_logs import VERBOSE_ENV, verbose

PASS_THROUGH = (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit, SystemExit,
                KeyboardInterrupt)


def set_verbose(on: bool) -> None:
    """`--verbose`: worker processes inherit it through the environment."""
    if on:
        os.environ[VERBOSE_ENV] = "1"


def describe(exc: BaseException) -> str:
    """`Type: message` (its first line: DuckDB appends the query and a caret), with the file an OSError names."""
    text = (str(exc).strip().splitlines() or ["(no message)"])[0]
    filename = getattr(exc, "filename", None)
    if filename and str(filename) not in text:
        text = f"{filename}: {text}"
    return f"{type(exc).__name__}: {text}"


class GuardedGroup(click.Group):
    """A click group whose unexpected exceptions become one clear error line (exit status 1)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PASS_THROUGH:
            raise
        except Exception as exc:
            command = " ".join(a for a in (ctx.info_name, ctx.invoked_subcommand) if a)
            if verbose():
                click.echo(traceback.format_exc(), err=True)
                hint = ""
            else:
                hint = " (run `egocurate --verbose ...` to see where it happened)"
            raise click.ClickException(f"{command}: {describe(exc)}{hint}") from exc
