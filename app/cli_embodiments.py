"""The `egocurate embodiment` commands: robot embodiment specs (registered on app.cli's main).

    egocurate [--root DIR] embodiment set SPEC.yml|NAME (--dataset DIR | --clips ID...) [--author NAME]
    egocurate [--root DIR] embodiment propose --dataset DIR --hand NAME|CONFIG.yml [...] [--name NAME]
    egocurate [--root DIR] embodiment list | show NAME

A spec says which dimensions of a robot dataset's state are which URDF joints of which hand, in
which unit (labeling/embodiment/spec.py; README "Bringing your robot"). `egocurate ingest PATH
--embodiment SPEC.yml` applies one while ingesting; `set` applies or replaces one afterwards.
"""

from __future__ import annotations

import getpass
import json
import textwrap
from pathlib import Path

import click


@click.group()
def embodiment() -> None:
    """Robot embodiment specs: which dataset dimensions are which URDF joints, in which unit."""


@embodiment.command("set")
@click.argument("spec")
@click.option("--dataset", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Every catalogued episode of this LeRobot dataset folder.")
@click.option("--clips", "clip_ids", multiple=True, help="A robot episode's clip id (repeatable).")
@click.option("--author", default=getpass.getuser, show_default="$USER", help="Recorded with the change.")
@click.pass_obj
def embodiment_set(root: Path, spec: str, dataset: Path | None, clip_ids: tuple[str, ...], author: str) -> None:
    """Set or replace the spec (a YAML file, or a stored spec's name) of already-ingested robot episodes."""
    from labeling.embodiment.apply import set_spec
    from labeling.embodiment.spec import SpecError

    try:
        applied = set_spec(root, spec, list(clip_ids), dataset, author)
    except SpecError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"embodiment {applied.name} (version {applied.version}): {applied.episodes} episodes follow it, "
               f"{applied.changed} changed")
    for warning in applied.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)


@embodiment.command("propose")
@click.option("--dataset", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="A LeRobot dataset folder (catalogued or not): its declared state names are matched, its values "
                   "give the units, its GR00T meta/modality.json (if any) says which dims are which hand.")
@click.option("--hand", required=True, help="A registered hand (inspire, allegro, ...) or a dex-retargeting config "
              "of one side (the other side's file, with left/right swapped, is used too).")
@click.option("--config-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--urdf-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--name", default=None, help="The embodiment's name (default: the dataset folder's).")
@click.pass_obj
def embodiment_propose(root: Path, dataset: Path, hand: str, config_dir: Path | None, urdf_dir: Path | None,
                       name: str | None) -> None:
    """Print a spec proposed from the names (fuzzy match of dimension names to joint names) to check and save.

    Where names say nothing (GR00T's motor_N), it prints a skeleton: one FILL_IN_<joint> key per joint to
    replace with that joint's dataset dimension (`# ` lines say where each hand's dimensions are).
    """
    import yaml

    from labeling.embodiment.propose import dataset_folder_sample, propose_spec
    from labeling.embodiment.spec import SpecError

    names, values, groups = dataset_folder_sample(dataset.resolve())
    if not names:
        raise click.ClickException(f"{dataset}: its meta/info.json declares no observation.state names; a spec maps "
                                   "names, so name the dimensions there first")
    try:
        proposal = propose_spec(names, hand, name or dataset.resolve().name, config_dir, urdf_dir, values, groups)
    except SpecError as exc:
        raise click.ClickException(f"cannot propose a spec: {'; '.join(exc.problems)}") from exc
    for line in proposal.table.to_string(index=False).splitlines():
        click.secho(f"# {line}", err=True)
    if proposal.note:
        click.secho(f"note: {proposal.note}", fg="yellow", err=True)
        for line in textwrap.wrap(proposal.note, 110):
            click.echo(f"# {line}")
        click.echo("# Replace each FILL_IN_<joint> key with that joint's dimension, then: egocurate embodiment set "
                   "THIS.yml --dataset DIR")
    spec = proposal.skeleton() if proposal.note else proposal.spec
    click.echo(yaml.safe_dump(spec, sort_keys=False, width=120, default_flow_style=None), nl=False)


@embodiment.command("list")
@click.pass_obj
def embodiment_list(root: Path) -> None:
    """The stored specs and how many robot episodes follow each."""
    from db.engine import query_engine
    from db.queries.embodiments import embodiment_table

    table = embodiment_table(query_engine(root))
    click.echo("(no embodiment specs)" if table.empty else table.to_string(index=False))


@embodiment.command("show")
@click.argument("name")
@click.pass_obj
def embodiment_show(root: Path, name: str) -> None:
    """A stored spec as JSON (paths resolved)."""
    from db.engine import query_engine
    from db.queries.embodiments import embodiment_spec_json

    data = embodiment_spec_json(query_engine(root), name)
    if data is None:
        raise click.ClickException(f"no embodiment spec named {name!r} (egocurate embodiment list)")
    click.echo(json.dumps(data, indent=2))
