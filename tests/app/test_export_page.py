"""Export page (AppTest): preview of a saved view's episodes and hours, a run, and the past exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation.views import save_view
from db.view_spec import ViewSpec
from tests.app.test_quality_page import page
from tests.curation.demo_retargets import accept_replayed_pairs, paired_demo_root

PAGE = Path(__file__).resolve().parents[2] / "app" / "app_pages" / "export.py"


@pytest.fixture(scope="module")
def export_root(tmp_path_factory) -> Path:
    root = paired_demo_root(tmp_path_factory.getbasetemp())
    accept_replayed_pairs(root)
    save_view(root, "drawer-only", ViewSpec(text="drawer"), "curator")
    return root


def test_preview_run_and_past_exports(export_root, monkeypatch, tmp_path):
    at = page(export_root, monkeypatch, PAGE)
    at.session_state["export.view"] = "drawer-only"
    at.run()
    assert not at.exception and at.title[0].value == "Export"
    assert [m.value for m in at.metric][:2] == ["2", "1"]  # one pair: a human and a robot episode
    summary = at.dataframe[0].value
    assert sorted(summary["embodiment"]) == ["egocurate_hand22_bimanual", "human"]
    at.text_input(key="export.out_dir").input(str(tmp_path / "drawer")).run()
    assert at.button(key="export_run").disabled  # no name yet, as on the Pairs page
    at.text_input(key="export.author").input("ann").run()
    at.button(key="export_run").click().run()
    assert not at.exception and "Wrote 2 episodes" in at.success[0].value
    assert (tmp_path / "drawer" / "meta" / "info.json").is_file()
    assert at.json  # the manifest of the newest export
    at.button(key="export_run").click().run()  # the same destination again, no overwrite
    assert "not empty" in at.error[0].value


def test_preview_shows_the_frames_cut_per_reason_and_exports_with_them(tmp_path_factory, monkeypatch, tmp_path):
    from curation.flags import create_flag
    from db.engine import query_engine

    root = paired_demo_root(tmp_path_factory.getbasetemp())
    accept_replayed_pairs(root)
    save_view(root, "drawer-only", ViewSpec(text="drawer"), "curator")
    at = page(root, monkeypatch, PAGE)
    at.session_state["export.view"] = "drawer-only"
    at.run()
    assert any("No frames are cut" in caption.value for caption in at.caption)
    human = query_engine(root).cursor().execute(
        "SELECT human_clip_id FROM pairs p JOIN clips c ON c.clip_id = p.human_clip_id "
        "WHERE p.state = 'accepted' AND c.task ILIKE '%drawer%'").fetchone()[0]
    create_flag(root, human, "hand occluded", "curator", frame_start=10, frame_end=29)  # a confirmed span
    at.checkbox(key="export.trim_idle").check().run()
    assert not at.exception
    assert any(m.value.startswith("**Frames cut**") for m in at.markdown)
    cut = next(d.value for d in at.dataframe if {"clips", "seconds"} <= set(d.value.columns)).set_index("reason")
    assert cut.loc["flag", "frames"] == 20 and cut.loc["flag", "clips"] == 1 and "idle" in cut.index
    assert [m.value for m in at.metric][:2] == ["2", "1"]  # the clip is cut, not left out
    at.text_input(key="export.out_dir").input(str(tmp_path / "drawer")).run()
    at.text_input(key="export.author").input("ann").run()  # Export needs a name, as Pairs does
    at.button(key="export_run").click().run()
    assert not at.exception and "Wrote 2 episodes" in at.success[0].value
