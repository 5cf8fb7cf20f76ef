"""A data root with the tiny demo export, a finished pretrain run and a finished scaling run (built once per session).

    root = trained_root(tmp_path_factory.getbasetemp())     # the Train and Scaling pages' tests

The runs are recorded with `create_run` and trained here by `execute_run`, the function a run's
detached process calls, so the rows, folders and logs are what a real background run leaves.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.trainer.conftest import session_exports
from trainer.runs import create_run, execute_run, list_runs

TINY = {"batch_size": 8, "max_steps": 6, "warmup_steps": 2, "eval_every": 3, "eval_timesteps": 8, "eval_samples": 1,
        "ckpt_every": 3, "log_every": 2, "workers": 0, "quiet": True,
        "model": {"image_size": 32, "patch": 8, "d_model": 32, "n_heads": 2, "backbone_layers": 1, "dit_layers": 1,
                  "chunk": 8, "flow_steps": 4}}
SCALING_FRACTIONS = (0.5, 1.0)
SCALING_SEEDS = 2
# A few steps per run: epochs that small fall to the floor, and the midtrain runs too.
SCALING_STUDY = {"epochs": 0.02, "min_steps": 3, "midtrain_epochs": 0.02}
_built: dict[str, Path] = {}


def trained_root(base: Path) -> Path:
    """The root of the session's exports (`export-v30`, `export-v21`), with run 1 (pretrain) and run 2 (scaling:
    2 fractions x 2 seeds, each pretrain run midtrained) done.

    Trainer tests read the same exports; they record no runs in this root's store.
    """
    if "root" not in _built:
        export = session_exports(base)["v30"]
        root = export.parent
        config = root / "tiny.yml"
        config.write_text(yaml.safe_dump(TINY))
        for stage in ("pretrain", "scaling"):
            run_id = create_run(root, export, stage, str(config), author="ana", fractions=SCALING_FRACTIONS,
                                seeds=SCALING_SEEDS, study=SCALING_STUDY)
            assert execute_run(root, run_id) == "done", [r.message for r in list_runs(root)]
        _built["root"] = root
    return _built["root"]
