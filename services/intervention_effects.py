"""Effectiveness of each intervention type on the local database (DOMAIN.md: measured
against comparable tutors who got no intervention, not as a raw success rate).

Episodes for :func:`ml.effectiveness.estimate_effects`:

- treated: every synced or local intervention, not cancelled, created at least 30 days
  before the data's end (so its outcome is known);
- untreated: active tutors on a weekly grid of dates with no intervention created in the
  46 days before (none still in effect);
- hold-outs: tutors the policy left untreated at random (``intervention_holdouts``).

"Predicted risk at the time" is the tutor churn model's P(churn 30 d) on features as of
that instant (point-in-time: only data before it): the grid date for the untreated, the
intervention's creation for the treated (a risk recorded when the app created it takes
precedence). Not the grid date before the creation: managers act on a tutor whose risk is
rising, so a risk up to a week stale understated the treated's risk and made every type
look 4-11 points more harmful on the demo sandbox. The model has seen those dates in
training, which flatters its calibration a little but treats treated and untreated tutors
alike, which is what the matching needs. Outcome: the tutor had not churned 30 days later
(``ml.labels``); and, for the selection-bias check (``ml.effectiveness``), whether they
left within the first 7 days.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from ml.effectiveness import EffectSettings, estimate_effects
from services.db.models import Intervention, InterventionHoldout, InterventionTracking

HORIZON = pd.Timedelta(days=30)
EFFECT_WINDOW = pd.Timedelta(days=46)
GRID = pd.Timedelta(days=7)
EARLY = pd.Timedelta(days=7)  # the negative-control outcome's window


class EffectivenessError(RuntimeError):
    """Not measurable yet (no model, no history); the message says what is missing."""


@dataclass
class EffectivenessReport:
    table: pd.DataFrame  # ml.effectiveness.COLUMNS, one row per type
    as_of: str
    n_episodes: int
    horizon_days: int = 30

    def records(self) -> list[dict[str, Any]]:
        return [
            {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
            for r in self.table.to_dict("records")
        ]


def measure(
    engine: Engine,
    models_dir: Path,
    *,
    settings: EffectSettings | None = None,
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> EffectivenessReport:
    """Estimate every type's effect on 30-day retention; slow (features at many dates):
    run it off the GUI thread."""
    from ml.features.tutor import TutorFeatureBuilder
    from ml.labels import tutor_churn_times
    from ml.registry import ModelRegistry
    from services.ml_data import load_frames

    say = progress or (lambda _m: None)
    loaded = ModelRegistry(models_dir).load_best("tutor_churn")
    if loaded.model is None:
        raise EffectivenessError("train the models first: the effect is matched on churn risk")
    model = loaded.model
    say("loading the marketplace")
    frames = load_frames(engine)
    end = frames.observed_until - HORIZON
    iv = frames.interventions
    iv = iv[iv["status"] != "cancelled"].dropna(subset=["created_at", "tutor_id"])
    local = _local_treated(engine)
    if len(local):
        iv = pd.concat([iv, local[~local["created_at"].isna()]], ignore_index=True)
    iv = iv.drop_duplicates(subset=["tutor_id", "intervention_type", "created_at"])
    if iv.empty:
        raise EffectivenessError("no interventions yet")
    start = max(iv["created_at"].min(), frames.observed_until - pd.Timedelta(days=180))
    dates = list(pd.date_range(start.floor("D"), end, freq=GRID))
    if not dates:
        raise EffectivenessError("no intervention is 30 days old yet: outcomes unknown")
    churn = tutor_churn_times(frames)
    builder = TutorFeatureBuilder(frames)
    risk_by_date: dict[pd.Timestamp, pd.Series] = {}
    for k, date in enumerate(dates):
        if cancel is not None and cancel.is_set():
            raise EffectivenessError("cancelled")
        say(f"risk as of {date:%Y-%m-%d} ({k + 1} of {len(dates)})")
        X = builder.at(date)
        if len(X):
            risk_by_date[date] = model.predict_curve(X[model.features])["p30"]
    treated = iv[iv["created_at"] <= end].copy()
    say(f"risk at the creation of {len(treated)} interventions")
    treated["risk"] = _treated_risk(builder, model, treated, cancel)
    episodes = _episodes(treated, iv, risk_by_date, churn, end, _holdouts(engine))
    say("matching treated and untreated tutors")
    settings = settings or EffectSettings(early_days=EARLY.days)
    table = estimate_effects(episodes, settings)
    return EffectivenessReport(table, frames.observed_until.isoformat(), len(episodes))


def _local_treated(engine: Engine) -> pd.DataFrame:
    """Local interventions (not yet synced) with the risk recorded at creation."""
    i, t = Intervention.__table__.c, InterventionTracking.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(i.tutor_id, i.intervention_type, i.status, t.sla_started_at, t.risk_at_creation)
            .select_from(Intervention.__table__.join(InterventionTracking.__table__))
            .where(i.id.is_(None), i.status != "cancelled")
        ).all()
    return pd.DataFrame(
        {
            "tutor_id": [r.tutor_id for r in rows],
            "intervention_type": [r.intervention_type for r in rows],
            "status": [r.status for r in rows],
            "created_at": pd.to_datetime([r.sla_started_at for r in rows], utc=True),
            "risk": [r.risk_at_creation for r in rows],
        }
    )


def _holdouts(engine: Engine) -> pd.DataFrame:
    h = InterventionHoldout.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(select(h.tutor_id, h.intervention_type, h.at, h.risk_at_creation)).all()
    return pd.DataFrame(
        {
            "tutor_id": [r.tutor_id for r in rows],
            "intervention_type": [r.intervention_type for r in rows],
            "at": pd.to_datetime([r.at for r in rows], utc=True),
            "risk": [r.risk_at_creation for r in rows],
        }
    )


def _naive_utc(values: Any) -> np.ndarray:
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True)).tz_convert(None).to_numpy()


def _retained(churn: pd.Series, tutor_ids: np.ndarray, at: Any, days: int = 30) -> np.ndarray:
    """Not churned within ``days`` of ``at`` (NaT churn: not churned as far as known)."""
    churned = _naive_utc(churn.reindex(tutor_ids).to_numpy())
    deadline = _naive_utc(np.asarray(at)) + np.timedelta64(days, "D")
    return ~(churned <= deadline)


def _outcomes(churn: pd.Series, tutor_ids: np.ndarray, at: Any) -> dict[str, np.ndarray]:
    return {
        "retained": _retained(churn, tutor_ids, at),
        "churned_early": ~_retained(churn, tutor_ids, at, EARLY.days),
    }


def _treated_risk(
    builder: Any, model: Any, treated: pd.DataFrame, cancel: threading.Event | None = None
) -> np.ndarray:
    """P(churn 30 d) of each treated tutor on features as of the intervention's creation
    (a risk recorded at creation is kept); NaN for a tutor the builder does not know."""
    recorded = treated["risk"] if "risk" in treated.columns else pd.Series(np.nan, treated.index)
    out = pd.to_numeric(recorded, errors="coerce").to_numpy(float).copy()
    todo = np.flatnonzero(~np.isfinite(out))
    rows, where = [], []
    ids, created = treated["tutor_id"].to_numpy(), treated["created_at"].to_numpy()
    for k in todo:
        if cancel is not None and cancel.is_set():
            raise EffectivenessError("cancelled")
        try:
            rows.append(builder.at(pd.Timestamp(created[k]), [int(ids[k])]))
        except KeyError:
            continue
        where.append(k)
    if rows:
        X = pd.concat(rows)
        out[where] = np.asarray(model.predict_curve(X[model.features])["p30"], dtype=float)
    return out


def _episodes(
    treated: pd.DataFrame,
    iv: pd.DataFrame,
    risk_by_date: dict[pd.Timestamp, pd.Series],
    churn: pd.Series,
    end: pd.Timestamp,
    holdouts: pd.DataFrame,
) -> pd.DataFrame:
    """Treated rows (``treated``: created by ``end``, with their risk at creation),
    untreated tutor-times from the grid (none of ``iv`` in the 46 days before), hold-outs."""
    parts = [
        pd.DataFrame(
            {
                "group": "treated",
                "intervention_type": treated["intervention_type"].to_numpy(),
                "risk": treated["risk"].to_numpy(float),
                **_outcomes(churn, treated["tutor_id"].to_numpy(), treated["created_at"]),
            }
        )
    ]
    by_tutor = iv.groupby("tutor_id")["created_at"].apply(list).to_dict()
    for date, risk in risk_by_date.items():
        ids = risk.index.to_numpy()
        recent = np.array(
            [any(date - EFFECT_WINDOW <= c <= date for c in by_tutor.get(t, ())) for t in ids],
            dtype=bool,
        )
        ids, values = ids[~recent], risk.to_numpy()[~recent]
        parts.append(
            pd.DataFrame(
                {
                    "group": "control",
                    "intervention_type": None,
                    "risk": values,
                    **_outcomes(churn, ids, np.full(len(ids), date)),
                }
            )
        )
    done = holdouts[holdouts["at"] <= end] if len(holdouts) else holdouts
    if len(done):
        parts.append(
            pd.DataFrame(
                {
                    "group": "holdout",
                    "intervention_type": done["intervention_type"].to_numpy(),
                    "risk": done["risk"].to_numpy(float),
                    **_outcomes(churn, done["tutor_id"].to_numpy(), done["at"]),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
