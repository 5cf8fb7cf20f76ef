"""Pairing on the synthetic demo: same-task human/robot pairs proposed and aligned, wrong tasks not; decisions."""

from __future__ import annotations

import numpy as np
import pytest

from curation.align import AlignConfig, align_sequences, align_states, robot_to_human_frames, warp_error_frames
from curation.pair_store import StaleUpdateError, decide_pair, get_pair
from curation.pairing import (
    PairConfig,
    _human_states,
    _robot_states,
    judge_alignment,
    run_pairing,
    similarity_matrix,
    task_similarity,
    task_tokens,
)
from db.engine import query_engine
from db.queries.annotations import pair_rows
from db.queries.clips import pairing_clips
from labeling.synthetic.plan import warp_times

from .demo_retargets import paired_demo_root, robot_episodes, source_clip_of_robot


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = paired_demo_root(tmp_path_factory.getbasetemp())
    report = run_pairing(root, PairConfig())
    return root, report


def test_task_text_is_normalised_before_it_is_compared():
    assert task_tokens("Pick up the RED cubes, and place them!") == {"pick", "red", "cube", "place", "them"}
    assert task_similarity("Open the drawer.", "open  drawers") == 1.0
    assert task_similarity("Open the drawer.", "Pour the water") == 0.0
    assert task_similarity(None, "anything") == 0.0


def test_an_embedding_model_raises_similarity_when_one_is_given():
    def embedder(texts):  # a stand-in for a local sentence model: "shut" ~ "close"
        vectors = np.array([[1.0, 0.0] if ("close" in t or "shut" in t) else [0.0, 1.0] for t in texts])
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    plain = similarity_matrix(["shut the door"], ["close the door"])
    assert plain[0, 0] == pytest.approx(1 / 3)
    assert similarity_matrix(["shut the door"], ["close the door"], embedder)[0, 0] == pytest.approx(1.0)


def test_every_same_task_pair_is_proposed_and_no_wrong_task_pair(demo):
    root, report = demo
    clips = pairing_clips(query_engine(root)).set_index("clip_id")
    frame = report.frame
    pairs = zip(frame.human_clip_id, frame.robot_clip_id, strict=True)
    same = [clips.loc[h, "task"] == clips.loc[r, "task"] for h, r in pairs]
    assert all(same)  # wrong-task candidates never reach alignment
    n_humans_per_task = 2
    assert len(frame) == 4 * n_humans_per_task  # 4 robot episodes x the 2 takes of their task
    assert frame["cost"].notna().all()
    source = source_clip_of_robot(root)
    replayed = frame[[source[r] == h for h, r in zip(frame.human_clip_id, frame.robot_clip_id, strict=True)]]
    assert len(replayed) == 4 and (replayed["outcome"] == "proposed").all()
    stored = pair_rows(query_engine(root), ["proposed"])
    assert len(stored) == (frame["outcome"] == "proposed").sum() and stored["cost"].notna().all()


def test_the_replayed_take_is_the_cheapest_and_its_warp_is_recovered(demo):
    root, report = demo
    source, episodes = source_clip_of_robot(root), robot_episodes(root)
    clips = pairing_clips(query_engine(root)).set_index("clip_id")
    for robot_clip, group in report.frame.groupby("robot_clip_id"):
        best = group.sort_values("cost").iloc[0]
        assert best["human_clip_id"] == source[robot_clip]
    stored = pair_rows(query_engine(root))
    for robot_clip, human_clip in source.items():
        pair = get_pair(root, int(stored[(stored.robot_clip_id == robot_clip)
                                         & (stored.human_clip_id == human_clip)]["id"].iloc[0]))
        episode = episodes[robot_clip]
        truth = warp_times(episode.n_frames, episode.warp_amplitude) * (clips.loc[human_clip, "n_frames"] - 1)
        error = np.abs(robot_to_human_frames(pair.path, len(truth)) - truth)
        assert np.median(error) < 3.0  # frames; where a task holds still (start, end) any frame matches
        assert warp_error_frames(pair.path, truth) < 12


def test_wrong_task_pairs_cost_more_than_the_proposal_threshold(demo):
    root, _ = demo
    engine = query_engine(root)
    clips = pairing_clips(engine)
    info = clips.set_index("clip_id")
    humans, robots = clips[clips.kind == "human"].clip_id.tolist(), clips[clips.kind == "robot"].clip_id.tolist()
    human_states, robot_states = _human_states(engine, humans, info, "egocurate_hand22"), _robot_states(engine, robots)
    right, wrong = [], []
    source = source_clip_of_robot(root)
    for robot in robots:
        for human in humans:
            cost = align_states(human_states[human], robot_states[robot]).cost
            if source[robot] == human:
                right.append(cost)
            elif info.loc[human, "task"] != info.loc[robot, "task"]:
                wrong.append(cost)
    assert max(right) < PairConfig().max_cost < min(wrong)


def test_decisions_are_versioned_audited_and_survive_re_pairing(demo):
    root, report = demo
    pairs = pair_rows(query_engine(root), ["proposed"])
    first, second = pairs.iloc[0], pairs.iloc[1]
    accepted = decide_pair(root, int(first.id), "accepted", "alice", int(first.version))
    assert (accepted.state, accepted.decided_by, accepted.version) == ("accepted", "alice", first.version + 1)
    with pytest.raises(StaleUpdateError, match="alice"):
        decide_pair(root, int(first.id), "rejected", "bob", int(first.version), reason="wrong object")
    with pytest.raises(ValueError, match="reason"):
        decide_pair(root, int(second.id), "rejected", "bob", int(second.version))
    rejected = decide_pair(root, int(second.id), "rejected", "bob", int(second.version), reason="hand occluded")
    assert rejected.reason == "hand occluded"
    again = run_pairing(root, PairConfig())
    assert again.sync.created == 0 and again.sync.kept == report.proposed
    assert get_pair(root, int(first.id)).state == "accepted" and get_pair(root, int(second.id)).state == "rejected"
    reopened = decide_pair(root, int(first.id), "proposed", "alice", accepted.version)
    assert reopened.decided_by is None
    decide_pair(root, int(first.id), "accepted", "alice", reopened.version)


def test_pairs_no_longer_proposed_are_withdrawn_and_come_back(demo):
    root, _ = demo
    strict = run_pairing(root, PairConfig(min_task_similarity=1.0, max_cost=1e-6))
    assert strict.sync.withdrawn > 0
    assert (pair_rows(query_engine(root), ["withdrawn"])["state"] == "withdrawn").all()
    back = run_pairing(root, PairConfig())
    assert back.sync.reproposed == strict.sync.withdrawn


def test_retarget_joint_order_is_mapped_into_the_layout_order():
    from curation.action_layout import layout_from_retarget_order
    from labeling.hands import hand_tree

    for side in ("left", "right"):
        tree = hand_tree(side)
        order = layout_from_retarget_order(side)
        stored = list(tree.pinocchio_joint_names)
        assert [stored[i] for i in order] == list(tree.dof_joint_names)
        assert stored != list(tree.dof_joint_names)  # the two orders really differ for this hand


def test_a_path_that_collapses_one_side_is_not_proposed_however_cheap():
    """A robot that creeps for 20 s through what the human does in 6 frames matches them at almost no cost."""
    t = np.linspace(0.0, 1.0, 120)[:, None]
    human = 0.6 * np.sin(2 * np.pi * t * np.linspace(0.5, 1.5, 12))
    frames = np.linspace(57.0, 63.0, 400)
    robot = np.stack([np.interp(frames, np.arange(120), human[:, k]) for k in range(12)], axis=1)
    alignment = align_sequences(human, robot, lambda s, joints_only, cfg: s, AlignConfig())
    assert alignment.cost < PairConfig().max_cost and alignment.human_end - alignment.human_start < 10
    outcome, note = judge_alignment(alignment, PairConfig(), fps=(30.0, 20.0))
    assert outcome == "degenerate" and "robot frames 0-399 (20.0 s)" in note and "speed ratio" in note
    fair = align_sequences(human, human[::2], lambda s, joints_only, cfg: s, AlignConfig())  # twice as fast
    assert judge_alignment(fair, PairConfig(), fps=(30.0, 30.0)) == ("proposed", None)


def test_a_pair_names_both_tasks():
    from curation.pair_view import pair_tasks

    assert pair_tasks("Open the drawer.", "Open the drawer.") == "Open the drawer. (both)"
    assert pair_tasks("Pick the pear", "Place the lid") == "robot: Pick the pear · human: Place the lid"
    assert pair_tasks(None, float("nan")) == "(no task text)"
