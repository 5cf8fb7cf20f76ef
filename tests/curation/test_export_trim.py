"""Cutting flagged spans at export (#16): frames 10-29 of a paired human clip flagged and confirmed from the
CLI; the v3.0 and v2.1 exports leave them out, split the clip at the cut (or keep the longer piece), and
every exported frame, state and warping-path step is the source's at the recorded index."""

from __future__ import annotations

import json

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.action_layout import relative_wrists
from curation.export_episodes import ImageStats, clip_frames
from curation.export_language import ANNOTATION_COLUMN
from curation.export_plan import preview_export
from curation.pairing import human_state_62
from db.engine import query_engine
from db.queries.clips import get_clip
from db.queries.retargets import retarget_rows
from labeling.sources.lerobot_layout import MANIFEST_PATH, PAIRS_PATH

from .cut_exports import FLAG_FRAMES, SEGMENT, VIDEO, cut_exports, episodes_of, exported_frames, exported_states


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return cut_exports(tmp_path_factory.getbasetemp())


def assert_frames_are(decoded: list[np.ndarray], reference: np.ndarray, start: int) -> None:
    """Decoded frame k (through the codec) is reference frame `start + k`: each is close to it, and over the
    episode the reference fits best unshifted (one frame alone can look like its neighbour in a still scene)."""
    video = np.stack(decoded).astype(np.int16)
    errors = np.abs(video - reference[start:start + len(video)]).mean(axis=(1, 2, 3))
    assert errors.max() < 8.0, errors.max()
    for shift in (-3, -2, -1, 1, 2, 3):
        lo, hi = max(0, -start - shift), min(len(video), len(reference) - start - shift)
        shifted = np.abs(video[lo:hi] - reference[start + shift + lo:start + shift + hi]).mean()
        assert errors[lo:hi].mean() < shifted, (shift, errors[lo:hi].mean(), shifted)


@pytest.fixture(scope="module")
def source(built):
    """The flagged clip's letterboxed source frames (the export's own resize) and its 62-D state."""
    engine = query_engine(built.root)
    clip = get_clip(engine, built.clip_id)
    frames = list(clip_frames(clip["path"], 0.0, built.n_frames, VIDEO, ImageStats()))
    state, _ = human_state_62(retarget_rows(engine, [built.clip_id], "egocurate_hand22"), built.n_frames)
    return np.stack(frames).astype(np.int16), state


def test_the_flagged_frames_leave_and_the_clip_splits_at_the_cut(built):
    for out in (built.split_v3, built.split_v21):
        mine = [e for e in episodes_of(out) if e["clip_id"] == built.clip_id]
        assert [e["kept_frames"] for e in mine] == [[[0, FLAG_FRAMES[0]]], [[FLAG_FRAMES[1] + 1, built.n_frames]]]
        assert sum(e["length"] for e in mine) == built.n_frames - 20
        manifest = json.loads((out / MANIFEST_PATH).read_text())
        assert manifest["cuts"]["clips"][built.clip_id] == [
            {"frame_from": 10, "frame_to": 30, "reason": "flag", "flag_id": built.flag_id}]
        recorded = {e["episode_index"]: e["kept_frames"] for e in manifest["episodes"] if e["clip_id"] == built.clip_id}
        assert sorted(recorded.values()) == [[[0, 10]], [[30, built.n_frames]]]


def test_too_short_a_piece_goes_and_the_longer_stays(built):
    mine = [e for e in episodes_of(built.longer_v3) if e["clip_id"] == built.clip_id]
    assert [e["kept_frames"] for e in mine] == [[[30, built.n_frames]]]  # frames 0-9 are 1/3 s < 1 s
    by_reason = json.loads((built.longer_v3 / MANIFEST_PATH).read_text())["cuts"]["by_reason"]
    assert by_reason["flag"]["frames"] == 20 and by_reason["short"]["frames"] == 10


@pytest.mark.parametrize("name", ["split_v3", "split_v21"])
def test_each_exported_frame_and_state_is_the_source_at_the_recorded_index(built, source, name):
    out = getattr(built, name)
    frames, state = source
    for episode in (e for e in episodes_of(out) if e["clip_id"] == built.clip_id):
        (start, end), = episode["kept_frames"]
        video, states = exported_frames(out, episode), exported_states(out, episode)
        assert len(video) == len(states) == end - start
        assert_frames_are(video, frames, start)
        expected = relative_wrists(state[start:end])  # wrists relative to the episode's own first frame
        np.testing.assert_allclose(states, expected, atol=1e-5)


def test_the_warping_path_is_remapped_to_the_episodes_kept(built):
    out = built.split_v3
    episodes = {e["episode_index"]: e for e in episodes_of(out)}
    lines = [json.loads(line) for line in (out / PAIRS_PATH).read_text().splitlines()]
    mine = [line for line in lines if episodes[line["human_episode"]]["clip_id"] == built.clip_id]
    pair_id = mine[0]["pair_id"]
    original = dict.fromkeys(map(tuple, json.loads(query_engine(built.root).cursor().execute(
        "SELECT path FROM pairs WHERE id = ?", [pair_id]).fetchone()[0])))
    assert len({line["human_episode"] for line in mine}) == 2  # the path crosses both pieces
    seen = 0
    for line in mine:
        human_from = episodes[line["human_episode"]]["kept_frames"][0][0]
        robot_from = episodes[line["robot_episode"]]["kept_frames"][0][0]
        for h, r in line["path"]:
            assert (h + human_from, r + robot_from) in original
            assert not FLAG_FRAMES[0] <= h + human_from <= FLAG_FRAMES[1]
        seen += len(line["path"])
    assert seen == sum(1 for h, _ in original if not FLAG_FRAMES[0] <= h <= FLAG_FRAMES[1])


def test_episodes_start_on_a_keyframe_without_b_frames(built):
    for out in (built.split_v3, built.split_v21):
        for video in sorted((out / "videos").rglob("*.mp4")):
            with av.open(str(video)) as container:
                stream = container.streams.video[0]
                keys = {round(float(p.pts * stream.time_base) * 30) for p in container.demux(stream)
                        if p.size and p.is_keyframe}
            with av.open(str(video)) as container:
                kinds = {int(frame.pict_type) for frame in container.decode(video=0)}
            assert int(av.video.frame.PictureType.B) not in kinds, video
            starts = ({round(e["videos/observation.images.ego_view/from_timestamp"] * 30) for e in episodes_of(out)}
                      if "file-" in video.name else {0})
            assert starts <= keys, (video, sorted(starts - keys))


def test_both_formats_write_stats_with_quantiles_and_integer_fps(built):
    for out in (built.split_v3, built.split_v21):
        stats = json.loads((out / "meta" / "stats.json").read_text())
        info = json.loads((out / "meta" / "info.json").read_text())
        assert info["fps"] == 30 and isinstance(info["fps"], int)
        assert info["features"]["observation.images.ego_view"]["info"]["video.fps"] == 30
        for key in ("observation.state", "action", "timestamp", "observation.images.ego_view"):
            assert {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"} <= set(stats[key]), key
        q = {name: np.asarray(stats["observation.state"][name]) for name in ("min", "q01", "q50", "q99", "max")}
        assert (q["min"] <= q["q01"] + 1e-9).all() and (q["q01"] <= q["q50"] + 1e-9).all()
        assert (q["q50"] <= q["q99"] + 1e-9).all() and (q["q99"] <= q["max"] + 1e-9).all()
        assert np.asarray(stats["observation.images.ego_view"]["q50"]).shape == (3, 1, 1)


def test_a_cli_segment_is_a_v21_annotation_and_a_gr00t_sub_task(built):
    out = built.split_v21
    tasks = {json.loads(line)["task_index"]: json.loads(line)["task"]
             for line in (out / "meta" / "tasks.jsonl").read_text().splitlines()}
    modality = json.loads((out / "meta" / "modality.json").read_text())
    assert "human.subtask" in modality["annotation"]
    later = next(e for e in episodes_of(out) if e["clip_id"] == built.clip_id and e["kept_frames"][0][0] == 30)
    shift = later["kept_frames"][0][0]
    assert later["sub_tasks"][0] == {"start": SEGMENT[0] - shift, "end": SEGMENT[1] + 1 - shift, "text": SEGMENT[2]}
    table = pq.read_table(out / f"data/chunk-000/episode_{later['episode_index']:06d}.parquet")
    texts = [tasks[i] for i in table.column(ANNOTATION_COLUMN).to_pylist()]
    assert texts[SEGMENT[0] - shift] == texts[SEGMENT[1] - shift] == SEGMENT[2]
    assert texts[SEGMENT[1] + 1 - shift] == tasks[table.column("task_index")[0].as_py()]  # outside: the task
    assert json.loads((out / "meta" / "info.json").read_text())["features"][ANNOTATION_COLUMN]["dtype"] == "int64"


def test_preview_counts_the_frames_cut_per_reason(built):
    plan = preview_export(built.root, None, trim_idle=True, trim_absent=True)
    summary = plan.cut_summary().set_index("reason")
    assert summary.loc["flag", "frames"] == 20
    assert summary.loc["idle", "frames"] > 0  # the demo's takes start and end with still hands
    mine = plan.cuts[plan.cuts["clip_id"] == built.clip_id]
    head = mine[mine["frame_to"] <= 30]  # idle start, then what is left before the flag is too short to keep
    assert head["frames"].sum() == 30 and {"idle", "flag"} <= set(head["reason"]) <= {"idle", "short", "flag"}
    assert set(plan.cuts["reason"]) <= {"flag", "idle", "absent", "short"}
