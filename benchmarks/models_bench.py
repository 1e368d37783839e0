"""The models at full scale: training time, scoring time, memory, and the honest figures.

    .venv/bin/python -m benchmarks.models_bench [--scale full|demo] [--compare]

:func:`train_all` and :func:`score_all` are the whole modelling pipeline on
:class:`~ml.frames.MarketFrames` (what ``tutormax train`` / ``tutormax score`` run):

- tutor churn: weekly as-of dates; a time-based hold-out (the last 8 weeks of as-of
  dates; training labels censored at the cut) gives the held-out figures, then the
  final model is fitted on every date;
- customer churn: the same with as-of dates every 14 days;
- first sessions: past rated first sessions, hold-out = the latest 20 % by start time;
- sessions next week: a Poisson GLM on tutor rows at past as-of dates with a full week
  after them, hold-out = the latest of those dates.

:func:`score_all` scores every active tutor and customer and the week's upcoming first
sessions at ``observed_until``, features included: curves, tiers, the top three factors
in words, performance, health, burnout, no-show risk, sessions next week, customer
health.

:func:`run` measures it at full scale in two subprocesses: one builds the sandbox world
and writes its frames to a temporary folder; the other (a fresh process, so its peak
RSS is the models' own plus the frames) loads them, trains everything and scores
everything. Targets: training < 120 s, scoring < 10 s, peak RSS < 2,000 MB.

:func:`compare_churn` is the AFT-vs-Cox-vs-classifiers comparison quoted in
:mod:`ml.churn`.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ml import metrics
from ml.churn import ChurnModel, monotone_from
from ml.datasets import as_of_dates, tutor_training_set
from ml.features import tutor as tutor_features
from ml.frames import MarketFrames
from ml.pipeline import score_all, split_dates, train_all

ANCHOR = "2026-11-20T12:00:00Z"
TARGET_TRAIN_S = 120.0
TARGET_SCORE_S = 10.0
TARGET_RSS_MB = 2000.0


# ---------------------------------------------------------------------- measuring


def _world_frames(scale: str, folder: Path) -> dict:
    """Child 1: build the world, write its frames (pandas pickles of our own data in a
    temporary folder; models are never pickled), personas and the truth we check."""
    from services.api.rails_time import parse_us
    from services.sandbox.frames import frames_at
    from services.sandbox.world import WorldConfig, build_world

    t = time.perf_counter()
    world = build_world(WorldConfig(scale=scale, seed=42, anchor_us=parse_us(ANCHOR)))
    built = time.perf_counter() - t
    frames = frames_at(world, world.anchor_us)
    for name in (
        "tutors",
        "sessions",
        "engagement",
        "availability",
        "customers",
        "calls",
        "bookings",
        "interventions",
    ):
        getattr(frames, name).to_pickle(folder / f"{name}.pkl")
    truth = world.truth
    tp = truth.tutors[["p_churn_30d", "active_at_anchor"]]
    tp.to_pickle(folder / "truth_tutors.pkl")
    truth.first_sessions[["p_poor"]].to_pickle(folder / "truth_first.pkl")
    meta = {
        "observed_until": str(frames.observed_until),
        "personas": world.personas,
        "world_seconds": built,
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta


def _load_frames(folder: Path) -> MarketFrames:
    meta = json.loads((folder / "meta.json").read_text())
    parts = {
        name: pd.read_pickle(folder / f"{name}.pkl")
        for name in (
            "tutors",
            "sessions",
            "engagement",
            "availability",
            "customers",
            "calls",
            "bookings",
            "interventions",
        )
    }
    return MarketFrames(**parts, observed_until=pd.Timestamp(meta["observed_until"]))


class _PeakRss:
    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def _models_child(folder: Path) -> dict:
    """Child 2: load the frames, train everything, score everything; figures as JSON."""
    import resource

    meta = json.loads((folder / "meta.json").read_text())
    frames = _load_frames(folder)
    with _PeakRss() as rss:
        models, figures, seconds = train_all(frames)
        t = time.perf_counter()
        scored = score_all(frames, models)
        score_s = time.perf_counter() - t
    high_water = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tutors, sessions = scored["tutors"], scored["first_sessions"]
    personas = meta["personas"]
    sarah, mike = personas.get("sarah_chen"), personas.get("mike_ross_first_session")
    truth = pd.read_pickle(folder / "truth_tutors.pkl")
    truth_first = pd.read_pickle(folder / "truth_first.pkl")
    t_now = truth.reindex(tutors.index)["p_churn_30d"]
    res = {
        "train_seconds": seconds,
        "score_seconds": score_s,
        "peak_rss_mb": rss.peak / 2**20,
        "high_water_rss_mb": high_water,
        "figures": figures,
        "counts": {
            "tutors": len(tutors),
            "customers": len(scored["customers"]),
            "first_sessions": len(sessions),
        },
        "tiers": tutors["risk_tier"].value_counts().to_dict(),
        "mean_p30_vs_truth": [float(tutors["p30"].mean()), float(t_now.mean())],
        "auc_vs_true_p30_above_0.25": metrics.roc_auc(t_now >= 0.25, tutors["p30"]),
    }
    if sarah in tutors.index:
        row = tutors.loc[sarah]
        res["sarah"] = {
            "p30": float(row["p30"]),
            "tier": row["risk_tier"],
            "rank": int((tutors["p30"] > row["p30"]).sum()) + 1,
            "true_p30": float(truth.loc[sarah, "p_churn_30d"]),
            "factors": list(scored["tutor_factors"].query("row == @sarah")["text"]),
        }
    if mike in sessions.index:
        row = sessions.loc[mike]
        res["mike"] = {
            "p_poor": float(row["p_poor"]),
            "tier": row["risk_tier"],
            "true_p_poor": float(truth_first.loc[mike, "p_poor"]),
            "factors": list(scored["first_session_factors"].query("row == @mike")["text"]),
        }
    return res


def _clean(o):
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def measure(scale: str = "full") -> dict:
    with tempfile.TemporaryDirectory(prefix="models-bench-") as tmp:
        for step in ("world", "models"):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.models_bench",
                    "--child",
                    step,
                    "--scale",
                    scale,
                    "--folder",
                    tmp,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res["world_seconds"] = json.loads((Path(tmp) / "meta.json").read_text())["world_seconds"]
        return res


def _row(name, value, unit, target=None, ok=True):
    return {"name": f"models.{name}", "value": value, "unit": unit, "target": target, "ok": ok}


def run(scale: str = "full") -> list[dict[str, object]]:
    m = measure(scale)
    train = m["train_seconds"]["total"]
    rows = [
        _row("train_all_seconds", train, "s", TARGET_TRAIN_S, train < TARGET_TRAIN_S),
        _row(
            "score_all_seconds",
            m["score_seconds"],
            "s",
            TARGET_SCORE_S,
            m["score_seconds"] < TARGET_SCORE_S,
        ),
        _row(
            "peak_rss_mb", m["peak_rss_mb"], "MB", TARGET_RSS_MB, m["peak_rss_mb"] < TARGET_RSS_MB
        ),
    ]
    for part in ("tutor_churn", "customer_churn", "first_session", "sessions_forecast"):
        rows.append(_row(f"train_{part}_seconds", m["train_seconds"][part], "s"))
    tc, cc, fs = (m["figures"][k] for k in ("tutor_churn", "customer_churn", "first_session"))
    for h in (7, 14, 30, 90):
        rows.append(_row(f"tutor_churn.auc_{h}d", tc.get(f"auc_{h}d"), "AUC"))
        rows.append(_row(f"tutor_churn.brier_{h}d", tc.get(f"brier_{h}d"), "Brier"))
    rows += [
        _row("tutor_churn.concordance", tc["concordance"], "C"),
        _row(
            "tutor_churn.recall_30d_at_0.5",
            tc["recall_30d"],
            "share",
            0.80,
            (tc["recall_30d"] or 0) >= 0.80,
        ),
        _row(
            "tutor_churn.precision_30d_at_0.5",
            tc["precision_30d"],
            "share",
            0.70,
            (tc["precision_30d"] or 0) >= 0.70,
        ),
        _row("tutor_churn.threshold_for_recall_0.8_30d", tc["threshold_r80_30d"], "p"),
        _row(
            "tutor_churn.precision_at_recall_0.8_30d",
            tc["precision_r80_30d"],
            "share",
            0.70,
            (tc["precision_r80_30d"] or 0) >= 0.70,
        ),
        _row("customer_churn.auc_30d", cc.get("auc_30d"), "AUC"),
        _row(
            "customer_churn.recall_30d_at_0.5",
            cc["recall_30d"],
            "share",
            0.80,
            (cc["recall_30d"] or 0) >= 0.80,
        ),
        _row(
            "customer_churn.precision_at_recall_0.8_30d",
            cc["precision_r80_30d"],
            "share",
            0.70,
            (cc["precision_r80_30d"] or 0) >= 0.70,
        ),
        _row("first_session.auc", fs["auc"], "AUC"),
        _row("first_session.accuracy", fs["accuracy"], "share"),
        _row("first_session.always_good_accuracy", fs["always_good_accuracy"], "share"),
        _row(
            "first_session.brier",
            fs["brier"],
            "Brier",
            fs["brier_base_rate"],
            fs["brier"] < fs["brier_base_rate"],
        ),
        _row(
            "sessions_forecast.mae",
            m["figures"]["sessions_forecast"]["mae"],
            "sessions",
            m["figures"]["sessions_forecast"]["mae_last_7d"],
            m["figures"]["sessions_forecast"]["mae"]
            < m["figures"]["sessions_forecast"]["mae_last_7d"],
        ),
    ]
    if "sarah" in m:
        rows.append(
            _row(
                "sarah_chen.p30",
                m["sarah"]["p30"],
                m["sarah"]["tier"],
                0.70,
                m["sarah"]["p30"] >= 0.70,
            )
        )
    if "mike" in m:
        rows.append(
            _row(
                "mike_ross.p_poor",
                m["mike"]["p_poor"],
                m["mike"]["tier"],
                0.50,
                m["mike"]["p_poor"] >= 0.50,
            )
        )
    return [{**r, "value": _clean(r["value"])} for r in rows]


# ---------------------------------------------------------------------- AFT vs the others


def _simulated(seed: int = 0):
    """Weibull AFT survival data (x0..x3 matter), 30 % censored early: train/valid/test."""
    rng = np.random.default_rng(seed)

    def simulate(n):
        X = rng.normal(size=(n, 8))
        lin = 0.9 * X[:, 0] - 0.6 * X[:, 1] + 0.5 * X[:, 2] + 0.4 * (X[:, 3] > 1)
        lam = 150.0 * np.exp(-lin / 1.3)
        T = lam * (-np.log(rng.uniform(size=n))) ** (1 / 1.3)
        C = np.full(n, 120.0)
        early = rng.uniform(size=n) < 0.3
        C[early] = rng.uniform(1, 120, size=early.sum())
        return pd.DataFrame(X, columns=[f"x{i}" for i in range(8)]), np.minimum(T, C), T <= C

    return simulate(12_000), simulate(3000), simulate(8000)


def _sandbox(folder: Path):
    """Full-scale tutor rows from frames written by ``--child world``: train (censored at
    the cut, its latest 20 % of dates as validation), test = the last 8 weeks."""
    frames = _load_frames(folder)
    b = tutor_features.TutorFeatureBuilder(frames)
    dates = as_of_dates(frames)
    train_dates, test_dates, cut = split_dates(dates)
    k = max(1, round(len(train_dates) * 0.2))
    vcut = train_dates[-k]
    tr = tutor_training_set(frames, train_dates[:-k], censor_at=vcut, builder=b)
    va = tutor_training_set(frames, train_dates[-k:], censor_at=cut, builder=b)
    te = tutor_training_set(frames, test_dates, builder=b)
    return tuple((X, d.to_numpy(), e.to_numpy().astype(bool)) for X, d, e in (tr, va, te))


def compare_churn(data=None, monotone=None) -> dict[str, dict[str, float]]:
    """AFT vs Cox (``survival:cox`` + Breslow) vs four per-horizon classifiers, each
    with early stopping on the validation part (figures quoted in :mod:`ml.churn`)."""
    import xgboost as xgb

    (X, d, e), (Xv, dv, ev), (Xt, dt, et) = data if data is not None else _simulated()
    hs = (7, 14, 30, 90)
    cons = None
    if monotone:
        cons = "(" + ",".join(str(-int(np.sign(monotone.get(c, 0)))) for c in X.columns) + ")"
        risk_cons = "(" + ",".join(str(int(np.sign(monotone.get(c, 0)))) for c in X.columns) + ")"

    def score(curve):
        out = {"concordance_p30": metrics.concordance_index(dt, et, curve[:, 2])}
        for k, h in enumerate(hs):
            out[f"auc_{h}d"] = metrics.horizon_auc(dt, et, curve[:, k], h)
            out[f"brier_{h}d"] = metrics.horizon_brier(dt, et, curve[:, k], h)
        out["non_monotone_rows"] = float(np.mean(np.any(np.diff(curve, axis=1) < -1e-12, axis=1)))
        return out

    def params(**kw):
        p = {"max_depth": 3, "learning_rate": 0.1, "verbosity": 0, "nthread": 2, **kw}
        return p

    res = {}
    aft = ChurnModel(nthread=2, monotone=monotone).fit(X, d, e, valid=(Xv, dv, ev))
    res["aft"] = score(aft.predict_curve(Xt).to_numpy())

    extra = {"monotone_constraints": risk_cons} if cons else {}
    dtr = xgb.DMatrix(X.to_numpy(np.float32), label=np.where(e, d, -d))
    dva = xgb.DMatrix(Xv.to_numpy(np.float32), label=np.where(ev, dv, -dv))
    cox = xgb.train(
        params(objective="survival:cox", eval_metric="cox-nloglik", **extra),
        dtr, 500, evals=[(dva, "v")], early_stopping_rounds=30, verbose_eval=False,
    )  # fmt: skip
    cox = cox[: cox.best_iteration + 1]
    order = np.argsort(d)
    ds, es = d[order], e[order]
    rs = np.exp(cox.predict(dtr, output_margin=True))[order]
    at_risk = np.cumsum(rs[::-1])[::-1]
    base = np.cumsum(np.where(es, 1.0 / at_risk, 0.0))
    risk_t = np.exp(cox.predict(xgb.DMatrix(Xt.to_numpy(np.float32)), output_margin=True))
    H = np.array([base[max(np.searchsorted(ds, h, side="right") - 1, 0)] for h in hs])
    res["cox"] = score(1 - np.exp(-risk_t[:, None] * H[None, :]))

    cols = []
    for h in hs:
        y, known = metrics.horizon_status(d, e, h)
        yv, kv = metrics.horizon_status(dv, ev, h)
        if y[known].sum() == 0 or yv[kv].sum() == 0 or (yv[kv] == 0).sum() == 0:
            cols.append(np.full(len(Xt), np.nan))
            continue
        clf = xgb.train(
            params(objective="binary:logistic", **extra),
            xgb.DMatrix(X.to_numpy(np.float32)[known], label=y[known]), 500,
            evals=[(xgb.DMatrix(Xv.to_numpy(np.float32)[kv], label=yv[kv]), "v")],
            early_stopping_rounds=30, verbose_eval=False,
        )  # fmt: skip
        clf = clf[: clf.best_iteration + 1]
        cols.append(clf.predict(xgb.DMatrix(Xt.to_numpy(np.float32))))
    res["classifiers"] = score(np.column_stack(cols))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="full")
    ap.add_argument("--child", choices=["world", "models"])
    ap.add_argument("--folder")
    ap.add_argument("--compare", action="store_true")
    args = ap.parse_args(argv)
    if args.child == "world":
        print(json.dumps(_world_frames(args.scale, Path(args.folder))))
        return 0
    if args.child == "models":
        print(json.dumps(_clean(_models_child(Path(args.folder)))))
        return 0
    if args.compare:
        out = {"simulated": compare_churn()}
        if args.folder:  # frames written by --child world
            mono = monotone_from(tutor_features.FEATURE_INFO)
            out["sandbox_tutors"] = compare_churn(_sandbox(Path(args.folder)), monotone=mono)
        print(json.dumps(_clean(out), indent=1))
        return 0
    for r in run(args.scale):
        print(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
