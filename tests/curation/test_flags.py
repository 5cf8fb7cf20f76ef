"""Flags: decisions on the version seen, stale updates refused, every change audited, rules idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from curation.flags import (
    StaleUpdateError,
    bulk_set_state,
    clip_history,
    confirm_flag,
    create_flag,
    dismiss_flag,
    get_flag,
    list_flags,
    set_flag_state,
    sync_rule_flags,
)
from curation.rules import ProposedFlag
from db.engine import QueryEngine
from db.models import AuditEntry
from db.store import session_scope

pytestmark = pytest.mark.usefixtures("store_backend")  # each test on SQLite and on PostgreSQL


def proposal(clip_id: str = "c1", rule: str = "jitter", hand: str | None = "left", frames=(10, 20)) -> ProposedFlag:  # noqa: ANN001
    return ProposedFlag(clip_id, rule, hand, frames[0], frames[1], "warning", "jitter", "jitters", 5.0, 3.0)


def test_curator_flag_on_a_frame_range_is_audited(root):
    flag = create_flag(root, "c1", "hand leaves the table", "ann", severity="error", frame_start=5, frame_end=9,
                       hand="right")
    assert (flag.state, flag.origin, flag.version, flag.author) == ("confirmed", "curator", 1, "ann")
    history = clip_history(root, "c1")
    assert list(history["action"]) == ["flag.create"] and history["after"][0]["frame_start"] == 5


@pytest.mark.parametrize("kwargs, message", [
    ({"severity": "fatal"}, "severity"), ({"hand": "middle"}, "hand"), ({"frame_start": 3}, "both"),
    ({"frame_start": 9, "frame_end": 2}, "frame_start <= frame_end"), ({"origin": "robot"}, "origin"),
])
def test_flag_validation(root, kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_flag(root, "c1", "x", "ann", **kwargs)


def test_decisions_bump_versions_and_appear_in_duckdb(root):
    flag = create_flag(root, "c1", "jitter", "rules", origin="rule", rule="jitter")
    assert flag.state == "proposed"
    confirmed = confirm_flag(root, flag.id, "ann", expected_version=1)
    assert (confirmed.state, confirmed.version) == ("confirmed", 2)
    dismissed = dismiss_flag(root, flag.id, "bob", expected_version=2)  # changing one's mind: on the new version
    assert dismissed.state == "dismissed"
    rows = QueryEngine(root).cursor().execute("SELECT state, version FROM flags").fetchall()
    assert rows == [("dismissed", 3)]
    actions = [(r.action, r.before, r.after) for r in clip_history(root, "c1").itertuples()]
    assert actions[1:] == [
        ("flag.confirmed", {"state": "proposed", "version": 1}, {"state": "confirmed", "version": 2}),
        ("flag.dismissed", {"state": "confirmed", "version": 2}, {"state": "dismissed", "version": 3})]


def test_repeating_a_decision_changes_nothing(root):
    flag = create_flag(root, "c1", "jitter", "rules", origin="rule", rule="jitter")
    confirm_flag(root, flag.id, "ann", expected_version=1)
    again = confirm_flag(root, flag.id, "bob", expected_version=2)  # a double click, or a second curator agreeing
    assert (again.state, again.version) == ("confirmed", 2)
    assert list(clip_history(root, "c1")["action"]) == ["flag.create", "flag.confirmed"]  # no second audit row
    with pytest.raises(StaleUpdateError):  # still checked against the version seen
        confirm_flag(root, flag.id, "bob", expected_version=1)


def test_a_stale_decision_is_refused_naming_who_changed_what(root):
    flag = create_flag(root, "c1", "jitter", "rules", origin="rule", rule="jitter")
    confirm_flag(root, flag.id, "ann", expected_version=1)
    with pytest.raises(StaleUpdateError) as caught:
        dismiss_flag(root, flag.id, "bob", expected_version=1)  # bob still sees version 1
    message = str(caught.value)
    assert f"flag {flag.id} on clip c1" in message and "changed by ann" in message
    assert "now 'confirmed'" in message and "you had version 1" in message
    assert get_flag(root, flag.id).state == "confirmed"  # nothing overwritten
    with pytest.raises(StaleUpdateError, match="no longer exists"):
        confirm_flag(root, 999, "bob", expected_version=1)
    with pytest.raises(ValueError, match="state must be one of"):
        set_flag_state(root, flag.id, "withdrawn", "bob", expected_version=2)
    with pytest.raises(ValueError, match="curator's name"):
        set_flag_state(root, flag.id, "dismissed", "", expected_version=2)


def test_bulk_decisions_skip_and_report_stale_flags(root):
    flags = [create_flag(root, f"c{i}", "jitter", "rules", origin="rule", rule="jitter") for i in range(3)]
    confirm_flag(root, flags[1].id, "ann", expected_version=1)
    result = bulk_set_state(root, [(f.id, 1) for f in flags], "dismissed", "bob")
    assert result.updated == [flags[0].id, flags[2].id]
    assert len(result.stale) == 1 and result.stale[0].entity_id == flags[1].id
    assert [f.state for f in list_flags(root)] == ["dismissed", "confirmed", "dismissed"]


def test_rule_sync_is_idempotent_and_leaves_decisions_alone(root):
    first = sync_rule_flags(root, [proposal(), proposal("c2")], {"c1", "c2"})
    again = sync_rule_flags(root, [proposal(), proposal("c2")], {"c1", "c2"})
    assert (first.created, again.created, again.kept) == (2, 0, 2)
    c1 = list_flags(root, "c1")[0]
    dismiss_flag(root, c1.id, "ann", expected_version=c1.version)
    # The rule now points at other frames of c1: the curator already decided on this rule and hand.
    third = sync_rule_flags(root, [proposal(frames=(12, 22)), proposal("c2")], {"c1", "c2"})
    assert third.created == 0 and [f.state for f in list_flags(root, "c1")] == ["dismissed"]
    assert len(list_flags(root)) == 2


def test_rule_sync_withdraws_stale_proposals_and_reproposes(root):
    sync_rule_flags(root, [proposal(), proposal("c2")], {"c1", "c2"})
    report = sync_rule_flags(root, [proposal()], {"c1", "c2"})
    assert report.withdrawn == 1 and list_flags(root, "c2")[0].state == "withdrawn"
    report = sync_rule_flags(root, [proposal(), proposal("c2")], {"c1", "c2"})
    assert report.reproposed == 1 and list_flags(root, "c2")[0].state == "proposed"
    untouched = sync_rule_flags(root, [], {"c1"})  # c2 was not scored: its flag stays
    assert untouched.withdrawn == 1 and list_flags(root, "c2")[0].state == "proposed"
    with session_scope(root) as session:
        actions = session.execute(select(AuditEntry.action).where(AuditEntry.clip_id == "c2")
                                  .order_by(AuditEntry.id)).scalars().all()
    assert actions == ["flag.create", "flag.withdrawn", "flag.proposed"]
