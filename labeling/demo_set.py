"""The demo set: generate the synthetic clips and robot episodes once, then ingest them.

    egocurate --root R demo --no-app
"""

from __future__ import annotations

from pathlib import Path

from db import paths
from labeling.sources.ingest import IngestReport, ingest

MANIFEST_NAME = "demo_manifest.json"


def build_demo(root: Path, seed: int = 0, progress: bool = True, **generator_options: object) -> IngestReport:
    """Generate `<root>/demo` unless it is already there, and ingest it (idempotent)."""
    from labeling.synthetic.demo import generate_demo

    out_dir = root / paths.DEMO_DIR
    if not (out_dir / MANIFEST_NAME).is_file():
        generate_demo(out_dir, seed=seed, progress=progress, **generator_options)
    return ingest(root, [out_dir / "human", out_dir / "robot"], progress=progress, author="demo")
