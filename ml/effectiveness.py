"""How much each intervention type helps: treated tutors against comparable untreated ones.

Managers treat the riskiest tutors, so a raw comparison (treated vs everyone else) makes
every intervention look harmful. Here each treated tutor is compared with untreated
tutor-times *at the same predicted risk*: risk strata are cut at quantiles of the
treated tutors' risk, and within a stratum the 30-day retention of the treated is set
against that of the untreated (the effect on the treated, ATT, by subclassification).

Two read-outs per type:

- ``effect``: retention difference in percentage points, with a normal-approximation
  95 % interval from the strata's binomial variances, and the sample sizes;
- ``hazard_ratio``: how the treatment scales the churn hazard, from the matched
  cumulative hazards (``ln S_treated / ln S_control``, exact for a constant hazard and
  insensitive to how high the risk is), with a bootstrap interval. This is the scale on
  which the sandbox states each type's true effect (a hazard multiplier).

A random hold-out (tutors the policy would have treated, left untreated at random) gives
an unbiased comparison that needs no matching: ``holdout_effect`` when there are any.

Matching on predicted risk removes the selection bias only if managers pick tutors on
what the churn model sees. They do not: they act on what they know of a tutor (a
falling-off they hear about, a reply that did not come), so at the same predicted risk
the tutors they treat are worse off than the untreated, and the comparison makes a
helpful intervention look harmful. On the demo sandbox every type helps (true effects
+0.4 to +12 points) while the matched comparison reads -9 to -27 for five of them
(+1 to +3 for automated coaching and recognition, given to low-risk tutors);
matching on the model's 77 features as well (propensity score, outcome regression) left
it at -8 to -29: the difference is in what no feature records. Matched on the sandbox's
true risk instead, the estimator is right (the slow full-scale test: within 6 points).
That cannot be adjusted away, but it can be *seen*, with a negative-control outcome:
leaving within the first ``early_days`` (7) after the intervention, before most
interventions can have acted.
Treated tutors who leave that early more often than their matched untreated ones were
at higher risk than the model said (``early_excess`` with its interval), and the type
carries ``caveat`` = ``"selection_bias"`` with a sentence for the reader
(``caveat_text``). The managers' way of choosing is the same for every type, so a
type is flagged when its own early excess is significant, or when the excess over all
treated tutors is and the type's own interval still reaches above zero (a type of a few
dozen tutors cannot show the excess by itself; one whose treated clearly did not leave
early is not flagged). (An intervention that drove tutors out within days
would show up the same way: either way the figure is not a measured effect.)

Pure pandas/numpy: the episodes come from ``services`` (the local database) or from a
simulation in a test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

Z95 = 1.959964
COLUMNS = (
    "intervention_type",
    "n_treated",
    "n_control",
    "retention_treated",
    "retention_control",
    "effect",
    "ci_low",
    "ci_high",
    "naive_effect",
    "hazard_ratio",
    "hr_ci_low",
    "hr_ci_high",
    "n_holdout",
    "holdout_effect",
    "holdout_ci_low",
    "holdout_ci_high",
    "early_treated",
    "early_control",
    "early_excess",
    "early_ci_low",
    "early_ci_high",
    "caveat",
    "caveat_text",
)
SELECTION_BIAS = "selection_bias"


@dataclass(frozen=True)
class EffectSettings:
    neighbours: int = 25  # untreated tutor-times matched to each treated one
    caliper: float = 1.0  # max distance on the logit of risk (about x2.7 in odds)
    min_holdout: int = 5
    bootstrap: int = 100
    seed: int = 0
    early_days: int = 7  # the window of the ``churned_early`` column (for the caveat's text)


def estimate_effects(
    episodes: pd.DataFrame, settings: EffectSettings | None = None
) -> pd.DataFrame:
    """One row per intervention type (columns ``COLUMNS``).

    ``episodes``: one row per tutor-time with ``group`` ("treated", "control" or
    "holdout"), ``intervention_type`` (treated and holdout rows), ``risk`` (predicted
    P(churn 30 d) at the time) and ``retained`` (still active 30 days later); optional
    ``churned_early`` (left within ``settings.early_days``): the selection-bias check.
    """
    settings = settings or EffectSettings()
    missing = {"group", "intervention_type", "risk", "retained"} - set(episodes.columns)
    if missing:
        raise ValueError(f"episodes lack columns: {', '.join(sorted(missing))}")
    data = episodes.dropna(subset=["risk", "retained"])
    controls = data[data["group"] == "control"]
    c_risk = controls["risk"].to_numpy(float)
    # A control is followed for the whole horizon even if treated later: censoring it at
    # that treatment would drop exactly the tutors who got worse (managers treat by risk)
    # and flatter the untreated. The price is a bias toward "no effect", small while few
    # controls are treated within the horizon.
    c_ret = controls["retained"].to_numpy(bool)
    has_early = "churned_early" in data.columns
    c_early = _early(controls) if has_early else None
    rng = np.random.default_rng(settings.seed)
    rows = []
    types = data.loc[data["group"] != "control", "intervention_type"].dropna().unique()
    pooled = None
    if has_early:
        all_treated = data[data["group"] == "treated"]
        pooled = _early_excess(
            all_treated["risk"].to_numpy(float), _early(all_treated), c_risk, c_early, settings
        )
    for itype in sorted(types):
        treated = data[(data["group"] == "treated") & (data["intervention_type"] == itype)]
        holdout = data[(data["group"] == "holdout") & (data["intervention_type"] == itype)]
        t_risk = treated["risk"].to_numpy(float)
        t_ret = treated["retained"].to_numpy(bool)
        row: dict[str, object] = dict.fromkeys(COLUMNS, np.nan)
        row.update(intervention_type=itype, n_treated=len(treated), n_holdout=len(holdout))
        matched = _matched(t_risk, t_ret, c_risk, c_ret, settings)
        if matched is not None:
            row.update(matched)
            row["hr_ci_low"], row["hr_ci_high"] = _bootstrap_hr(
                t_risk, t_ret, c_risk, c_ret, settings, rng
            )
        if len(treated) and len(controls):
            row["naive_effect"] = t_ret.mean() - c_ret.mean()
        if has_early:
            early = _early_excess(t_risk, _early(treated), c_risk, c_early, settings)
            if early is not None:
                row.update(early)
        if len(holdout) >= settings.min_holdout and len(treated):
            h_ret = holdout["retained"].to_numpy(bool)
            diff = t_ret.mean() - h_ret.mean()
            se = np.sqrt(_var(t_ret.mean(), len(t_ret)) + _var(h_ret.mean(), len(h_ret)))
            row.update(
                holdout_effect=diff, holdout_ci_low=diff - Z95 * se, holdout_ci_high=diff + Z95 * se
            )
        row["caveat"], row["caveat_text"] = _caveat(row, pooled, settings)
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out.astype({"n_treated": int, "n_holdout": int}) if len(out) else out


def _early(frame: pd.DataFrame) -> np.ndarray:
    return pd.to_numeric(frame["churned_early"], errors="coerce").to_numpy(float)


def _early_excess(
    t_risk: np.ndarray,
    t_early: np.ndarray,
    c_risk: np.ndarray,
    c_early: np.ndarray,
    settings: EffectSettings,
) -> dict[str, float] | None:
    """Share of the treated who left within the first ``early_days`` minus that of their
    matched untreated tutor-times (the same neighbours as the effect), with its 95 %
    interval: a negative-control outcome, zero when the matching removed the selection."""
    ok_t, ok_c = np.isfinite(t_early), np.isfinite(c_early)
    if ok_t.sum() < 2 or ok_c.sum() < settings.neighbours:
        return None
    t_risk, t_early = t_risk[ok_t], t_early[ok_t]
    c_risk, c_early = c_risk[ok_c], c_early[ok_c]
    order = np.argsort(_logit(c_risk))
    c_sorted = _logit(c_risk)[order]
    nb, keep = _match(t_risk, c_sorted, settings)
    if keep.sum() < 2:
        return None
    control = c_early[order][nb[keep]].mean(axis=1)
    diff = t_early[keep] - control
    excess = float(diff.mean())
    se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
    return {
        "early_treated": float(t_early[keep].mean()),
        "early_control": float(control.mean()),
        "early_excess": excess,
        "early_ci_low": excess - Z95 * se,
        "early_ci_high": excess + Z95 * se,
    }


def _caveat(
    row: dict[str, object], pooled: dict[str, float] | None, settings: EffectSettings
) -> tuple[str, str]:
    """``("selection_bias", sentence)`` when the treated left early more often than their
    matches (significantly, for this type or over all treated tutors); else ``("", "")``."""
    excess = row.get("early_excess")
    if not isinstance(excess, float) or not np.isfinite(excess):
        return "", ""
    own = float(row["early_ci_low"]) > 0  # type: ignore[arg-type]
    own_high = float(row["early_ci_high"])  # type: ignore[arg-type]
    shared = pooled is not None and pooled["early_ci_low"] > 0 and own_high > 0
    if not (own or shared):
        return "", ""
    # The figures the sentence quotes: the type's own when they show the excess, else
    # those over all treated tutors (a small type's own may even point the other way).
    src = row if own or excess > 0 else pooled
    whose = (
        "the treated tutors"
        if src is row
        else "all treated tutors (this type's own are too few to tell)"
    )
    text = (
        f"Not a measured effect: within {settings.early_days} days, before most "
        f"interventions can act, {float(src['early_treated']):.0%} of {whose} "  # type: ignore[index,arg-type]
        f"left against {float(src['early_control']):.0%} of untreated tutors at the same "  # type: ignore[index,arg-type]
        "predicted risk. Managers chose tutors who were worse off than the churn model "
        "saw, so this comparison understates the effect (it may even look harmful when it "
        "is not)."
    )
    n_holdout = row.get("n_holdout")
    if isinstance(row.get("holdout_effect"), float) and np.isfinite(row["holdout_effect"]):  # type: ignore[arg-type]
        text += f" The random hold-out comparison ({n_holdout} tutors) is unbiased: read that."
    else:
        text += " Only a random hold-out can measure it."
    return SELECTION_BIAS, text


def _var(p: float, n: int) -> float:
    return p * (1 - p) / n if n else np.nan


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _neighbours(t_risk: np.ndarray, c_sorted: np.ndarray, k: int) -> np.ndarray:
    """Indexes (into ``c_sorted``) of each treated tutor's ``k`` nearest controls on the
    logit of risk: a window of k on either side of its place, then the k closest."""
    k = min(k, len(c_sorted))
    t = _logit(t_risk)
    pos = np.searchsorted(c_sorted, t)
    window = pos[:, None] + np.arange(-k, k)[None, :]
    window = np.clip(window, 0, len(c_sorted) - 1)
    dist = np.abs(c_sorted[window] - t[:, None])
    # Clipped duplicates at the ends are pushed back so each neighbour counts once.
    dup = np.zeros_like(dist, dtype=bool)
    dup[:, 1:] = window[:, 1:] == window[:, :-1]
    dist[dup] = np.inf
    best = np.argpartition(dist, k - 1, axis=1)[:, :k]
    return np.take_along_axis(window, best, axis=1)


def _match(
    t_risk: np.ndarray, c_sorted: np.ndarray, settings: EffectSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Each treated tutor's ``neighbours`` (indexes into ``c_sorted``, the controls' sorted
    logit risks) and whether all of them lie within the caliper."""
    nb = _neighbours(t_risk, c_sorted, settings.neighbours)
    far = np.abs(c_sorted[nb] - _logit(t_risk)[:, None]).max(axis=1) > settings.caliper
    return nb, ~far


def _matched(
    t_risk: np.ndarray,
    t_ret: np.ndarray,
    c_risk: np.ndarray,
    c_ret: np.ndarray,
    settings: EffectSettings,
) -> dict[str, float] | None:
    """k-nearest-neighbour matching on predicted risk (with replacement): each treated
    tutor's counterfactual retention is that of the k untreated tutor-times closest to
    its risk. Treated tutors with no control within the caliper are left out."""
    if len(t_risk) == 0 or len(c_risk) < settings.neighbours:
        return None
    order = np.argsort(_logit(c_risk))
    c_sorted = _logit(c_risk)[order]
    c_ret_sorted = c_ret[order].astype(float)
    nb, keep = _match(t_risk, c_sorted, settings)
    if keep.sum() == 0:
        return None
    s_c = c_ret_sorted[nb[keep]].mean(axis=1)
    y = t_ret[keep].astype(float)
    diff = y - s_c
    n = int(keep.sum())
    effect = float(diff.mean())
    se = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    hr = _hazard_ratio(s_c, float(y.mean()))
    return {
        "n_treated": n,
        "n_control": len(np.unique(nb[keep])),
        "retention_treated": float(y.mean()),
        "retention_control": float(s_c.mean()),
        "effect": effect,
        "ci_low": effect - Z95 * se,
        "ci_high": effect + Z95 * se,
        "hazard_ratio": hr,
    }


def _hazard_ratio(s_control: np.ndarray, retained_treated: float) -> float:
    """The hazard multiplier ``m`` with mean(S_c ** m) = the treated's retention: each
    treated tutor's counterfactual survival raised to ``m`` is their survival under a
    proportional effect (a moment estimate; averaging survivals first would bias it).
    """
    s_c = np.clip(s_control, 1e-6, 1 - 1e-9)

    def treated_retention(m: float) -> float:
        return float(np.mean(s_c**m))

    lo, hi = 1e-3, 50.0
    if not treated_retention(hi) <= retained_treated <= treated_retention(lo):
        return np.nan  # outside what any multiplier explains (e.g. every tutor stayed)
    for _ in range(60):  # bisection on log m: the retention falls as m grows
        mid = float(np.sqrt(lo * hi))
        if treated_retention(mid) > retained_treated:
            lo = mid
        else:
            hi = mid
    return float(np.sqrt(lo * hi))


def _bootstrap_hr(
    t_risk: np.ndarray,
    t_ret: np.ndarray,
    c_risk: np.ndarray,
    c_ret: np.ndarray,
    settings: EffectSettings,
    rng: np.random.Generator,
) -> tuple[float, float]:
    if settings.bootstrap <= 0:
        return np.nan, np.nan
    values = []
    for _ in range(settings.bootstrap):
        ti = rng.integers(0, len(t_risk), len(t_risk))
        ci = rng.integers(0, len(c_risk), len(c_risk))
        m = _matched(t_risk[ti], t_ret[ti], c_risk[ci], c_ret[ci], settings)
        if m is not None and np.isfinite(m["hazard_ratio"]):
            values.append(m["hazard_ratio"])
    if len(values) < 10:
        return np.nan, np.nan
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)
