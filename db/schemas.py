"""Declared Parquet schemas of the lake stages (the columns of the public DuckDB views).

Keypoints are stored nested: `kp2d_px` is 21 × [u, v] pixels and `kp3d_m` 21 × [x, y, z] metres in
the camera frame (OpenCV: x right, y down, z forward), in MediaPipe-21 order. Absent hands keep
their row with `present = false` and NaN coordinates, so a frame always has one row per hand.
"""

from __future__ import annotations

import pyarrow as pa

N_KEYPOINTS = 21
HANDS = ("left", "right")

# Field metadata of a column added after writers of its stage existed: a table without it is
# written with nulls there (`conform`) instead of being refused.
OPTIONAL_ON_WRITE = {b"optional_on_write": b"true"}

KP2D_TYPE = pa.list_(pa.list_(pa.float32(), 2), N_KEYPOINTS)
KP3D_TYPE = pa.list_(pa.list_(pa.float32(), 3), N_KEYPOINTS)

CLIPS = pa.schema([
    pa.field("clip_id", pa.string(), nullable=False),  # content-derived, stable across rebuilds
    pa.field("kind", pa.string(), nullable=False),  # 'human' | 'robot'
    pa.field("source", pa.string(), nullable=False),  # 'video' | 'egodex' | 'lerobot' | 'synthetic'
    pa.field("path", pa.string(), nullable=False),  # absolute path of the clip's video file
    pa.field("fps", pa.float64()),
    pa.field("n_frames", pa.int64()),
    pa.field("duration_s", pa.float64()),
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("codec", pa.string()),
    pa.field("task", pa.string()),  # task instruction text
    pa.field("task_slug", pa.string()),  # short task name (EgoDex `task`, dataset name, folder)
    pa.field("dataset", pa.string()),  # dataset root for LeRobot episodes, else parent folder
    pa.field("episode_index", pa.int64()),  # LeRobot episode index, else null
    pa.field("video_key", pa.string()),  # LeRobot camera key, else null
    pa.field("video_from_s", pa.float64()),  # clip's start time inside `path` (v3 concatenates)
    pa.field("video_to_s", pa.float64()),  # clip's end time inside `path`
    pa.field("fx", pa.float64()),  # intrinsics in pixels, null when unknown
    pa.field("fy", pa.float64()),
    pa.field("cx", pa.float64()),
    pa.field("cy", pa.float64()),
    pa.field("robot_type", pa.string()),
    pa.field("state_names", pa.string()),  # JSON list of names of the state vector, one per dimension
    pa.field("action_names", pa.string()),  # JSON list of names of the action vector, one per dimension
    # LeRobot features read as the state and action (null: none; an episode with neither is video-only)
    pa.field("state_key", pa.string(), metadata=OPTIONAL_ON_WRITE),
    pa.field("action_key", pa.string(), metadata=OPTIONAL_ON_WRITE),
    pa.field("extra", pa.string()),  # JSON of source-specific metadata (modality.json, attrs...)
    pa.field("hashed_file", pa.string()),  # the file whose content derives clip_id
    pa.field("file_size", pa.int64()),  # its bytes and mtime: unchanged files are not re-hashed
    pa.field("file_mtime_ns", pa.int64()),
    pa.field("ingested_at", pa.timestamp("us", tz="UTC")),
])

FRAMES = pa.schema([
    pa.field("clip_id", pa.string(), nullable=False),
    pa.field("frame_index", pa.int32(), nullable=False),
    pa.field("timestamp_s", pa.float64(), nullable=False),  # frame_index / fps
    pa.field("hand", pa.string(), nullable=False),  # 'left' | 'right'
    pa.field("present", pa.bool_(), nullable=False),
    pa.field("score", pa.float32()),  # detector / tracker confidence in [0, 1]
    pa.field("kp2d_px", KP2D_TYPE),
    pa.field("kp3d_m", KP3D_TYPE),
    pa.field("pose_source", pa.string(), nullable=False),  # 'egodex' | 'mediapipe' | 'synthetic'
    # MediaPipe's metric "world" keypoints: 21 x [x, y, z] metres centred on the hand, in its own
    # frame (the hand's shape, for retargeting); null for sources that do not estimate them.
    pa.field("kp3d_world_m", KP3D_TYPE),
])

ROBOT_FRAMES = pa.schema([
    pa.field("clip_id", pa.string(), nullable=False),
    pa.field("frame_index", pa.int32(), nullable=False),
    pa.field("timestamp_s", pa.float64(), nullable=False),  # frame_index / fps, from video start
    pa.field("source_timestamp_s", pa.float64()),  # the dataset's own `timestamp` column
    pa.field("state", pa.list_(pa.float32())),
    pa.field("action", pa.list_(pa.float32())),
])

RETARGETS = pa.schema([
    pa.field("clip_id", pa.string(), nullable=False),
    pa.field("frame_index", pa.int32(), nullable=False),
    pa.field("hand", pa.string(), nullable=False),
    pa.field("embodiment", pa.string(), nullable=False),
    pa.field("q_rad", pa.list_(pa.float32())),  # ordered like the hand's joint_names
    # 9 floats, camera frame: xyz (m) + 6D rotation; a variable list because Parquet cannot store a
    # null fixed-size list (absent hands keep a row with nulls).
    pa.field("wrist_pose", pa.list_(pa.float32())),
    pa.field("residual", pa.float32()),  # mean keypoint error after retargeting, metres
    # mean distance of the robot's fingertips from the human ones scaled to the robot (its own scale),
    # metres; null where the hand is absent or the config places no fingertip
    pa.field("fingertip_error", pa.float32(), metadata=OPTIONAL_ON_WRITE),
])

# Quality metrics, one row per scored clip. Every name is documented (meaning, unit, how it is
# computed) in `curation.metrics.METRIC_REGISTRY`, and a test keeps the two lists in step. A per-hand
# metric `m` has the columns `left_m`, `right_m` and the clip-level `m` (the worse of the hands).
HAND_METRIC_NAMES = (
    "detection_rate", "longest_dropout_s", "score_mean", "score_p05", "jitter_mm", "jerk_median_m_s3",
    "jerk_p95_m_s3", "speed_spikes", "accel_spikes", "bone_length_cv", "handedness_swaps",
    "wrong_hand_frac", "out_of_frame_frac", "idle_frac", "motion_energy_m2_s2", "retarget_residual_mm",
)
CLIP_METRIC_NAMES = ("duration_s",)


def metric_columns() -> list[str]:
    """Every metric column of the `metrics` stage, clip-level first, then left, then right."""
    return [*CLIP_METRIC_NAMES, *HAND_METRIC_NAMES,
            *(f"{hand}_{name}" for hand in HANDS for name in HAND_METRIC_NAMES)]


METRICS = pa.schema([
    pa.field("clip_id", pa.string(), nullable=False),
    pa.field("scored_at", pa.timestamp("us", tz="UTC")),
    pa.field("pose_source", pa.string()),  # which poses were scored ('egodex', 'mediapipe', ...)
    # Copies of the clip's catalog fields, so a view filtering on metrics needs no clips join (at 1M
    # clips that string-keyed join costs ~0.4 s on 2 cores). Clip rows never change for a clip_id.
    pa.field("kind", pa.string()),
    pa.field("source", pa.string()),
    pa.field("task", pa.string()),
    pa.field("task_slug", pa.string()),
    pa.field("evidence", pa.string()),  # JSON {metric column: [first, last] offending frame_index}
    *(pa.field(name, pa.float64()) for name in metric_columns()),
])

# Retargeting quality, one row per scored clip, embodiment and hand (`curation.retarget_quality`,
# where each metric is documented): a 6-DoF hand is never judged by a 22-DoF hand's numbers.
RETARGET_METRIC_NAMES = ("retarget_residual_mm", "fingertip_error_mm")

RETARGET_METRICS = pa.schema([
    pa.field("clip_id", pa.string(), nullable=False),
    pa.field("embodiment", pa.string(), nullable=False),  # retargets.embodiment
    pa.field("hand", pa.string(), nullable=False),
    pa.field("scored_at", pa.timestamp("us", tz="UTC")),
    pa.field("dof", pa.int32()),  # the hand's independent finger joints (mimic joints and a free wrist not counted)
    pa.field("dof_class", pa.string()),  # gripper | low | mid | high (curation.retarget_quality.DOF_CLASSES)
    pa.field("frames", pa.int64()),  # frames of this hand with a solution
    pa.field("task", pa.string()),  # copies of the clip's catalog fields (the rules' task groups)
    pa.field("task_slug", pa.string()),
    *(pa.field(name, pa.float64()) for name in RETARGET_METRIC_NAMES),
])

STAGES: dict[str, pa.Schema] = {
    "clips": CLIPS,
    "frames": FRAMES,
    "robot_frames": ROBOT_FRAMES,
    "retargets": RETARGETS,
    "metrics": METRICS,
    "retarget_metrics": RETARGET_METRICS,
}


def conform(table: pa.Table, schema: pa.Schema, stage: str) -> pa.Table:
    """Return `table` with exactly `schema`'s columns and types, or raise naming the column.

    A missing column declared `optional_on_write` is written as nulls, as files written before it was
    added read: a writer that does not know that newer column (a fingertip error, a vector key) loses
    nothing.

    Raises:
        ValueError: a column is missing, has an incompatible type, or a non-null column has nulls.
    """
    columns = []
    for field in schema:
        if field.name not in table.column_names and field.metadata == OPTIONAL_ON_WRITE:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        if field.name not in table.column_names:
            raise ValueError(f"{stage}: missing column {field.name!r}")
        column = table.column(field.name)
        try:
            column = column.cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(f"{stage}: column {field.name!r} cannot be {field.type}: {exc}") from exc
        if not field.nullable and column.null_count:
            raise ValueError(f"{stage}: column {field.name!r} has {column.null_count} nulls")
        columns.append(column)
    extra = set(table.column_names) - set(schema.names)
    if extra:
        raise ValueError(f"{stage}: undeclared columns {sorted(extra)}")
    return pa.Table.from_arrays(columns, schema=schema)
