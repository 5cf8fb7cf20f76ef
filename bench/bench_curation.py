"""Noisy-demo detection: precision and recall of the default rules against known injected noise.

    .venv/bin/python bench/bench_curation.py [--demo-only | --egodex-only] [--rules RULES.yml]

1. Demo set: builds the synthetic demo set (`app.demo.build_demo`), scores it with
   `egocurate score`'s function, and compares the clips the rules flag with
   `<root>/demo/injected_noise.json`.
2. EgoDex: cuts the three EgoDex fixtures' ground-truth poses into 1.5 s windows; for each noise
   kind and strength, every window is also written once with that noise (random hand and place),
   a quarter of them per data root beside all the clean windows, then scored and compared the
   same way.

A clip counts as flagged when a rule outside the `content` category proposed a flag on it.
Precision = flagged noisy clips / flagged clips; recall = flagged noisy clips / noisy clips;
"located" = flagged noisy clips with a flag overlapping the injected frames (or the whole clip).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.flags import list_flags  # noqa: E402
from curation.noise import Injection, PoseClip, Poses, inject, poses_from_frames, write_pose_clips  # noqa: E402
from curation.rules import CONTENT_CATEGORY, DEFAULT_RULES_PATH, RuleSet  # noqa: E402
from curation.score import ScoreConfig, run_score  # noqa: E402
from db.engine import query_engine  # noqa: E402
from db.queries.door import fetch_df  # noqa: E402
from db.queries.frames import clip_frames  # noqa: E402

EGODEX = Path(__file__).resolve().parents[2] / "shared" / "data" / "egodex_sample"
WINDOW_FRAMES = 45  # 1.5 s at 30 fps
WINDOW_STRIDE = 6
JITTER_BUCKETS_MM = (4.0, 8.0, 14.0, 20.0)  # demo jitter sigma is drawn from 4-20 mm
NOISY_SHARE_PARTS = 4  # each scored root holds all clean windows and a quarter of them made noisy
# (kind, strength name) -> (injected frames, jitter sigma in mm)
STRENGTHS: dict[tuple[str, str], tuple[int, float]] = {
    ("jitter", "faint"): (15, 1.0), ("jitter", "weak"): (15, 2.0), ("jitter", "medium"): (15, 4.0),
    ("jitter", "strong"): (15, 8.0),
    ("dropout", "weak"): (3, 0.0), ("dropout", "medium"): (9, 0.0), ("dropout", "strong"): (27, 0.0),
    ("swap", "blink"): (1, 0.0), ("swap", "weak"): (2, 0.0), ("swap", "medium"): (6, 0.0),
    ("swap", "strong"): (20, 0.0),
}


@dataclass(frozen=True)
class Truth:
    """Injected noise on one clip, frames as video frame indices (inclusive)."""

    kind: str
    frame_start: int
    frame_end: int
    strength: float | str


def flagged_clips(root: Path, rules: RuleSet) -> dict[str, list[tuple[int | None, int | None]]]:
    """Clip -> frame ranges of its proposed noise flags (content rules left out)."""
    out: dict[str, list[tuple[int | None, int | None]]] = {}
    for flag in list_flags(root, states=("proposed",)):
        if flag.origin == "rule" and rules.by_name(flag.rule).category != CONTENT_CATEGORY:
            out.setdefault(flag.clip_id, []).append((flag.frame_start, flag.frame_end))
    return out


def _overlaps(ranges: list[tuple[int | None, int | None]], truth: Truth) -> bool:
    return any(s is None or (s <= truth.frame_end + 1 and e >= truth.frame_start - 1) for s, e in ranges)


def score_table(all_clips: list[str], truths: dict[str, list[Truth]],
                flagged: dict[str, list[tuple[int | None, int | None]]], group: str) -> pd.DataFrame:
    """One row per noise kind (and strength): clips, recall, located; precision over every flagged clip."""
    rows = []
    by_kind: dict[object, list[str]] = {}
    for clip_id, items in truths.items():
        for item in items:
            key = item.kind if group == "kind" else (item.kind, item.strength)
            by_kind.setdefault(key, []).append(clip_id)
    for key, clips in sorted(by_kind.items(), key=lambda kv: str(kv[0])):
        hits = [c for c in clips if c in flagged]
        located = [c for c in hits if any(_overlaps(flagged[c], t) for t in truths[c])]
        rows.append({"noise": key if isinstance(key, str) else f"{key[0]} {key[1]}", "clips": len(clips),
                     "recall": len(hits) / len(clips), "located": len(located) / max(len(hits), 1)})
    flagged_set = set(flagged) & set(all_clips)
    noisy = set(truths)
    clean = set(all_clips) - noisy
    summary = {"noise": "ALL", "clips": len(noisy), "recall": len(flagged_set & noisy) / max(len(noisy), 1),
               "located": np.nan, "precision": len(flagged_set & noisy) / max(len(flagged_set), 1),
               "clean clips": len(clean), "clean flagged": len(flagged_set & clean)}
    table = pd.DataFrame([*rows, summary])
    return table.astype({"clean clips": "Int64", "clean flagged": "Int64"})


def demo_strength(entry: dict, fps: float) -> str:
    """A bucket of the demo's noise strength: jitter by sigma, dropouts and swaps by duration."""
    if entry["kind"] == "jitter":
        sigma_mm = 1000 * float(entry["strength"])
        edges = (0.0, *JITTER_BUCKETS_MM, float("inf"))
        lo, hi = next((a, b) for a, b in zip(edges, edges[1:], strict=False) if a <= sigma_mm < b)
        return f"sigma {lo:g}-{hi:g} mm"
    seconds = (int(entry["frame_end"]) - int(entry["frame_start"])) / fps
    return "< 0.75 s" if seconds < 0.75 else ">= 0.75 s"


def bench_demo(work: Path, rules_path: Path, n_human: int | None) -> None:
    from app.demo import build_demo

    root = work / "demo_root"
    started = time.perf_counter()
    build_demo(root, seed=0, progress=False, **({"n_human": n_human} if n_human else {}))
    built = time.perf_counter() - started
    started = time.perf_counter()
    report = run_score(root, ScoreConfig(rules_path=rules_path))
    scored = time.perf_counter() - started
    clips = fetch_df(query_engine(root), "SELECT clip_id, path, fps FROM clips WHERE kind = 'human'")
    fps = float(clips["fps"].iloc[0])
    by_path = {str(Path(p).resolve()): c for c, p in zip(clips["clip_id"], clips["path"], strict=True)}
    truths: dict[str, list[Truth]] = {}
    for entry in json.loads((root / "demo" / "injected_noise.json").read_text()):
        clip_id = by_path[str((root / "demo" / entry["file"]).resolve())]
        # The generator's frame_end is one past the last corrupted frame.
        truths.setdefault(clip_id, []).append(Truth(entry["kind"], int(entry["frame_start"]),
                                                    int(entry["frame_end"]) - 1, demo_strength(entry, fps)))
    flagged = flagged_clips(root, RuleSet.from_yaml(rules_path))
    print(f"\n## Demo set: {len(clips)} human clips built in {built:.0f} s, scored in {scored:.1f} s "
          f"({report.flags.created} flags proposed)")
    print(score_table(list(clips["clip_id"]), truths, flagged, "kind").to_string(index=False, float_format="%.3f"))
    if len({t.strength for items in truths.values() for t in items}) > 1:
        print(score_table(list(clips["clip_id"]), truths, flagged, "strength")
              .to_string(index=False, float_format="%.3f"))


def egodex_windows(work: Path) -> list[PoseClip]:
    """Clean 1.5 s windows of the EgoDex fixtures' ground-truth poses."""
    from labeling.sources.ingest import ingest

    source = work / "egodex_source"
    ingest(source, [EGODEX], progress=False)
    engine = query_engine(source)
    clips = fetch_df(engine, "SELECT clip_id, task_slug, fx, fy, cx, cy, width, height FROM clips")
    windows = []
    for clip in clips.itertuples():
        poses = poses_from_frames(clip_frames(engine, clip.clip_id), (clip.fx, clip.fy, clip.cx, clip.cy))
        for start in range(0, len(poses.present) - WINDOW_FRAMES + 1, WINDOW_STRIDE):
            cut = slice(start, start + WINDOW_FRAMES)
            window = Poses(poses.kp3d_m[cut], poses.kp2d_px[cut], poses.present[cut], poses.score[cut],
                           poses.intrinsics)
            windows.append(PoseClip(f"{clip.clip_id}-{start:03d}", clip.task_slug, window, width=int(clip.width),
                                    height=int(clip.height), pose_source="egodex"))
    return windows


def _noisy(window: PoseClip, kind: str, strength: str, rng: np.random.Generator) -> tuple[PoseClip, Truth]:
    length, sigma_mm = STRENGTHS[(kind, strength)]
    start = int(rng.integers(3, WINDOW_FRAMES - length - 3))
    injection = Injection(kind, str(rng.choice(["left", "right"])), start, start + length - 1, sigma_mm)
    noisy = PoseClip(f"{window.clip_id}-{kind}-{strength}", window.task, inject(window.poses, injection, rng),
                     width=window.width, height=window.height, pose_source=window.pose_source)
    return noisy, Truth(kind, injection.frame_start, injection.frame_end, strength)


def bench_egodex(work: Path, rules_path: Path) -> None:
    windows = egodex_windows(work)
    rng = np.random.default_rng(0)
    rules = RuleSet.from_yaml(rules_path)
    rows = []
    for kind, strength in STRENGTHS:
        truths, flagged, all_clips = {}, {}, []
        # Every window noisy once, a quarter of them per root beside all the clean ones: a task
        # where a quarter of the demos are noisy is bad but plausible; the outlier fences see that.
        for part in range(NOISY_SHARE_PARTS):
            root = work / f"egodex_{kind}_{strength}_{part}"
            pairs = [_noisy(w, kind, strength, rng) for w in windows[part::NOISY_SHARE_PARTS]]
            write_pose_clips(root, windows + [p[0] for p in pairs])
            run_score(root, ScoreConfig(rules_path=rules_path))
            flagged.update({f"{part}:{c}": r for c, r in flagged_clips(root, rules).items()})
            truths.update({f"{part}:{p[0].clip_id}": [p[1]] for p in pairs})
            all_clips += [f"{part}:{c.clip_id}" for c in windows + [p[0] for p in pairs]]
        table = score_table(all_clips, truths, flagged, "strength")
        rows.append(table.iloc[0].to_dict() | {k: table.iloc[-1][k] for k in ("precision", "clean clips",
                                                                              "clean flagged")})
    rows = [{k: (int(v) if k.startswith("clean") else v) for k, v in row.items()} for row in rows]
    print(f"\n## EgoDex ground truth + injected noise: {len(windows)} clean 1.5 s windows; per row, each window "
          f"is also made noisy once, in {NOISY_SHARE_PARTS} roots (1 noisy per {NOISY_SHARE_PARTS} clean)")
    print("strengths: " + ", ".join(f"{k} {s}={n} frames" + (f" sigma {sd:g} mm" if sd else "")
                                    for (k, s), (n, sd) in STRENGTHS.items()))
    print(pd.DataFrame(rows).to_string(index=False, float_format="%.3f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo-only", action="store_true")
    parser.add_argument("--egodex-only", action="store_true")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_PATH)
    parser.add_argument("--n-human", type=int, default=None, help="demo human clips (default: the demo's own)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.egodex_only:
            bench_demo(Path(tmp), args.rules, args.n_human)
        if not args.demo_only:
            bench_egodex(Path(tmp), args.rules)


if __name__ == "__main__":
    main()
