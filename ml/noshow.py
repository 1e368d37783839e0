"""No-show risk of an upcoming session, 0-1 (tutor-engagement-platform.md's weights).

    risk = 0.40 * no-show history + 0.20 * reschedule rate
         + 0.20 * (1 - reliability) + 0.20 * P(tutor churns within 30 days)

Each part is put on 0-1 first. Rates are small numbers (a tutor who misses 1 session
in 20 has a 5 % no-show rate), so the history parts are scaled by a cap at which they
count in full: a no-show rate of ``no_show_cap`` (10 %) or more gives the whole 40 %, a
reschedule rate of ``reschedule_cap`` (25 %) or more the whole 20 %. Reliability is
DOMAIN.md's ``1 - (reschedule rate + no-show rate)``. The churn part uses the 30-day
probability (a tutor who leaves misses every session they had booked).

A tutor without sessions in the window has no history: the rates take the
``prior_*`` values (about the platform's average) and ``no_history`` is set, so the
risk is defined, never NaN, and the UI can say "no history yet".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# feature columns (ml.features.tutor)
NO_SHOW_RATE = "no_show_rate_90d"
RESCHEDULE_RATE = "tutor_reschedule_rate_90d"


@dataclass(frozen=True)
class NoShowSettings:
    w_history: float = 0.40
    w_reschedule: float = 0.20
    w_reliability: float = 0.20
    w_churn: float = 0.20
    no_show_cap: float = 0.10
    reschedule_cap: float = 0.25
    prior_no_show_rate: float = 0.02
    prior_reschedule_rate: float = 0.05

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT = NoShowSettings()


def _num(x, n: int | None = None) -> np.ndarray:
    a = pd.to_numeric(pd.Series(np.asarray(x, dtype=object).ravel()), errors="coerce")
    out = a.to_numpy(dtype=float, na_value=np.nan)
    if n is not None and len(out) == 1 and n != 1:
        out = np.repeat(out, n)
    return out


def noshow_risk(
    no_show_rate, reschedule_rate, p_churn, settings: NoShowSettings = DEFAULT
) -> pd.DataFrame:
    """Risk and its parts per row; NaN rates take the priors and set ``no_history``;
    a NaN churn probability counts as 0 and sets ``no_churn_prediction``."""
    ns = _num(no_show_rate)
    n = len(ns)
    rs, pc = _num(reschedule_rate, n), _num(p_churn, n)
    no_history = np.isnan(ns) | np.isnan(rs)
    ns = np.clip(np.where(np.isnan(ns), settings.prior_no_show_rate, ns), 0, 1)
    rs = np.clip(np.where(np.isnan(rs), settings.prior_reschedule_rate, rs), 0, 1)
    no_pred = np.isnan(pc)
    pc = np.clip(np.where(no_pred, 0.0, pc), 0, 1)
    history = np.minimum(ns / settings.no_show_cap, 1.0)
    resched = np.minimum(rs / settings.reschedule_cap, 1.0)
    unreliability = np.clip(ns + rs, 0.0, 1.0)  # 1 - reliability
    risk = (
        settings.w_history * history
        + settings.w_reschedule * resched
        + settings.w_reliability * unreliability
        + settings.w_churn * pc
    )
    return pd.DataFrame(
        {
            "noshow_risk": np.clip(risk, 0.0, 1.0),
            "noshow_history_part": settings.w_history * history,
            "noshow_reschedule_part": settings.w_reschedule * resched,
            "noshow_reliability_part": settings.w_reliability * unreliability,
            "noshow_churn_part": settings.w_churn * pc,
            "no_history": no_history,
            "no_churn_prediction": no_pred,
        }
    )


def tutor_noshow_risk(
    features: pd.DataFrame, p_churn_30d, settings: NoShowSettings = DEFAULT
) -> pd.DataFrame:
    """:func:`noshow_risk` from tutor feature rows (index kept)."""
    n = len(features)

    def col(name: str) -> np.ndarray:
        return features[name].to_numpy(dtype=float) if name in features else np.full(n, np.nan)

    out = noshow_risk(col(NO_SHOW_RATE), col(RESCHEDULE_RATE), _num(p_churn_30d, n), settings)
    out.index = features.index
    return out
