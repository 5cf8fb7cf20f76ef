"""Labels: task text corrections (versioned, audited) and segments."""

from __future__ import annotations

import pytest

from curation.flags import StaleUpdateError, clip_history
from curation.labels import add_segment, list_labels, set_task_text, task_label, update_label

pytestmark = pytest.mark.usefixtures("store_backend")  # each test on SQLite and on PostgreSQL


def test_task_text_correction_is_versioned(root):
    first = set_task_text(root, "c1", "  pour the water  ", "ann")
    assert (first.text, first.version, first.kind) == ("pour the water", 1, "task")
    second = set_task_text(root, "c1", "pour water into the cup", "bob", expected_version=1)
    assert second.version == 2 and task_label(root, "c1").text == "pour water into the cup"
    with pytest.raises(StaleUpdateError, match="changed by bob"):
        set_task_text(root, "c1", "pour", "ann", expected_version=1)
    with pytest.raises(StaleUpdateError, match="already exists, last saved by bob"):
        set_task_text(root, "c1", "pour", "cid")  # never saw the correction that exists
    assert [e for e in clip_history(root, "c1")["action"]] == ["label.task.create", "label.task.update"]


def test_segments(root):
    grasp = add_segment(root, "c1", 10, 30, "grasp", "ann")
    add_segment(root, "c1", 31, 60, "place", "ann")
    moved = update_label(root, grasp.id, "grasp cup", "ann", expected_version=1, frame_start=12, frame_end=30)
    assert (moved.frame_start, moved.text) == (12, "grasp cup")
    assert [(label.kind, label.text) for label in list_labels(root, "c1")] == [("segment", "grasp cup"),
                                                                               ("segment", "place")]
    with pytest.raises(ValueError, match="frame_start <= frame_end"):
        add_segment(root, "c1", 9, 3, "x", "ann")
    with pytest.raises(ValueError, match="empty"):
        add_segment(root, "c1", 1, 3, "  ", "ann")
