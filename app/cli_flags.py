"""The `egocurate flag` and `egocurate segment` commands: a curator's decisions from a script (registered on
app.cli's main). The same functions as the Review page and the viewer, audited the same way.

    egocurate [--root DIR] flag list [--clip ID] [--state S]... [--json]
    egocurate [--root DIR] flag add CLIP_ID --frames A:B [--hand left|right] --reason TEXT [--severity S] [--proposed]
    egocurate [--root DIR] flag confirm ID | flag dismiss ID
    egocurate [--root DIR] segment add CLIP_ID --frames A:B --text TEXT | segment list [--clip ID]

Each write prints the id it made or changed on stdout (alone, for `ID=$(egocurate flag add ...)`) and a
sentence on stderr. Frames are inclusive (`--frames 10:29` is 20 frames). Who writes: `--user`
(default $EGOCURATE_USER, else the login name). In open local mode (no users) that name is recorded; once
the store has users, the user signs in with their password ($EGOCURATE_PASSWORD, `--password-stdin`, or a
prompt) and their role is checked in the store as the pages check it (flag: curator; confirm / dismiss:
curator; segment: curator).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path

import click

PASSWORD_ENV = "EGOCURATE_PASSWORD"
USER_ENV = "EGOCURATE_USER"


def _default_user() -> str:
    return os.environ.get(USER_ENV) or getpass.getuser()


user_option = click.option("--user", "user", default=_default_user, show_default="$EGOCURATE_USER or login name",
                           help="Who decides (a user name once the store has users).")
password_option = click.option("--password-stdin", is_flag=True,
                               help=f"Read the password from stdin's first line (else ${PASSWORD_ENV}, else a prompt).")


def acting_name(root: Path, action: str, user: str, password_stdin: bool) -> str:
    """The name to write `action` with, checked against the store now (click errors when refused)."""
    from db import auth

    if not auth.has_users(root):  # open local mode: whoever runs the command, named as they say
        if not user.strip():
            raise click.UsageError("name who decides: --user NAME")
        return user.strip()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = os.environ.get(PASSWORD_ENV) or click.prompt(f"Password for {user}", hide_input=True, err=True)
    try:
        token = auth.sign_in(root, user, password)
        try:
            return auth.require(root, token, action).name
        finally:
            auth.sign_out(root, token)
    except auth.AuthError as exc:
        raise click.ClickException(str(exc)) from exc


def parse_frames(text: str) -> tuple[int, int]:
    """`A:B` (inclusive, A <= B) as two ints."""
    try:
        start, end = (int(part) for part in text.split(":"))
    except ValueError:
        raise click.BadParameter(f"{text!r}: give the frames as A:B, e.g. 10:29") from None
    if not 0 <= start <= end:
        raise click.BadParameter(f"{text!r}: need 0 <= A <= B")
    return start, end


def _check_clip(root: Path, clip_id: str, frames: tuple[int, int]) -> None:
    from db.engine import query_engine
    from db.queries.clips import get_clip

    clip = get_clip(query_engine(root), clip_id)
    if clip is None:
        raise click.ClickException(f"no clip {clip_id!r} in the catalog")
    if frames[1] >= int(clip["n_frames"]):
        raise click.ClickException(f"clip {clip_id} has {clip['n_frames']} frames (0..{int(clip['n_frames']) - 1}); "
                                   f"frames {frames[0]}:{frames[1]} run past its end")


def _done(made_id: int, sentence: str) -> None:
    click.echo(made_id)
    click.echo(sentence, err=True)


@click.group()
def flag() -> None:
    """Flags: list them, add one on a frame range, confirm or dismiss one (as the Review page does)."""


@flag.command("list")
@click.option("--clip", "clip_id", default=None, help="Only this clip's flags.")
@click.option("--state", "states", multiple=True, help="Only flags in this state (repeatable).",
              type=click.Choice(["proposed", "confirmed", "dismissed", "withdrawn"]))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per flag.")
@click.pass_obj
def flag_list(root: Path, clip_id: str | None, states: tuple[str, ...], as_json: bool) -> None:
    """The flags, oldest first: id, clip, state, severity, frames, hand, rule, reason, version."""
    from curation.flags import list_flags

    flags = list_flags(root, clip_id, states)
    for record in flags:
        if as_json:
            click.echo(json.dumps(record.snapshot(), default=str))
            continue
        frames = "whole clip" if record.frame_start is None else f"{record.frame_start}:{record.frame_end}"
        click.echo(f"{record.id:>6}  {record.clip_id}  {record.state:<9} {record.severity:<7} {frames:<11} "
                   f"{record.hand or 'both':<5} {record.rule or 'curator':<20} v{record.version}  {record.reason}")
    if not flags:
        click.echo("no flags", err=True)


@flag.command("add")
@click.argument("clip_id")
@click.option("--frames", "frames_text", required=True, help="A:B, the first and last flagged frame (inclusive).")
@click.option("--hand", type=click.Choice(["left", "right"]), default=None, help="One hand (default: both).")
@click.option("--reason", required=True, help="Why, in a sentence.")
@click.option("--severity", type=click.Choice(["info", "warning", "error"]), default="warning", show_default=True)
@click.option("--proposed", is_flag=True, help="Leave it proposed for review (default: confirmed, a curator's flag).")
@user_option
@password_option
@click.pass_obj
def flag_add(root: Path, clip_id: str, frames_text: str, hand: str | None, reason: str, severity: str,
             proposed: bool, user: str, password_stdin: bool) -> None:
    """Flag frames A..B of CLIP_ID; a confirmed flag cuts them from exports."""
    from curation.flags import create_flag

    frames = parse_frames(frames_text)
    _check_clip(root, clip_id, frames)
    author = acting_name(root, "flag", user, password_stdin)
    try:
        record = create_flag(root, clip_id, reason.strip(), author, severity=severity, frame_start=frames[0],
                             frame_end=frames[1], hand=hand, state="proposed" if proposed else None)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    _done(record.id, f"flag {record.id} added on clip {clip_id}, frames {frames[0]}:{frames[1]}, {record.state} "
          f"by {author}")


def _decide(root: Path, flag_id: int, state: str, user: str, password_stdin: bool) -> None:
    from curation.flags import StaleUpdateError, get_flag, set_flag_state

    current = get_flag(root, flag_id)
    if current is None:
        raise click.ClickException(f"no flag {flag_id}")
    author = acting_name(root, "review", user, password_stdin)
    try:  # decided on the version read just now: a change in between is refused, not overwritten
        record = set_flag_state(root, flag_id, state, author, expected_version=current.version)
    except (StaleUpdateError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    _done(record.id, f"flag {record.id} on clip {record.clip_id} {state} by {author} (version {record.version})")


@flag.command("confirm")
@click.argument("flag_id", type=int)
@user_option
@password_option
@click.pass_obj
def flag_confirm(root: Path, flag_id: int, user: str, password_stdin: bool) -> None:
    """Confirm flag ID: exports leave its frames (or its whole clip) out."""
    _decide(root, flag_id, "confirmed", user, password_stdin)


@flag.command("dismiss")
@click.argument("flag_id", type=int)
@user_option
@password_option
@click.pass_obj
def flag_dismiss(root: Path, flag_id: int, user: str, password_stdin: bool) -> None:
    """Dismiss flag ID: it no longer keeps anything out."""
    _decide(root, flag_id, "dismissed", user, password_stdin)


@click.group()
def segment() -> None:
    """Segment labels: a named frame range of a clip, exported as a subtask (LeRobot 0.6) or annotation (GR00T)."""


@segment.command("add")
@click.argument("clip_id")
@click.option("--frames", "frames_text", required=True, help="A:B, the segment's first and last frame (inclusive).")
@click.option("--text", required=True, help="What happens in it, e.g. 'grasp the cup'.")
@user_option
@password_option
@click.pass_obj
def segment_add(root: Path, clip_id: str, frames_text: str, text: str, user: str, password_stdin: bool) -> None:
    """Label frames A..B of CLIP_ID with TEXT."""
    from curation.labels import add_segment

    frames = parse_frames(frames_text)
    _check_clip(root, clip_id, frames)
    author = acting_name(root, "label-text", user, password_stdin)
    try:
        record = add_segment(root, clip_id, frames[0], frames[1], text, author)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    _done(record.id, f"segment {record.id} added on clip {clip_id}, frames {frames[0]}:{frames[1]} by {author}: "
          f"{record.text!r}")


@segment.command("list")
@click.argument("clip_id")
@click.pass_obj
def segment_list(root: Path, clip_id: str) -> None:
    """CLIP_ID's segments: id, frames, author, version, text."""
    from curation.labels import list_labels

    found = [label for label in list_labels(root, clip_id) if label.kind == "segment"]
    for label in found:
        click.echo(f"{label.id:>6}  {label.frame_start}:{label.frame_end}  {label.author}  v{label.version}  "
                   f"{label.text}")
    if not found:
        click.echo("no segments", err=True)
