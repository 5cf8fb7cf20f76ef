"""Pairs page (AppTest): the synced player, path and curves of a pair; accept, and a rejection needs a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation.pair_store import get_pair
from curation.pairing import PairConfig, run_pairing
from tests.app.test_quality_page import page
from tests.curation.demo_retargets import paired_demo_root

PAGE = Path(__file__).resolve().parents[2] / "app" / "app_pages" / "pairs.py"


@pytest.fixture(scope="module")
def paired_root(tmp_path_factory) -> Path:
    root = paired_demo_root(tmp_path_factory.getbasetemp())
    run_pairing(root, PairConfig())
    return root


def test_a_pair_plays_side_by_side_with_its_path_and_curves(paired_root, monkeypatch):
    at = page(paired_root, monkeypatch, PAGE)
    at.session_state["pairs.states"] = []
    at.run()
    assert not at.exception and at.title[0].value == "Pairs"
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and "Warping path" in charts[0].proto.spec
    player = at.get("iframe")[0].proto
    assert "/egocurate/media/" in str(player) and "cfg.map" in str(player)
    assert at.button(key="pairs_accepted").disabled  # no curator name yet


def test_accept_and_reject_with_reason(paired_root, monkeypatch):
    at = page(paired_root, monkeypatch, PAGE)
    at.session_state["pairs.states"] = ["proposed"]
    at.run()
    at.text_input(key="pairs.curator").input("ann").run()
    pair_id = at.session_state["pairs.pair_id"]
    at.button(key="pairs_accepted").click().run()
    assert not at.exception and "accepted by ann" in at.success[0].value
    assert get_pair(paired_root, pair_id).state == "accepted"
    at.button(key="pairs_rejected").click().run()  # the next proposed pair, no reason given
    assert "reason" in at.error[0].value
    at.text_input(key="pairs.reason").input("the cup is never lifted").run()
    rejected_id = at.session_state["pairs.pair_id"]
    at.button(key="pairs_rejected").click().run()
    assert get_pair(paired_root, rejected_id).reason == "the cup is never lifted"
    # Leave the demo as the other tests expect it: both decisions re-opened.
    for pid in (pair_id, rejected_id):
        from curation.pair_store import decide_pair

        pair = get_pair(paired_root, pid)
        decide_pair(paired_root, pid, "proposed", "ann", pair.version)
