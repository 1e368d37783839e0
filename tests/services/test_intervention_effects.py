"""The episodes the effectiveness estimate is matched on: the treated tutor's risk is
taken at the intervention's creation (not a grid date up to a week before, when the
risk that made the manager act had not risen yet), and each episode says whether the
tutor left within the first week (the selection-bias check)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from services.intervention_effects import EARLY, _episodes, _treated_risk

DAY = pd.Timedelta(days=1)
T0 = pd.Timestamp("2026-06-01", tz="UTC")


class _Builder:
    """Features whose one column is the as-of day number: risk rising with time."""

    def __init__(self, known: set[int]) -> None:
        self.known = known
        self.calls: list[tuple[pd.Timestamp, list[int]]] = []

    def at(self, as_of: pd.Timestamp, tutor_ids: list[int]) -> pd.DataFrame:
        self.calls.append((as_of, list(tutor_ids)))
        if any(t not in self.known for t in tutor_ids):
            raise KeyError(f"unknown tutor ids {tutor_ids}")
        day = (as_of - T0) / DAY
        return pd.DataFrame({"day": [day] * len(tutor_ids)}, index=tutor_ids)


class _Model:
    features: ClassVar[list[str]] = ["day"]

    def predict_curve(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"p30": 0.01 * X["day"].to_numpy()}, index=X.index)


def test_the_treated_risk_is_the_model_s_at_the_creation_and_a_recorded_one_is_kept():
    treated = pd.DataFrame({
        "tutor_id": [1, 2, 3, 4],
        "intervention_type": ["manager_coaching"] * 4,
        "created_at": [T0 + 5 * DAY, T0 + 13.5 * DAY, T0 + 20 * DAY, T0 + 3 * DAY],
        "risk": [np.nan, np.nan, 0.77, np.nan],
    })  # fmt: skip
    builder = _Builder(known={1, 2, 3})
    risk = _treated_risk(builder, _Model(), treated)
    np.testing.assert_allclose(risk[:3], [0.05, 0.135, 0.77])
    assert np.isnan(risk[3])  # a tutor the features do not know
    assert [c[0] for c in builder.calls] == [T0 + 5 * DAY, T0 + 13.5 * DAY, T0 + 3 * DAY]


def test_episodes_carry_the_risk_at_creation_and_the_early_leaving():
    churn = pd.Series(
        [T0 + 12 * DAY, T0 + 40 * DAY, pd.NaT], index=pd.Index([1, 2, 3], name="tutor_id")
    )
    treated = pd.DataFrame({
        "tutor_id": [1, 2],
        "intervention_type": ["retention_interview", "recognition"],
        "created_at": [T0 + 8 * DAY, T0 + 8 * DAY],
        "risk": [0.6, 0.1],
    })  # fmt: skip
    # The grid date before the creation had lower risks: they must not be used.
    grid = {T0 + 7 * DAY: pd.Series([0.2, 0.05, 0.1], index=[1, 2, 3])}
    ep = _episodes(treated, treated, grid, churn, T0 + 60 * DAY, pd.DataFrame())
    t = ep[ep["group"] == "treated"].reset_index(drop=True)
    assert t["risk"].tolist() == [0.6, 0.1]
    assert t["churned_early"].tolist() == [True, False]  # tutor 1 left 4 days in
    assert t["retained"].tolist() == [False, True]  # tutor 2 left 32 days in: retained
    c = ep[ep["group"] == "control"]
    # Tutors 1 and 2 were treated the next day: still controls (no peeking ahead).
    assert c["risk"].tolist() == [0.2, 0.05, 0.1]
    assert c["churned_early"].tolist() == [True, False, False]  # 5 days after the date
    assert pd.Timedelta(days=7) == EARLY
