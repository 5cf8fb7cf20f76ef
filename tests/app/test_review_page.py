"""Review page (AppTest): walk the queue, decide, refuse a stale decision, flag a clip, bulk-decide a view."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation.flags import confirm_flag, list_flags
from curation.labels import task_label
from curation.views import save_view
from db.view_spec import ViewSpec
from tests.app.test_quality_page import page, scored_root

PAGE = Path(__file__).resolve().parents[2] / "app" / "app_pages" / "review.py"


@pytest.fixture
def review(tmp_path, monkeypatch):  # noqa: ANN201
    root = scored_root(tmp_path / "root")
    at = page(root, monkeypatch, PAGE)
    return root, at


def states(root: Path) -> dict[str, str]:
    return {f.clip_id: f.state for f in list_flags(root)}


def test_decisions_need_a_name_and_land_in_the_store(review):
    root, at = review
    at.run()
    assert not at.exception and at.title[0].value == "Review"
    assert "Flag 1 of 2" in at.markdown[0].value
    assert at.button(key="review_confirm").disabled  # no curator name yet
    at.text_input(key="review.curator").input("ann").run()
    first = at.session_state["review.flag_id"]
    at.button(key="review_confirm").click().run()
    assert not at.exception
    assert "by ann" in at.success[0].value and "Flag 1 of 1" in at.markdown[0].value
    at.button(key="review_dismiss").click().run()
    assert sorted(states(root).values()) == ["confirmed", "dismissed"]
    assert [f.author for f in list_flags(root)] == ["rules", "rules"]
    assert list_flags(root)[0].id == first
    assert "Nothing to review" in at.success[-1].value


def test_navigation_and_a_stale_decision(review):
    root, at = review
    at.session_state["review.curator"] = "bob"
    at.run()
    first = at.session_state["review.flag_id"]
    at.button(key="review_next").click().run()
    second = at.session_state["review.flag_id"]
    assert second != first and "Flag 2 of 2" in at.markdown[0].value
    at.button(key="review_prev").click().run()
    assert at.session_state["review.flag_id"] == first
    flag = next(f for f in list_flags(root) if f.id == first)
    confirm_flag(root, first, "ann", expected_version=flag.version)  # someone else, meanwhile
    at.button(key="review_dismiss").click().run()
    assert not at.exception
    assert "changed by ann" in at.error[0].value and "now 'confirmed'" in at.error[0].value
    assert next(f for f in list_flags(root) if f.id == first).state == "confirmed"


def test_curator_flag_form_history_and_bulk(review):
    root, at = review
    save_view(root, "waves", ViewSpec(tasks=("wave",)), "ann")
    at.session_state["review.curator"] = "cid"
    at.run()
    at.button(key="review_flag").click().run()
    next(t for t in at.text_input if t.label == "Reason").input("thumb hidden")
    next(b for b in at.button if b.label == "Save flag").click().run()
    assert not at.exception
    curator_flags = [f for f in list_flags(root) if f.origin == "curator"]
    assert [(f.reason, f.author, f.state) for f in curator_flags] == [("thumb hidden", "cid", "confirmed")]
    at.selectbox(key="review.view").set_value("waves").run()
    assert "Flag 1 of 1" in at.markdown[0].value
    at.checkbox(key="review.bulk_sure").check().run()
    at.button(key="review_bulk_dismissed").click().run()
    assert not at.exception and "1 flags dismissed by cid" in at.success[0].value
    rule_flags = {f.clip_id: f.state for f in list_flags(root) if f.origin == "rule"}
    assert rule_flags == {"wave-3": "dismissed", "pour-4": "proposed"}
    assert "Nothing to review" in at.success[-1].value


def test_task_text_correction(review):
    root, at = review
    at.session_state["review.curator"] = "dee"
    at.run()
    field = next(t for t in at.text_input if t.label == "Corrected task text")
    assert field.value in {"wave", "pour"}  # starts from the catalogued task
    field.input("wave both hands at the camera")
    next(b for b in at.button if b.label == "Save task text").click().run()
    assert not at.exception and "Task text of clip" in at.success[0].value
    clip_id = next(f.clip_id for f in list_flags(root) if f.id == at.session_state["review.flag_id"])
    assert task_label(root, clip_id).text == "wave both hands at the camera"
