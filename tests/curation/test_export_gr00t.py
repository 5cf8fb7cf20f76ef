"""Our v2.1 + modality export has the GR00T layout of the PickNPlace fixture: both read by the same reader."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.export_episodes import VideoSpec
from curation.export_lerobot import run_export
from curation.export_plan import ExportConfig
from curation.pair_store import decide_pair, get_pair
from curation.pairing import PairConfig, run_pairing
from db.engine import query_engine
from db.queries.annotations import pair_rows
from labeling.sources.lerobot import read_lerobot

from .demo_retargets import paired_demo_root, source_clip_of_robot

META_FILES = {"info.json", "episodes.jsonl", "tasks.jsonl", "modality.json"}  # both have these (v2.0 has stats.json)


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> Path:
    root = paired_demo_root(tmp_path_factory.getbasetemp())
    run_pairing(root, PairConfig())
    pairs = pair_rows(query_engine(root))
    robot, human = next(iter(source_clip_of_robot(root).items()))
    pair = get_pair(root, int(pairs[(pairs.robot_clip_id == robot) & (pairs.human_clip_id == human)].iloc[0].id))
    if pair.state != "accepted":
        decide_pair(root, pair.id, "accepted", "curator", pair.version)
    out = tmp_path_factory.mktemp("gr00t") / "gr00t-layout"
    return run_export(root, ExportConfig(out_dir=out, format="lerobot-v2.1", gr00t=True,
                                         video=VideoSpec(width=64, height=48))).out_dir


@pytest.fixture(scope="module")
def fixture_dataset(shared_data) -> Path:
    return shared_data / "lerobot" / "gr00t_robot_sim.PickNPlace"


def column_kind(field: pa.Field) -> str:
    if pa.types.is_list(field.type) or pa.types.is_fixed_size_list(field.type):
        return "vector"
    return "float" if pa.types.is_floating(field.type) else "int" if pa.types.is_integer(field.type) else "other"


def test_both_read_with_our_lerobot_reader(ours, fixture_dataset):
    for dataset in (ours, fixture_dataset):
        read = read_lerobot(dataset)
        assert not read.failures and read.items
        clip = read.items[0].clip
        assert json.loads(clip["extra"])["modality"] is not None  # modality.json was found and parsed
        assert clip["video_key"] == "observation.images.ego_view"


def test_same_meta_files_and_info_keys(ours, fixture_dataset):
    for dataset in (ours, fixture_dataset):
        assert {p.name for p in (dataset / "meta").iterdir()} >= META_FILES
    info, theirs = (json.loads((d / "meta" / "info.json").read_text()) for d in (ours, fixture_dataset))
    assert set(theirs) <= set(info)
    assert info["video_path"] == theirs["video_path"] and info["data_path"] == theirs["data_path"]
    for key in ("observation.state", "action", "observation.images.ego_view", "timestamp", "episode_index",
                "index", "task_index"):
        assert info["features"][key]["dtype"].startswith(theirs["features"][key]["dtype"][:5])
        assert len(info["features"][key]["shape"]) == len(theirs["features"][key]["shape"])


def test_modality_json_has_the_gr00t_shape(ours, fixture_dataset):
    modality, theirs = (json.loads((d / "meta" / "modality.json").read_text()) for d in (ours, fixture_dataset))
    assert set(modality) == set(theirs) == {"state", "action", "video", "annotation"}
    width = json.loads((ours / "meta" / "info.json").read_text())["features"]["observation.state"]["shape"][0]
    for part in ("state", "action"):
        spans = sorted((g["start"], g["end"]) for g in modality[part].values())
        assert spans[0][0] == 0 and spans[-1][1] == width
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))  # contiguous, like GR1's groups
        assert all(set(g) == {"start", "end"} for g in theirs[part].values())
        # GR00T's schema: start and end, plus `rotation_type` where a group is a rotation (#16: the 6D wrists).
        assert all(set(g) == ({"start", "end", "rotation_type"} if "rot6d" in name else {"start", "end"})
                   for name, g in modality[part].items())
        assert {g["rotation_type"] for name, g in modality[part].items() if "rot6d" in name} == {"rotation_6d"}
    assert modality["video"] == theirs["video"] == {"ego_view": {"original_key": "observation.images.ego_view"}}


def test_parquet_columns_have_the_same_kinds(ours, fixture_dataset):
    mine = pq.read_schema(next((ours / "data").rglob("*.parquet")))
    theirs = pq.read_schema(next((fixture_dataset / "data").rglob("*.parquet")))
    for name in ("observation.state", "action", "timestamp", "episode_index", "index", "task_index"):
        assert column_kind(mine.field(name)) == column_kind(theirs.field(name)), name
    assert b"huggingface" in mine.metadata
