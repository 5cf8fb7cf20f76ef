"""A tiny paired demo export (v3.0 and v2.1 + GR00T), built once per session through the CLI's functions."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_DEMO = {"n_human": 8, "n_robot": 4, "width": 160, "height": 120}


def build_exports(root: Path, demo_options: dict | None = None, size: tuple[int, int] = (96, 72),
                  accept: str = "all") -> dict[str, Path]:
    """demo → retarget → score → pair → accept → export both formats (as `egocurate` does).

    `accept`: "all" proposals, or "best": each robot episode's best-aligned one (the demo's policy:
    accepting every same-task proposal joins each task into one pair group, so validation holds whole
    tasks the training split never saw).
    """
    from app.demo import accept_best_pairs, build_demo
    from curation.export_episodes import VideoSpec
    from curation.export_lerobot import run_export
    from curation.export_plan import ExportConfig
    from curation.pair_store import decide_pair, get_pair
    from curation.pairing import PairConfig, run_pairing
    from curation.score import run_score
    from db.engine import query_engine
    from db.queries.annotations import pair_rows
    from labeling.retarget.stage import run_retarget

    report = build_demo(root, seed=0, progress=False, **(SMALL_DEMO if demo_options is None else demo_options))
    assert report.ok and not report.failures, report.failures
    run_retarget(root, "egocurate_hand22", progress=False)
    run_score(root, progress=False)
    run_pairing(root, PairConfig(), actor="test")
    if accept == "best":
        assert accept_best_pairs(root, actor="test")
    else:
        pairs = pair_rows(query_engine(root))
        for pair_id in pairs[pairs.state == "proposed"].id:
            pair = get_pair(root, int(pair_id))
            decide_pair(root, pair.id, "accepted", "test", pair.version)
    video = VideoSpec(width=size[0], height=size[1])
    out = {}
    for name, fmt, gr00t in (("v30", "lerobot-v3", False), ("v21", "lerobot-v2.1", True)):
        result = run_export(root, ExportConfig(out_dir=root / f"export-{name}", format=fmt, gr00t=gr00t, video=video))
        out[name] = result.out_dir
    return out


_built: dict[str, dict[str, Path]] = {}


def session_exports(base: Path) -> dict[str, Path]:
    """`build_exports` once per session, under `<base>/trainer-demo/` (tests/trainer/trained_root.py shares it)."""
    if "exports" not in _built:
        _built["exports"] = build_exports(base / "trainer-demo")
    return _built["exports"]


@pytest.fixture(scope="session")
def demo_exports(tmp_path_factory) -> dict[str, Path]:
    return session_exports(tmp_path_factory.getbasetemp())
