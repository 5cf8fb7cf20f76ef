"""The `egocurate pair` commands: propose and align pairs, then decide on them (registered on app.cli's main).

    egocurate [--root DIR] pair [--min-similarity F] [--max-cost F] [--min-speed-ratio F]   propose + align (DTW)
    egocurate [--root DIR] pair list [--state S]... [--json]
    egocurate [--root DIR] pair accept ID [--reason TEXT] [--author NAME]
    egocurate [--root DIR] pair reject ID --reason TEXT [--author NAME]
    egocurate [--root DIR] pair reopen ID [--author NAME]

Decisions go through `curation.pair_store.decide_pair`, the function the Pairs page calls: recorded
with the author and in the audit log, refused when someone changed the pair since it was read.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click


@click.group(invoke_without_command=True)
@click.option("--min-similarity", type=click.FloatRange(0, 1), default=None,
              help="Task similarity a candidate pair needs (default: curation.pairing.PairConfig).")
@click.option("--max-cost", type=click.FloatRange(0, min_open=True), default=None,
              help="Aligned pairs costlier than this (DTW cost: RMS radians per joint and step) are not proposed "
                   "(default: curation.pairing.PairConfig).")
@click.option("--min-speed-ratio", type=click.FloatRange(0, 1), default=None,
              help="Pairs whose matched human stretch and robot episode last more than 1/this apart are degenerate, "
                   "not proposed (default: curation.pairing.PairConfig).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def pair(ctx: click.Context, min_similarity: float | None, max_cost: float | None, min_speed_ratio: float | None,
         quiet: bool) -> None:
    """Propose human-robot pairs by task and align them with DTW; curators' decisions are kept.

    Robot episodes with an embodiment spec are aligned in their own hand space, against human clips
    retargeted to that robot's hand; `pair list|accept|reject` decide on the proposals.
    """
    if ctx.invoked_subcommand is not None:
        return
    from curation.pairing import PairConfig, report_json, run_pairing

    root: Path = ctx.obj
    defaults = PairConfig()
    cfg = PairConfig(min_task_similarity=defaults.min_task_similarity if min_similarity is None else min_similarity,
                     max_cost=defaults.max_cost if max_cost is None else max_cost,
                     min_speed_ratio=defaults.min_speed_ratio if min_speed_ratio is None else min_speed_ratio)
    report = run_pairing(root, cfg, actor=getpass.getuser(), progress=not quiet)
    frame = report.frame
    if frame.empty:
        click.secho("pair: no human clip and robot episode share a task", fg="yellow", err=True)
    notes = frame.loc[frame["cost"].isna(), "note"].dropna().value_counts()
    for note, count in notes.items():
        click.secho(f"not aligned ({count} candidate{'s' * (count != 1)}): {note}", fg="yellow", err=True)
    _echo_not_proposed(frame, cfg.max_cost)
    click.echo(f"pair: {report_json(report)}")


def _echo_not_proposed(frame: object, max_cost: float, limit: int = 20) -> None:
    """The aligned candidates that were not proposed, cheapest first: cost, both tasks, why."""
    rejected = frame[frame["outcome"].isin(["too_costly", "degenerate"])].sort_values("cost")
    if rejected.empty:
        return
    click.secho(f"not proposed ({len(rejected)} aligned candidate{'s' * (len(rejected) != 1)}; cost is RMS rad per "
                f"joint, --max-cost {max_cost:g}):", fg="yellow", err=True)
    for row in rejected.head(limit).itertuples():
        click.secho(f"  cost {row.cost:.3f}  human {str(row.human_task)[:40]!r} ~ robot {str(row.robot_task)[:40]!r}: "
                    f"{row.note}", err=True)
    if len(rejected) > limit:
        click.secho(f"  ... and {len(rejected) - limit} more", err=True)


@pair.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(["proposed", "accepted", "rejected", "withdrawn"]),
              help="Only pairs in this state (repeatable); default: all.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per pair.")
@click.pass_obj
def pair_list(root: Path, states: tuple[str, ...], as_json: bool) -> None:
    """The pairs, best cost first: id, state, cost, task similarity, both tasks, who decided."""
    from curation.pair_view import pair_table
    from db.engine import query_engine

    table = pair_table(query_engine(root), tuple(states))
    if as_json:
        for record in table.to_dict(orient="records"):
            click.echo(json.dumps({k: (None if v != v else v) for k, v in record.items()}, default=str))
    elif table.empty:
        click.echo("(no pairs)")
    else:  # one blank for "none", whatever the column's dtype (NaN, None)
        click.echo(table.astype(object).where(table.notna(), "").to_string(index=False, max_colwidth=40))


def _decide(root: Path, pair_id: int, state: str, author: str, reason: str | None) -> None:
    from curation.pair_store import StaleUpdateError, decide_pair, get_pair

    current = get_pair(root, pair_id)
    if current is None:
        raise click.ClickException(f"no pair with id {pair_id} (egocurate pair list)")
    if current.state == state and (reason is None or reason == current.reason):  # nothing to change: no new version
        by = f" by {current.decided_by}" if current.decided_by else ""
        click.echo(f"pair {pair_id} is already {state}{by} (version {current.version}); nothing changed")
        return
    try:
        decided = decide_pair(root, pair_id, state, author, current.version, reason)
    except (StaleUpdateError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    cost = "no cost" if decided.cost is None else f"cost {decided.cost:.3f}"
    click.echo(f"pair {pair_id} {decided.state} by {author} ({cost}, version {decided.version})")


def _author_option(command: click.Command) -> click.Command:
    return click.option("--author", default=getpass.getuser, show_default="$USER",
                        help="Who decides (written with the decision and in the audit log).")(command)


@pair.command("accept")
@click.argument("pair_id", type=int)
@click.option("--reason", default=None, help="Why (optional).")
@_author_option
@click.pass_obj
def pair_accept(root: Path, pair_id: int, reason: str | None, author: str) -> None:
    """Accept pair PAIR_ID: exports then write it."""
    _decide(root, pair_id, "accepted", author, reason)


@pair.command("reject")
@click.argument("pair_id", type=int)
@click.option("--reason", required=True, help="Why the pair is wrong (required).")
@_author_option
@click.pass_obj
def pair_reject(root: Path, pair_id: int, reason: str, author: str) -> None:
    """Reject pair PAIR_ID with a reason."""
    _decide(root, pair_id, "rejected", author, reason)


@pair.command("reopen")
@click.argument("pair_id", type=int)
@_author_option
@click.pass_obj
def pair_reopen(root: Path, pair_id: int, author: str) -> None:
    """Put a decided pair back to proposed."""
    _decide(root, pair_id, "proposed", author, None)
