"""Session-state keys, declared once, page-prefixed; pages set them with `setdefault`.

Widgets bound to these keys pass `persist_state="session"`, so filters and choices survive a
trip to the viewer and back (Streamlit otherwise drops the state of widgets a run does not draw).
"""

from __future__ import annotations

# Sign-in (app/auth_gate.py): the session token stays on the server, in this session's state only
AUTH_TOKEN = "auth.token"  # db.auth session token, None when signed out or in open local mode
AUTH_MESSAGE = "auth.message"  # (kind, text) for the sign-in form's next run (wrong password, session ended)
AUTH_NAME = "auth.name"  # the sign-in form's name field
AUTH_PASSWORD = "auth.password"  # the sign-in form's password field, emptied as soon as it is checked
AUTH_COOKIE = "auth.cookie"  # a cookie URL the browser must fetch on the next run (app/session_cookie.py), or None

# Clips page
CLIPS_KINDS = "clips.kinds"  # multiselect: 'human' / 'robot'
CLIPS_SOURCES = "clips.sources"  # multiselect of ingest sources
CLIPS_TASK = "clips.task"  # task text contains
CLIPS_DURATION = "clips.duration"  # (min_s, max_s) slider, None until the page knows the range
CLIPS_DURATION_BOUNDS = "clips.duration_bounds"  # the slider's range when it was set (new clips reset it)
CLIPS_SORT = "clips.sort"  # an app.components.clips.CLIP_SORT_COLUMNS entry
CLIPS_DESCENDING = "clips.descending"
CLIPS_VIEW = "clips.view"  # 'Grid' | 'Table'
CLIPS_PAGE_SIZE = "clips.page_size"
CLIPS_PAGE = "clips.page"  # 0-based page number
CLIPS_FILTER = "clips.filter"  # the db.view_spec.ViewSpec last shown, unsorted (the page resets to 0 on a change)

# Clip viewer
VIEWER_CLIP_ID = "viewer.clip_id"
VIEWER_POSE_SOURCE = "viewer.pose_source"  # a pose source name, or 'all'
VIEWER_STATE_DIMS = "viewer.state_dims"  # robot: state vector indexes shown as curves
VIEWER_ACTION_DIMS = "viewer.action_dims"
VIEWER_DIMS_CLIP = "viewer.dims_clip"  # the clip the dims above were chosen for
VIEWER_ROBOT = "viewer.robot"  # the retargeted embodiment drawn over a human clip, or 'none'
VIEWER_ROBOT_HAND = "viewer.robot_hand"  # 'left' / 'right': the hand in 3D and in the joint curves
VIEWER_JOINT_DIMS = "viewer.joint_dims"  # indexes into that hand's q_rad shown as curves
VIEWER_JOINTS_FOR = "viewer.joints_for"  # (clip, embodiment, hand) the joints above were chosen for
VIEWER_ROBOT_FRAME = "viewer.robot_frame"  # the frame of the plotly 3D figure
VIEWER_EPISODE_HAND = "viewer.episode_hand"  # robot episode with a spec: 'left' / 'right' drawn in 3D from its state
VIEWER_CURATOR = "viewer.curator"  # the name segment labels are written with in open local mode

# SQL page
SQL_QUERY = "sql.query"
SQL_EXAMPLE = "sql.example"  # the examples selectbox (loads its query into SQL_QUERY)

# Quality page
QUALITY_VIEW = "quality.view"  # a name from curation.review.view_choices
QUALITY_TASKS = "quality.tasks"  # task groups narrowing the view
QUALITY_COLUMN = "quality.column"  # the metric column shown
QUALITY_CHART = "quality.chart"  # the chart's selection state

# Review page
REVIEW_CURATOR = "review.curator"  # the name decisions are written with in open local mode (signed in: the user's)
REVIEW_VIEW = "review.view"  # a name from curation.review.view_choices
REVIEW_STATES = "review.states"  # flag states the queue lists
REVIEW_FLAG_ID = "review.flag_id"  # the flag on screen; the position follows it as the queue changes
REVIEW_MESSAGE = "review.message"  # (kind, text) left by a callback for the next run
REVIEW_FLAG_FORM = "review.flag_form"  # whether the curator's flag form is open
REVIEW_BULK_SURE = "review.bulk_sure"

# Pairs page
PAIRS_CURATOR = "pairs.curator"  # the name decisions are written with in open local mode
PAIRS_STATES = "pairs.states"  # pair states listed
PAIRS_PAIR_ID = "pairs.pair_id"  # the pair on screen
PAIRS_REASON = "pairs.reason"  # the reason typed for a decision (required to reject)
PAIRS_MESSAGE = "pairs.message"  # (kind, text) left by a callback for the next run
PAIRS_BY_HAND_HUMAN = "pairs.by_hand_human"  # "Pair by hand": the human clip chosen (clip id)
PAIRS_BY_HAND_ROBOT = "pairs.by_hand_robot"  # "Pair by hand": the robot episode chosen (clip id)

# Embodiments page
EMBODIMENTS_DATASET = "embodiments.dataset"  # the robot dataset (its `clips.dataset` folder) a spec is proposed for
EMBODIMENTS_HAND = "embodiments.hand"  # a registered hand or a dex-retargeting config path
EMBODIMENTS_NAME = "embodiments.name"  # the embodiment's name ('' = the dataset folder's)
EMBODIMENTS_CONFIG_DIR = "embodiments.config_dir"  # where a registered hand's configs are ('' = none)
EMBODIMENTS_URDF_DIR = "embodiments.urdf_dir"  # resolves the configs' relative urdf_path ('' = none)
EMBODIMENTS_PROPOSAL = "embodiments.proposal"  # {dataset, names, spec, table}: the proposal being checked
EMBODIMENTS_AUTHOR = "embodiments.author"  # the name a spec is stored with in open local mode
EMBODIMENTS_MESSAGE = "embodiments.message"  # (kind, text) left by a callback for the next run
EMBODIMENTS_SHOWN = "embodiments.shown"  # the stored spec whose mapping is shown (None = none)

# Export page
EXPORT_VIEW = "export.view"  # a saved view name, or EXPORT_ALL_CLIPS
EXPORT_FORMAT = "export.format"  # one of curation.export_plan.FORMATS
EXPORT_GR00T = "export.gr00t"  # also write GR00T's modality.json (v2.1)
EXPORT_OUT_DIR = "export.out_dir"  # destination folder ('' = the suggested one)
EXPORT_OVERWRITE = "export.overwrite"
EXPORT_UNPAIRED = "export.unpaired"  # also the view's human clips in no accepted pair (pretraining data)
EXPORT_CODEC = "export.codec"
EXPORT_AUTHOR = "export.author"  # the name recorded with an export in open local mode
EXPORT_MESSAGE = "export.message"  # (kind, text) of the last run
EXPORT_MIN_EPISODE_S = "export.min_episode_s"  # a cut splits a clip into episodes at least this long (seconds)
EXPORT_TRIM_IDLE = "export.trim_idle"  # also cut human clips' idle ends
EXPORT_TRIM_ABSENT = "export.trim_absent"  # also cut frames where a tracked hand is lost
EXPORT_SUBTASKS = "export.subtasks"  # write segment labels as subtasks

# Label page
LABEL_SCOPE = "label.scope"  # all unlabelled clips, or the chosen ones
LABEL_CLIPS = "label.clips"
LABEL_STRIDE = "label.stride"
LABEL_COMPLEXITY = "label.complexity"
LABEL_MAX_SIDE = "label.max_side"
LABEL_WORKERS = "label.workers"
LABEL_EXECUTOR = "label.executor"
LABEL_JOB_ID = "label.job_id"  # the job followed (None: the newest)

# Train page
TRAIN_EXPORT = "train.export"  # an export folder from trainer.runs.export_choices (None: the newest)
TRAIN_EXPORT_PATH = "train.export_path"  # a typed export folder; wins over TRAIN_EXPORT when set
TRAIN_STAGE = "train.stage"  # pretrain | midtrain
TRAIN_CONFIG = "train.config"  # one of trainer.runs.CONFIG_NAMES
TRAIN_INIT = "train.init"  # midtrain: a checkpoint from trainer.runs.init_choices, or TRAIN_NO_INIT
TRAIN_AUTHOR = "train.author"  # the name a launched run is recorded with
TRAIN_RUN_ID = "train.run_id"  # the run shown (None: the newest)
TRAIN_MESSAGE = "train.message"  # (kind, text) of the last launch, stop or resume

# Scaling page
SCALING_EXPORT = "scaling.export"  # as TRAIN_EXPORT
SCALING_EXPORT_PATH = "scaling.export_path"
SCALING_CONFIG = "scaling.config"
SCALING_FRACTIONS = "scaling.fractions"  # shares of the human training hours, one pretrain run each
SCALING_SEEDS = "scaling.seeds"  # pretrain runs per fraction
SCALING_AUTHOR = "scaling.author"
SCALING_RUN_ID = "scaling.run_id"  # the scaling run shown (None: the newest)
SCALING_MESSAGE = "scaling.message"

# Segment forms (app/components/segments.py): one per page, its keys `<prefix>.<field>`
VIEWER_SEGMENTS = "viewer.segments"
REVIEW_SEGMENTS = "review.segments"
# in / out: the form's frames (filled by the player's i / o keys); text; clip: the clip the form is for;
# seen: the last marks taken from the player; message: (kind, text) of the last save
SEGMENT_FIELDS: dict[str, object] = {"in": 0, "out": 0, "text": "", "clip": None, "seen": None, "message": None}

# Literal defaults (not imported from curation/) so the router stays light to import; tests check
# they match curation.review.ALL_HUMAN_CLIPS / QUEUE_STATES and curation.export_plan.FORMATS.
ALL_HUMAN_CLIPS = "All human clips"
EXPORT_ALL_CLIPS = "(every clip)"
VIEWS = ("Grid", "Table")
PAGE_SIZES = (24, 48, 96)
TRAIN_NO_INIT = "(none: from scratch)"
# Tests check these match trainer.runs.CONFIG_NAMES / SCALING_FRACTIONS / SCALING_SEEDS.
TRAIN_CONFIGS = ("smoke", "demo", "small", "paper")
SCALING_FRACTION_CHOICES = (0.0625, 0.125, 0.25, 0.5, 0.75, 1.0)

DEFAULTS: dict[str, object] = {
    AUTH_TOKEN: None,
    AUTH_MESSAGE: None,
    AUTH_NAME: "",
    AUTH_PASSWORD: "",
    AUTH_COOKIE: None,
    CLIPS_KINDS: [],
    CLIPS_SOURCES: [],
    CLIPS_TASK: "",
    CLIPS_DURATION: None,
    CLIPS_DURATION_BOUNDS: None,
    CLIPS_SORT: "clip_id",
    CLIPS_DESCENDING: False,
    CLIPS_VIEW: VIEWS[0],
    CLIPS_PAGE_SIZE: PAGE_SIZES[0],
    CLIPS_PAGE: 0,
    CLIPS_FILTER: None,
    VIEWER_CLIP_ID: None,
    VIEWER_POSE_SOURCE: None,
    VIEWER_STATE_DIMS: [],
    VIEWER_ACTION_DIMS: [],
    VIEWER_DIMS_CLIP: None,
    VIEWER_ROBOT: None,
    VIEWER_ROBOT_HAND: None,
    VIEWER_JOINT_DIMS: [],
    VIEWER_JOINTS_FOR: None,
    VIEWER_ROBOT_FRAME: None,
    VIEWER_EPISODE_HAND: None,
    VIEWER_CURATOR: "",
    SQL_QUERY: "SELECT kind, source, count(*) AS clips FROM clips GROUP BY ALL",
    QUALITY_VIEW: ALL_HUMAN_CLIPS,
    QUALITY_TASKS: [],
    QUALITY_COLUMN: "jitter_mm",
    REVIEW_CURATOR: "",
    REVIEW_VIEW: ALL_HUMAN_CLIPS,
    REVIEW_STATES: ["proposed"],
    REVIEW_FLAG_ID: None,
    REVIEW_MESSAGE: None,
    REVIEW_FLAG_FORM: False,
    REVIEW_BULK_SURE: False,
    PAIRS_CURATOR: "",
    PAIRS_STATES: ["proposed"],
    PAIRS_PAIR_ID: None,
    PAIRS_REASON: "",
    PAIRS_MESSAGE: None,
    PAIRS_BY_HAND_HUMAN: None,
    PAIRS_BY_HAND_ROBOT: None,
    EXPORT_VIEW: EXPORT_ALL_CLIPS,
    EXPORT_FORMAT: "lerobot-v3",
    EXPORT_GR00T: False,
    EXPORT_OUT_DIR: "",
    EXPORT_OVERWRITE: False,
    EXPORT_UNPAIRED: False,
    EXPORT_CODEC: "h264",
    EXPORT_AUTHOR: "",
    EXPORT_MESSAGE: None,
    EMBODIMENTS_DATASET: None,
    EMBODIMENTS_HAND: "",
    EMBODIMENTS_NAME: "",
    EMBODIMENTS_CONFIG_DIR: "",
    EMBODIMENTS_URDF_DIR: "",
    EMBODIMENTS_PROPOSAL: None,
    EMBODIMENTS_AUTHOR: "",
    EMBODIMENTS_MESSAGE: None,
    EMBODIMENTS_SHOWN: None,
    EXPORT_MIN_EPISODE_S: 1.0,
    EXPORT_TRIM_IDLE: False,
    EXPORT_TRIM_ABSENT: False,
    EXPORT_SUBTASKS: True,
    LABEL_SCOPE: "All without MediaPipe poses",
    LABEL_CLIPS: [],
    LABEL_STRIDE: 1,
    LABEL_COMPLEXITY: 1,
    LABEL_MAX_SIDE: 1920,
    LABEL_WORKERS: 2,
    LABEL_EXECUTOR: "local",
    LABEL_JOB_ID: None,
    TRAIN_EXPORT: None,
    TRAIN_EXPORT_PATH: "",
    TRAIN_STAGE: "pretrain",
    TRAIN_CONFIG: "smoke",
    TRAIN_INIT: TRAIN_NO_INIT,
    TRAIN_AUTHOR: "",
    TRAIN_RUN_ID: None,
    TRAIN_MESSAGE: None,
    SCALING_EXPORT: None,
    SCALING_EXPORT_PATH: "",
    SCALING_CONFIG: "smoke",
    SCALING_FRACTIONS: [0.25, 0.5, 1.0],
    SCALING_SEEDS: 3,
    SCALING_AUTHOR: "",
    SCALING_RUN_ID: None,
    SCALING_MESSAGE: None,
    **{f"{prefix}.{field}": value for prefix in (VIEWER_SEGMENTS, REVIEW_SEGMENTS)
       for field, value in SEGMENT_FIELDS.items()},
}


def init(session_state) -> None:  # noqa: ANN001 (streamlit's SessionStateProxy)
    """Set every declared key that is missing to its default."""
    for key, value in DEFAULTS.items():
        session_state.setdefault(key, value)
