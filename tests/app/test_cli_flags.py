"""`egocurate flag` and `egocurate segment` (#16): every decision from a script, the pages' functions, audited,
role-checked once the store has users; each command prints the id it made or changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from curation.flags import clip_history, get_flag, list_flags
from curation.labels import list_labels
from db import auth
from db.engine import query_engine
from tests.curation.demo_retargets import paired_demo_root


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return paired_demo_root(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def clip_id(root) -> str:
    return query_engine(root).cursor().execute("SELECT clip_id FROM clips WHERE kind = 'human' ORDER BY clip_id"
                                               ).fetchone()[0]


def run(root: Path, *args: str, env: dict | None = None, stdin: str | None = None):  # noqa: ANN201
    return CliRunner().invoke(main, ["--root", str(root), *args], env=env, input=stdin)


def test_flag_add_confirm_dismiss_list_print_the_ids_and_are_audited(root, clip_id):
    added = run(root, "flag", "add", clip_id, "--frames", "10:29", "--hand", "left", "--reason", "occluded",
                "--proposed", "--user", "ann")
    assert added.exit_code == 0, added.output
    flag_id = int(added.stdout)
    assert "frames 10:29, proposed by ann" in added.stderr
    flag = get_flag(root, flag_id)
    assert (flag.frame_start, flag.frame_end, flag.hand, flag.state, flag.author) == (10, 29, "left", "proposed", "ann")
    confirmed = run(root, "flag", "confirm", str(flag_id), "--user", "bob")
    assert confirmed.exit_code == 0 and int(confirmed.stdout) == flag_id
    assert get_flag(root, flag_id).state == "confirmed"
    listed = run(root, "flag", "list", "--clip", clip_id, "--state", "confirmed")
    assert listed.exit_code == 0 and f"{flag_id:>6}  {clip_id}  confirmed" in listed.stdout and "10:29" in listed.stdout
    dismissed = run(root, "flag", "dismiss", str(flag_id), "--user", "cy")
    assert dismissed.exit_code == 0 and int(dismissed.stdout) == flag_id
    assert get_flag(root, flag_id).state == "dismissed"
    history = clip_history(root, clip_id)
    mine = history[history["entity_id"] == str(flag_id)]
    assert list(zip(mine["action"], mine["actor"], strict=True)) == [
        ("flag.create", "ann"), ("flag.confirmed", "bob"), ("flag.dismissed", "cy")]
    default = run(root, "flag", "add", clip_id, "--frames", "0:3", "--reason", "blurry", "--user", "ann")
    assert get_flag(root, int(default.stdout)).state == "confirmed"  # a curator's own flag, as on the Review page


def test_segment_add_and_list(root, clip_id):
    added = run(root, "segment", "add", clip_id, "--frames", "40:90", "--text", "grasp the cup", "--user", "ann")
    assert added.exit_code == 0, added.output
    label_id = int(added.stdout)
    [segment] = [label for label in list_labels(root, clip_id) if label.id == label_id]
    assert (segment.kind, segment.frame_start, segment.frame_end, segment.text) == ("segment", 40, 90, "grasp the cup")
    listed = run(root, "segment", "list", clip_id)
    assert "40:90" in listed.stdout and "grasp the cup" in listed.stdout


@pytest.mark.parametrize("args, message", [
    (("flag", "add", "no-such-clip", "--frames", "1:2", "--reason", "x"), "no clip 'no-such-clip'"),
    (("flag", "add", "CLIP", "--frames", "5:2", "--reason", "x"), "need 0 <= A <= B"),
    (("flag", "add", "CLIP", "--frames", "ten", "--reason", "x"), "give the frames as A:B"),
    (("flag", "add", "CLIP", "--frames", "0:100000", "--reason", "x"), "run past its end"),
    (("segment", "add", "CLIP", "--frames", "1:2", "--text", "  "), "must not be empty"),
    (("flag", "confirm", "999999"), "no flag 999999"),
])
def test_bad_requests_say_why_and_write_nothing(root, clip_id, args, message):
    before = len(list_flags(root)), len(list_labels(root, clip_id))
    result = run(root, *[clip_id if a == "CLIP" else a for a in args], "--user", "ann")
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert (len(list_flags(root)), len(list_labels(root, clip_id))) == before


def test_with_users_a_decision_needs_a_signed_in_curator(root, clip_id, tmp_path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(root, store)
    auth.add_user(store, "ada", "a long admin password", "admin", actor="test")
    auth.add_user(store, "vic", "a long viewer password", "viewer", actor="test")
    auth.add_user(store, "cur", "a long curator password", "curator", actor="test")
    args = ("flag", "add", clip_id, "--frames", "1:2", "--reason", "x")
    viewer = run(store, *args, "--user", "vic", env={"EGOCURATE_PASSWORD": "a long viewer password"})
    assert viewer.exit_code != 0 and "needs the curator role" in viewer.output
    wrong = run(store, *args, "--user", "cur", env={"EGOCURATE_PASSWORD": "not it"})
    assert wrong.exit_code != 0 and list_flags(store, clip_id) == list_flags(root, clip_id)
    curator = run(store, *args, "--user", "cur", "--password-stdin", stdin="a long curator password\n",
                  env={"EGOCURATE_PASSWORD": ""})
    assert curator.exit_code == 0, curator.output
    flag = get_flag(store, int(curator.stdout))
    assert flag.author == "cur"
    confirm = run(store, "flag", "confirm", str(flag.id), "--user", "vic",
                  env={"EGOCURATE_PASSWORD": "a long viewer password"})
    assert confirm.exit_code != 0 and "needs the curator role" in confirm.output
    segment = run(store, "segment", "add", clip_id, "--frames", "1:2", "--text", "t", "--user", "ada",
                  env={"EGOCURATE_PASSWORD": "a long admin password"})
    assert segment.exit_code == 0 and "ada" in segment.stderr
