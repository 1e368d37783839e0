"""Model metrics in plain numpy: ranking, thresholds, calibration, survival, forecasts.

Every function takes array-likes and returns floats (or a small DataFrame for tables).
Where scikit-learn has the same metric the tests compare against it; Harrell's
concordance and the censoring-weighted (IPCW) horizon metrics have no sklearn twin and
are tested against brute force.

Survival at a horizon ``h``: a row with ``duration <= h`` and ``event`` is a case, a row
with ``duration > h`` a control (survived past ``h``, event or not), and a row censored
at or before ``h`` has an unknown status. :func:`horizon_status` gives that split and
:func:`ipcw_weights` the inverse-probability-of-censoring weights (Graf et al. 1999:
cases weighted by ``1 / G(T-)``, controls by ``1 / G(h)``, with ``G`` the Kaplan-Meier
estimate of staying uncensored), which make horizon Brier scores and AUCs unbiased when
censoring is independent of the features (in our training sets it is administrative:
the data stop at the same instant for everyone).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _arr(x, dtype=float) -> np.ndarray:
    return np.asarray(x, dtype=dtype).ravel()


def _weights(w, n: int) -> np.ndarray:
    if w is None:
        return np.ones(n)
    w = _arr(w)
    if len(w) != n:
        raise ValueError("sample_weight has the wrong length")
    return w


# ---------------------------------------------------------------------- ranking


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (like scipy's rankdata)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # boundaries of runs of equal values
    new = np.r_[True, xs[1:] != xs[:-1]]
    run_id = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(xs)]
    avg = (starts + ends + 1) / 2.0  # mean of 1-based positions start+1 .. end
    ranks = np.empty(len(x))
    ranks[order] = avg[run_id]
    return ranks


def roc_auc(y_true, score, sample_weight=None) -> float:
    """Area under the ROC curve (ties count one half); NaN when only one class is present.

    Weighted Mann-Whitney: the weighted share of (positive, negative) pairs the score
    orders correctly.
    """
    y = _arr(y_true) > 0.5
    s = _arr(score)
    w = _weights(sample_weight, len(y))
    if len(y) != len(s):
        raise ValueError("y_true and score differ in length")
    wp, wn = w[y].sum(), w[~y].sum()
    if wp <= 0 or wn <= 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ss, ys, ws = s[order], y[order], w[order]
    new = np.r_[True, ss[1:] != ss[:-1]]
    group = np.cumsum(new) - 1
    neg_in_group = np.bincount(group, weights=ws * ~ys)
    pos_in_group = np.bincount(group, weights=ws * ys)
    neg_below = np.cumsum(neg_in_group) - neg_in_group
    pairs = (pos_in_group * (neg_below + 0.5 * neg_in_group)).sum()
    return float(pairs / (wp * wn))


def precision_recall_at(y_true, score, threshold: float) -> dict[str, float]:
    """Precision, recall and share flagged when ``score >= threshold`` is called positive.

    Precision is NaN when nothing is flagged, recall NaN when there are no positives.
    """
    y = _arr(y_true) > 0.5
    flagged = _arr(score) >= threshold
    tp = float((flagged & y).sum())
    n_flag, n_pos = float(flagged.sum()), float(y.sum())
    return {
        "threshold": float(threshold),
        "precision": tp / n_flag if n_flag else float("nan"),
        "recall": tp / n_pos if n_pos else float("nan"),
        "flagged_share": n_flag / len(y) if len(y) else float("nan"),
    }


def threshold_for_recall(y_true, score, target_recall: float = 0.80) -> dict[str, float]:
    """The highest threshold whose recall reaches ``target_recall``, and the precision there.

    The answer to "to catch 80 % of churners, how many false alarms do we accept?".
    """
    y = _arr(y_true) > 0.5
    s = _arr(score)
    n_pos = int(y.sum())
    if n_pos == 0:
        return {"threshold": float("nan"), "precision": float("nan"), "recall": float("nan"),
                "flagged_share": float("nan")}  # fmt: skip
    pos_scores = np.sort(s[y])[::-1]
    need = max(1, math.ceil(target_recall * n_pos - 1e-9))
    threshold = float(pos_scores[need - 1])
    return precision_recall_at(y, s, threshold)


def brier(y_true, p, sample_weight=None) -> float:
    """Mean squared error of probabilities against 0/1 outcomes."""
    y, p = _arr(y_true), _arr(p)
    w = _weights(sample_weight, len(y))
    if w.sum() <= 0:
        return float("nan")
    return float(np.sum(w * (p - y) ** 2) / w.sum())


def accuracy(y_true, p, threshold: float = 0.5) -> float:
    y = _arr(y_true) > 0.5
    return float(np.mean((_arr(p) >= threshold) == y)) if len(y) else float("nan")


def log_loss(y_true, p, eps: float = 1e-15) -> float:
    y, p = _arr(y_true), np.clip(_arr(p), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def reliability_table(y_true, p, bins: int = 10, strategy: str = "quantile") -> pd.DataFrame:
    """Calibration by bins of the predicted probability.

    ``strategy="quantile"``: deciles of the predictions (equal counts); ``"uniform"``:
    equal-width bins on [0, 1]. Columns ``bin, p_low, p_high, n, mean_predicted,
    observed_rate, gap`` (gap = observed - predicted); empty bins are left out.
    """
    y, p = _arr(y_true), _arr(p)
    if strategy == "quantile":
        edges = np.quantile(p, np.linspace(0, 1, bins + 1)) if len(p) else np.linspace(0, 1, 2)
        edges = np.unique(edges)
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    else:
        raise ValueError("strategy must be 'quantile' or 'uniform'")
    idx = np.clip(np.searchsorted(edges[1:-1], p, side="left"), 0, max(len(edges) - 2, 0))
    rows = []
    for b in range(max(len(edges) - 1, 0)):
        m = idx == b
        if not m.any():
            continue
        rows.append(
            {
                "bin": b,
                "p_low": float(edges[b]),
                "p_high": float(edges[b + 1]),
                "n": int(m.sum()),
                "mean_predicted": float(p[m].mean()),
                "observed_rate": float(y[m].mean()),
            }
        )
    out = pd.DataFrame(
        rows, columns=["bin", "p_low", "p_high", "n", "mean_predicted", "observed_rate"]
    )
    out["gap"] = out["observed_rate"] - out["mean_predicted"]
    return out


def expected_calibration_error(y_true, p, bins: int = 10) -> float:
    """Count-weighted mean |observed - predicted| over the deciles of the predictions."""
    t = reliability_table(y_true, p, bins=bins)
    if t.empty:
        return float("nan")
    return float(np.sum(t["n"] * t["gap"].abs()) / t["n"].sum())


# ---------------------------------------------------------------------- survival


def concordance_index(duration, event, risk) -> float:
    """Harrell's C: among comparable pairs, the share where the higher risk fails first.

    A pair (i, j) is comparable when i has an event and ``T_i < T_j``, or ``T_i == T_j``
    with j censored (j was still there at T_i). Ties in risk count one half. ``risk`` is
    "higher = sooner"; pass ``-predicted_time`` for a time prediction. O(n log n).
    """
    t, e, r = _arr(duration), _arr(event) > 0.5, _arr(risk)
    n = len(t)
    if not (len(e) == n == len(r)):
        raise ValueError("duration, event and risk differ in length")
    if n < 2 or not e.any():
        return float("nan")
    # Risk ranks for a Fenwick tree over "at-risk later" individuals.
    uniq, rk = np.unique(r, return_inverse=True)
    m = len(uniq)
    tree = np.zeros(m + 1, dtype=np.int64)

    def add(i: int) -> None:
        i += 1
        while i <= m:
            tree[i] += 1
            i += i & -i

    def prefix(i: int) -> int:  # count of inserted ranks < i
        s = 0
        while i > 0:
            s += tree[i]
            i -= i & -i
        return int(s)

    # Walk times from the latest down; at each distinct time, first score its events
    # against everyone strictly later plus censored at the same time, then insert.
    order = np.lexsort((e, -t))  # by time descending; censored before events at a tie
    ts, es, rks = t[order], e[order], rk[order]
    concordant = 0.0
    comparable = 0
    inserted = 0
    i = 0
    while i < n:
        j = i
        while j < n and ts[j] == ts[i]:
            j += 1
        group = range(i, j)
        # censored at this time count as "later" for the events at this time
        for k in group:
            if not es[k]:
                add(int(rks[k]))
                inserted += 1
        for k in group:
            if es[k]:
                lower = prefix(int(rks[k]))  # later individuals with lower risk
                same = prefix(int(rks[k]) + 1) - lower
                concordant += lower + 0.5 * same
                comparable += inserted
        for k in group:
            if es[k]:
                add(int(rks[k]))
                inserted += 1
        i = j
    return float(concordant / comparable) if comparable else float("nan")


def horizon_status(duration, event, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """(y, known): y = churned by ``horizon``; known = False when censored before it."""
    t, e = _arr(duration), _arr(event) > 0.5
    y = e & (t <= horizon)
    known = y | (t > horizon)
    return y.astype(float), known


def _km_censoring(duration: np.ndarray, event: np.ndarray):
    """Kaplan-Meier of the censoring distribution: returns G(t-) evaluator (left limit)."""
    cens = ~event
    times = np.unique(duration[cens])
    if len(times) == 0:
        return lambda x: np.ones_like(np.asarray(x, dtype=float))
    ts = np.sort(duration)
    at_risk = len(ts) - np.searchsorted(ts, times, side="left")
    d_cens = np.bincount(np.searchsorted(times, duration[cens]), minlength=len(times))
    surv = np.cumprod(1.0 - d_cens / np.maximum(at_risk, 1))

    def g_left(x):
        x = np.asarray(x, dtype=float)
        k = np.searchsorted(times, x, side="left")  # censoring times strictly before x
        out = np.where(k > 0, surv[np.maximum(k - 1, 0)], 1.0)
        return np.maximum(out, 1e-3)

    return g_left


def ipcw_weights(duration, event, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """(y, w) at ``horizon`` with inverse-probability-of-censoring weights (0 = unknown)."""
    t, e = _arr(duration), _arr(event) > 0.5
    y, known = horizon_status(t, e, horizon)
    g = _km_censoring(t, e)
    w = np.zeros(len(t))
    case = known & (y > 0)
    w[case] = 1.0 / g(t[case])
    ctrl = known & (y == 0)
    # G(h) for controls: surviving uncensored through h (right limit ~ left limit + eps)
    w[ctrl] = 1.0 / g(np.nextafter(horizon, np.inf))
    return y, w


def horizon_brier(duration, event, p, horizon: float) -> float:
    """IPCW Brier score of P(event by ``horizon``) (Graf et al.); NaN when nobody was
    followed past the horizon (the survivors' side is unknown)."""
    y, w = ipcw_weights(duration, event, horizon)
    if not np.any((w > 0) & (y == 0)):
        return float("nan")
    return float(np.sum(w * (_arr(p) - y) ** 2) / len(y))


def horizon_auc(duration, event, risk, horizon: float) -> float:
    """Cumulative/dynamic AUC at ``horizon``: cases by h against survivors past h, IPCW."""
    y, w = ipcw_weights(duration, event, horizon)
    known = w > 0
    return roc_auc(y[known], _arr(risk)[known], sample_weight=w[known])


# ---------------------------------------------------------------------- forecasts


def mae(y_true, y_pred) -> float:
    y, f = _arr(y_true), _arr(y_pred)
    return float(np.mean(np.abs(y - f))) if len(y) else float("nan")


def wape(y_true, y_pred) -> float:
    """Weighted absolute percentage error: sum |error| / sum |actual| (NaN if all zero)."""
    y, f = _arr(y_true), _arr(y_pred)
    denom = np.abs(y).sum()
    return float(np.abs(y - f).sum() / denom) if denom > 0 else float("nan")
