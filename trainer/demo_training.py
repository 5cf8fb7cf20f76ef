"""The demo's training step (`egocurate demo`): an export of the demo's pairs and a background scaling run on it.

    started = start_demo_training(root)    # after demo -> retarget -> score -> pair; returns at once

Each part is skipped when already there, so re-running the demo changes nothing: pairs are accepted
only while none is (the best-aligned proposal of each robot episode, as actor 'demo'; the others stay
proposed for the Pairs page), the export is written only while the store has no finished one, and
a `demo`-config scaling run starts only while there is no scaling run. The run trains in its own
process, so the Scaling page fills in a minute or two after the app opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curation.export_episodes import VideoSpec
from curation.export_lerobot import run_export
from curation.export_plan import ExportConfig
from curation.pair_store import decide_pair, get_pair
from db.engine import query_engine
from db.queries.annotations import pair_rows

from .runs import export_choices, list_runs, start_run

DEMO_ACTOR = "demo"
DEMO_EXPORT_DIR = "exports/demo-lerobot-v3"  # under the data root
DEMO_VIDEO = VideoSpec(width=160, height=120)  # the demo model sees 32 x 32 pixels: small videos export fast
DEMO_CONFIG = "demo"  # trainer/configs/demo.yml: ~45 s for the four fractions on 2 cores
DEMO_FRACTIONS = (0.125, 0.25, 0.5, 1.0)  # four points, so the fit has something to say


@dataclass(frozen=True)
class DemoTraining:
    """What `start_demo_training` did."""

    accepted: int  # pairs it accepted (0 when a curator had accepted some already)
    export_dir: Path  # the export the scaling run trains on
    exported: bool  # whether it wrote that export now
    run_id: int  # the scaling run (started now, or the one already there)
    started: bool


def accept_best_pairs(root: Path, actor: str = DEMO_ACTOR) -> int:
    """Accept the lowest-cost proposed pair of each robot episode, unless some pair is accepted already."""
    pairs = pair_rows(query_engine(root))
    if (pairs["state"] == "accepted").any():
        return 0
    best = pairs[(pairs["state"] == "proposed") & pairs["cost"].notna()].sort_values("cost")
    accepted = 0
    for pair_id in best.drop_duplicates("robot_clip_id")["id"]:
        pair = get_pair(root, int(pair_id))
        decide_pair(root, pair.id, "accepted", actor, pair.version, reason="demo: best-aligned proposal")
        accepted += 1
    return accepted


def start_demo_training(root: Path | str) -> DemoTraining:
    """Accept, export and start the scaling run as the module docstring says; returns what it did."""
    root = Path(root).resolve()
    exports = export_choices(root)
    accepted, exported = 0, False
    if exports:
        export_dir = Path(next(iter(exports)))
    else:
        accepted = accept_best_pairs(root)
        export_dir = run_export(root, ExportConfig(out_dir=root / DEMO_EXPORT_DIR, video=DEMO_VIDEO,
                                                   author=DEMO_ACTOR)).out_dir
        exported = True
    scaling = list_runs(root, "scaling", limit=1)
    if scaling:
        return DemoTraining(accepted, export_dir, exported, scaling[0].run_id, False)
    run_id = start_run(root, export_dir, "scaling", DEMO_CONFIG, author=DEMO_ACTOR, fractions=DEMO_FRACTIONS)
    return DemoTraining(accepted, export_dir, exported, run_id, True)
