"""The tutor churn model against the sandbox's truth, over many demo worlds.

    .venv/bin/python -m benchmarks.churn_worlds_bench [--seeds 5] [--anchors 8]
        [--variant '{"linear_start": true, "valid_folds": 1, "valid_share": 0.2}']

One held-out split says little about a change to the learner: a demo world has about
600 tutors and 100 churn events in its validation weeks, and the model trained on one
world reads a given tutor differently from the next world's by about 0.1. The sandbox
knows every tutor's true P(churn 30 d) at the anchor, so this bench builds demo worlds
(seeds x install hours), trains the model as ``tutormax train`` does
(``ml.pipeline._churn``: a hold-out run picks the distribution, the final model fits
all dates) and compares its P(churn 30 d) for every active tutor with the truth:

- mean absolute error against the true probability;
- tier agreement: the share of tutors whose predicted tier is their true tier;
- Critical precision: of the tutors read Critical, the share truly Critical; Critical
  recall: of the tutors truly Critical, the share read Critical, and their mean reading
  (most of them are early in a decline that their records do not show yet: the full
  scale does little better, so this is what the features can see, not the data size);
- reading spread: every active tutor's row of the first three worlds read by the other
  worlds' models; the standard deviation of the reading for tutors read High or above
  on average (0.5+). This is how far one world's reading of a high-risk tutor can be
  from the next one's, whoever the tutor; Sarah Chen's own spread is shown beside it;
- held-out concordance (the pipeline's time split, no truth needed);
- Sarah Chen: in how many worlds she reads Critical (her truth is about 0.76).

``--variant`` runs the same worlds with other ``ChurnModel`` settings for comparison;
``ml/churn.py`` quotes the figures that chose its defaults.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from services.api.rails_time import US_PER_DAY, US_PER_HOUR, parse_us

# Day offsets and hours from the tests' anchor; every seed uses the next ones.
FIRST_ANCHOR = parse_us("2026-11-16T09:00:00Z")
SEEDS = (42, 7, 11, 3, 5)
TIERS = (0.25, 0.50, 0.70)


def anchors(n_seeds: int, per_seed: int) -> list[tuple[int, int]]:
    """(seed, anchor) pairs: install hours spread over three weeks and the whole day."""
    out = []
    for s, seed in enumerate(SEEDS[:n_seeds]):
        for k in range(per_seed):
            i = s * per_seed + k
            day, hour = i * 11 // 8, i * 7 % 24
            out.append((seed, FIRST_ANCHOR + day * US_PER_DAY + hour * US_PER_HOUR))
    return out


def _use_variant(variant: dict) -> None:
    """In a worker process: every ChurnModel takes ``variant``'s settings."""
    from ml import churn

    base_init = churn.ChurnModel.__init__

    def init(self, **kw):
        base_init(self, **{**kw, **variant})

    if variant:
        churn.ChurnModel.__init__ = init  # type: ignore[method-assign]


def measure_world(job: tuple[int, int]) -> dict[str, float]:
    from ml.datasets import as_of_dates, tutor_training_set
    from ml.features.tutor import FEATURE_INFO, TutorFeatureBuilder
    from ml.pipeline import _churn
    from services.sandbox.frames import frames_at
    from services.sandbox.world import WorldConfig, build_world

    seed, anchor = job
    world = build_world(WorldConfig(scale="demo", seed=seed, anchor_us=anchor))
    frames = frames_at(world, anchor)
    builder = TutorFeatureBuilder(frames)
    started = time.perf_counter()
    model, figures = _churn(
        frames, builder, as_of_dates(frames), tutor_training_set, FEATURE_INFO, 1
    )
    seconds = time.perf_counter() - started
    now = builder.at(frames.observed_until)
    p = model.predict_curve(now[model.features])["p30"]
    truth = world.truth.tutors.reindex(now.index)["p_churn_30d"]
    known = truth.notna()
    p, truth = p[known], truth[known]
    read, true = np.digitize(p, TIERS), np.digitize(truth, TIERS)
    critical = p >= TIERS[-1]
    return {
        "mae": float((p - truth).abs().mean()),
        "tier_agreement": float((read == true).mean()),
        "critical_precision": float((truth[critical] >= TIERS[-1]).mean())
        if critical.any()
        else float("nan"),
        "concordance": float(figures["concordance"]),
        "critical_recall": float(critical[truth >= TIERS[-1]].mean()),
        "truly_critical_read": float(p[truth >= TIERS[-1]].mean()),
        "sarah_p30": float(p.get(world.personas["sarah_chen"], np.nan)),
        "seconds": seconds,
        # for the reading spread (popped before the figures are averaged)
        "model": model,
        "rows": now,
        "sarah_row": now.loc[[world.personas["sarah_chen"]]],
    }


def reading_spread(worlds: list[dict], rows_of: int = 3) -> tuple[float, float]:
    """Mean SD of a reading across the other worlds' models, for tutors read 0.5+ on
    average, and Sarah Chen's (rows of the first ``rows_of`` worlds)."""
    high, sarah = [], []
    for i, w in enumerate(worlds[:rows_of]):
        others = [o["model"] for j, o in enumerate(worlds) if j != i]
        if len(others) < 2:
            break
        for rows, out, cut in ((w["rows"], high, 0.5), (w["sarah_row"], sarah, 0.0)):
            read = np.column_stack(
                [m.predict_curve(rows[m.features])["p30"].to_numpy() for m in others]
            )
            out.extend(read.std(axis=1, ddof=1)[read.mean(axis=1) >= cut])
    return (float(np.mean(high)) if high else float("nan"),
            float(np.mean(sarah)) if sarah else float("nan"))  # fmt: skip


def _row(name: str, value: object, unit: str, target: object = None, ok: bool = True) -> dict:
    return {"name": f"churn_worlds.{name}", "value": value, "unit": unit, "target": target,
            "ok": ok}  # fmt: skip


def run(n_seeds: int = len(SEEDS), per_seed: int = 8, variant: dict | None = None) -> list[dict]:
    jobs = anchors(n_seeds, per_seed)
    with ProcessPoolExecutor(2, initializer=_use_variant, initargs=(variant or {},)) as pool:
        worlds = list(pool.map(measure_world, jobs))
    spread, sarah_spread = reading_spread(worlds)
    got = pd.DataFrame(
        [{k: v for k, v in w.items() if k not in ("model", "rows", "sarah_row")}
         for w in worlds]
    )  # fmt: skip
    sarah = got["sarah_p30"].to_numpy()
    critical = int((sarah >= TIERS[-1]).sum())
    n = len(got)
    print(f"   {n} worlds; Sarah Chen's P(churn 30 d): "
          f"{', '.join(f'{v:.2f}' for v in sorted(sarah))}", flush=True)  # fmt: skip
    return [
        _row("worlds", n, ""),
        _row("mae_vs_true_p30", float(got["mae"].mean()), ""),
        _row("tier_agreement", float(got["tier_agreement"].mean()), ""),
        _row("critical_precision", float(got["critical_precision"].mean()), ""),
        _row("critical_recall", float(got["critical_recall"].mean()), ""),
        _row("truly_critical_mean_reading", float(got["truly_critical_read"].mean()), ""),
        _row("high_risk_reading_sd", spread, ""),
        _row("sarah_reading_sd", sarah_spread, ""),
        _row("held_out_concordance", float(got["concordance"].mean()), ""),
        _row("sarah_critical_worlds", critical, f"of {n}"),
        _row("sarah_p30_median", float(statistics.median(sarah)), ""),
        _row("train_seconds_per_world", float(got["seconds"].mean()), "s"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=len(SEEDS))
    parser.add_argument("--anchors", type=int, default=8, help="install hours per seed")
    parser.add_argument("--variant", type=json.loads, default=None)
    args = parser.parse_args()
    for row in run(args.seeds, args.anchors, args.variant):
        print(row)
