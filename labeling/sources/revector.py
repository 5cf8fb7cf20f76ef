"""Re-reading catalogued robot episodes with other vector keys (`ingest --state-key/--action-key`).

A dataset ingested video-only, or with the wrong feature read as its state, is fixed by ingesting
it again naming the vectors. Its episodes keep their clip ids (they come from the data file's
content), so flags, labels and pairs stay attached; their `clips` and `robot_frames` rows are
replaced in one lake commit: the files holding them are rewritten without them, beside the new rows.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from db.lake import Lake
from db.schemas import STAGES, conform

from .base import IngestError, SourceItem

REPLACED_STAGES = ("clips", "robot_frames")
SOURCE = "lerobot"  # robot episodes only come from LeRobot datasets (their lake partition)


def keys_changed(item: SourceItem, stored: dict[str, tuple[str | None, str | None]]) -> bool:
    """Whether a catalogued robot episode was read with other vector keys than the ones now chosen."""
    clip = item.clip
    return item.clip_id in stored and stored[item.clip_id] != (clip.get("state_key"), clip.get("action_key"))


def replace_episodes(lake: Lake, items: list[SourceItem]) -> None:
    """Replace the `clips` and `robot_frames` rows of these catalogued episodes in one commit.

    The caller holds `lake.writer_lock()`.

    Raises:
        IngestError: a file holding them is not in the LeRobot partition (the lake is not as written).
    """
    if not items:
        return
    ids = pa.array(sorted({i.clip_id for i in items}), pa.string())
    new = {"clips": pa.Table.from_pylist([i.clip for i in items]),
           "robot_frames": pa.concat_tables([i.robot_frames for i in items if i.robot_frames is not None])}
    with lake.batch(stage="ingest", replaced=ids.to_pylist()) as batch:
        for stage in REPLACED_STAGES:
            kept, retired = [], []
            for path in lake.files(stage):
                if not pc.any(pc.is_in(lake.read_file(stage, path, ["clip_id"]).column("clip_id"), ids)).as_py():
                    continue
                if f"source={SOURCE}" not in path.parts:
                    raise IngestError(path, f"holds robot episodes outside the {SOURCE} partition; not replaced")
                table = lake.read_file(stage, path)
                kept.append(table.filter(pc.invert(pc.is_in(table.column("clip_id"), ids))))
                retired.append(path.relative_to(lake.dir).as_posix())
            batch.write(stage, pa.concat_tables([*kept, conform(new[stage], STAGES[stage], stage)]), {"source": SOURCE})
            batch.remove(retired)
