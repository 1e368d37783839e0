"""Intervention effectiveness: matched on risk, it recovers the sandbox's true effects
that a naive comparison gets badly wrong (managers treat the riskiest tutors)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.effectiveness import COLUMNS, SELECTION_BIAS, EffectSettings, estimate_effects
from services.api.rails_time import US_PER_DAY, parse_us
from services.sandbox.world import WorldConfig, build_world

HORIZON = 30


def _simulated(n: int, multiplier: float, seed: int, holdout: int = 0) -> pd.DataFrame:
    """Tutors with a risk score; the riskiest are treated far more often; treatment
    scales the 30-day hazard by ``multiplier``."""
    rng = np.random.default_rng(seed)
    risk = rng.beta(0.6, 2.5, n)
    treated = rng.random(n) < 0.05 + 0.6 * risk**2
    hazard = -np.log1p(-risk) / HORIZON
    p_churn = 1 - np.exp(-HORIZON * hazard * np.where(treated, multiplier, 1.0))
    retained = rng.random(n) >= p_churn
    group = np.where(treated, "treated", "control").astype(object)
    if holdout:  # would-be treated left untreated at random
        idx = rng.choice(np.flatnonzero(treated), holdout, replace=False)
        group[idx] = "holdout"
        retained[idx] = rng.random(holdout) >= risk[idx]
    itype = np.where(group != "control", "manager_coaching", None)
    return pd.DataFrame({"group": group, "intervention_type": itype, "risk": risk,
                         "retained": retained})  # fmt: skip


def _true_att(df: pd.DataFrame, multiplier: float) -> float:
    t = df[df["group"] == "treated"]
    r = t["risk"].to_numpy()
    return float(np.mean((1 - r) ** multiplier - (1 - r)))


def test_matching_removes_the_selection_bias_of_a_naive_comparison():
    df = _simulated(40_000, 0.6, seed=1)
    (row,) = estimate_effects(df, EffectSettings(bootstrap=50)).to_dict("records")
    truth = _true_att(df, 0.6)
    assert set(row) == set(COLUMNS)
    assert row["naive_effect"] < 0 < truth  # the raw comparison says "harmful"
    assert abs(row["effect"] - truth) < 0.02
    assert row["ci_low"] < truth < row["ci_high"]
    assert row["hr_ci_low"] < 0.6 < row["hr_ci_high"]
    assert row["n_treated"] > 1000 and row["n_control"] > 1000


def test_no_effect_is_estimated_as_none():
    df = _simulated(30_000, 1.0, seed=2)
    (row,) = estimate_effects(df, EffectSettings(bootstrap=0)).to_dict("records")
    assert row["ci_low"] < 0 < row["ci_high"]
    assert np.isnan(row["hr_ci_low"])  # no bootstrap asked for


def test_a_random_holdout_gives_an_unbiased_comparison():
    df = _simulated(40_000, 0.6, seed=3, holdout=1500)
    (row,) = estimate_effects(df, EffectSettings(bootstrap=0)).to_dict("records")
    assert row["n_holdout"] == 1500
    truth = _true_att(df, 0.6)
    assert row["holdout_ci_low"] < truth < row["holdout_ci_high"]
    assert row["holdout_effect"] > 0


def test_too_little_data_gives_sizes_but_no_estimate():
    df = pd.DataFrame({"group": ["treated", "control"], "intervention_type": ["recognition", None],
                       "risk": [0.2, 0.2], "retained": [True, False]})  # fmt: skip
    (row,) = estimate_effects(df).to_dict("records")
    assert row["n_treated"] == 1 and np.isnan(row["effect"])
    with pytest.raises(ValueError, match="risk"):
        estimate_effects(df.drop(columns=["risk"]))


def _hidden_risk(n: int, seed: int, multiplier: float = 0.6, hidden: float = 1.0):
    """Managers pick on the *true* risk, of which the model sees only a part: the true
    hazard is the seen one times a latent factor (mean 1, so the seen risk is calibrated
    over everyone). Treatment scales the hazard by ``multiplier`` from day 7 on (nothing
    acts in the first week). Returns the episodes with the seen risk, the same with the
    true risk, and the true effect on the treated."""
    rng = np.random.default_rng(seed)
    seen = rng.beta(0.6, 2.5, n)
    h_seen = -np.log1p(-seen) / HORIZON
    latent = np.exp(hidden * rng.normal(size=n) - hidden**2 / 2)
    h = h_seen * latent
    true_risk = 1 - np.exp(-HORIZON * h)
    treated = rng.random(n) < 0.02 + 0.5 * true_risk**2
    m = np.where(treated, multiplier, 1.0)
    # Churn time: exponential with hazard h for 7 days, h * m after.
    e = rng.exponential(size=n)
    t_churn = np.where(e < 7 * h, e / h, 7 + (e - 7 * h) / (h * m))
    base = pd.DataFrame({
        "group": np.where(treated, "treated", "control"),
        "intervention_type": np.where(treated, "retention_interview", None),
        "retained": t_churn > HORIZON, "churned_early": t_churn <= 7,
    })  # fmt: skip
    s_treated = np.exp(-7 * h - (HORIZON - 7) * h * multiplier)
    att = float(np.mean((s_treated - np.exp(-HORIZON * h))[treated]))
    return base.assign(risk=seen), base.assign(risk=true_risk), att


def test_managers_picking_on_what_the_model_does_not_see_is_flagged_not_hidden():
    seen, oracle, truth = _hidden_risk(60_000, seed=4)
    settings = EffectSettings(bootstrap=0)
    (biased,) = estimate_effects(seen, settings).to_dict("records")
    (fair,) = estimate_effects(oracle, settings).to_dict("records")
    assert truth > 0.04
    # Matched on the risk the model sees, a helpful intervention looks harmful...
    assert biased["effect"] < 0 < truth and biased["ci_high"] < truth
    # ...and the treated leave more often in the first week, before anything can act:
    # the report says so instead of presenting the figure as the effect.
    assert biased["early_ci_low"] > 0
    assert biased["early_treated"] > biased["early_control"]
    assert biased["caveat"] == SELECTION_BIAS
    assert biased["caveat_text"].startswith("Not a measured effect")
    assert "Only a random hold-out" in biased["caveat_text"]
    # Matched on the risk the managers act on, the estimate is right and carries no flag.
    assert abs(fair["effect"] - truth) < 0.02
    assert abs(fair["early_excess"]) < 0.03  # the biased case: +0.08
    assert fair["caveat"] == "" and fair["caveat_text"] == ""


def test_a_type_whose_treated_did_not_leave_early_is_not_flagged():
    seen, _oracle, _truth = _hidden_risk(60_000, seed=5)
    # A second type given to untreated tutors who all stayed the first week: its early
    # excess is negative, so no flag, though the excess over all treated is significant.
    rng = np.random.default_rng(6)
    stayed = np.flatnonzero((seen["group"] == "control") & ~seen["churned_early"])
    idx = rng.choice(stayed, 600, replace=False)
    seen.loc[idx, "group"] = "treated"
    seen.loc[idx, "intervention_type"] = "recognition"
    table = estimate_effects(seen, EffectSettings(bootstrap=0)).set_index("intervention_type")
    assert table.loc["retention_interview", "caveat"] == SELECTION_BIAS
    assert table.loc["recognition", "early_excess"] < 0
    assert table.loc["recognition", "caveat"] == ""
    # Without the early column there is nothing to check: no flag, no text.
    plain = estimate_effects(seen.drop(columns=["churned_early"]), EffectSettings(bootstrap=0))
    assert (plain["caveat"] == "").all() and plain["early_excess"].isna().all()


def test_a_small_type_is_flagged_on_the_evidence_over_all_treated_tutors():
    # 40 tutors of a new type, picked among the untreated: their own early excess is
    # noise around zero (its interval straddles it), so by itself it shows nothing; the
    # excess over all treated tutors is significant, and managers choose the same way
    # for every type, so the type is flagged and the sentence quotes the pooled figures
    # (its own point slightly below zero would contradict the words).
    seen, _oracle, _truth = _hidden_risk(60_000, seed=5)
    rng = np.random.default_rng(0)
    idx = rng.choice(np.flatnonzero(seen["group"] == "control"), 40, replace=False)
    seen.loc[idx, "group"] = "treated"
    seen.loc[idx, "intervention_type"] = "peer_mentoring"
    table = estimate_effects(seen, EffectSettings(bootstrap=0)).set_index("intervention_type")
    small = table.loc["peer_mentoring"]
    assert small["early_ci_low"] < 0 < small["early_ci_high"] and small["early_excess"] < 0
    assert small["caveat"] == SELECTION_BIAS
    assert "of all treated tutors (this type's own are too few to tell)" in small["caveat_text"]
    big = table.loc["retention_interview"]
    assert big["caveat"] == SELECTION_BIAS and "of the treated tutors left" in big["caveat_text"]


# ---------------------------------------------------------------------- the sandbox


def _episodes_from_world(world) -> tuple[pd.DataFrame, pd.Series]:
    """Treated episodes (the simulated managers' interventions) and untreated tutor-times
    every 3 days, with the true 30-day risk at the time as the "prediction" (the
    estimator is under test here, not the churn model); and the true effect on the
    treated (ATT) per type from the true hazard paths with and without the effect."""
    tr = world.truth
    starts, anchor = tr.day_starts_us, tr.anchor_us
    churn = tr.tutors["churned_at"].astype("float").to_numpy()  # NaN: never churned
    haz = tr.hazard_daily.astype(float)
    iv = tr.interventions
    iv = iv[(iv["final_status"] != "cancelled") & (iv["created_at"] + HORIZON * US_PER_DAY
                                                  <= anchor)]  # fmt: skip
    day_of = np.searchsorted(starts, iv["created_at"].to_numpy(), side="right") - 1

    def retained(tutor_ids: np.ndarray, at_us: np.ndarray, days: int = HORIZON) -> np.ndarray:
        return ~(churn[tutor_ids - 1] <= at_us + days * US_PER_DAY)

    treated = pd.DataFrame({
        "group": "treated", "intervention_type": iv["intervention_type"].to_numpy(),
        "risk": iv["p_churn_30d_at_selection"].to_numpy(),
        "retained": retained(iv["tutor_id"].to_numpy(), iv["created_at"].to_numpy()),
        "churned_early": ~retained(iv["tutor_id"].to_numpy(), iv["created_at"].to_numpy(), 7),
    })  # fmt: skip
    # Untreated: active, with no intervention still in effect (created in the 46 days
    # before). Later treatment does not exclude a control (no peeking into the future).
    n_tutors, n_days = haz.shape
    last_treated = np.full((n_tutors, n_days), -10_000)
    last_treated[iv["tutor_id"].to_numpy() - 1, day_of] = day_of
    last_treated = np.maximum.accumulate(last_treated, axis=1)
    days = np.arange(0, n_days, 3)
    days = days[starts[days] + HORIZON * US_PER_DAY <= anchor]
    t_idx, d_idx = np.nonzero(np.isfinite(haz[:, days]))
    d = days[d_idx]
    free = d - last_treated[t_idx, d] > 46
    t_idx, d = t_idx[free], d[free]
    controls = pd.DataFrame({
        "group": "control", "intervention_type": None,
        "risk": 1 - (1 - haz[t_idx, d]) ** HORIZON,
        "retained": retained(t_idx + 1, starts[d]),
        "churned_early": ~retained(t_idx + 1, starts[d], 7),
    })  # fmt: skip
    # True ATT: survival over the 30 days with the effect minus without it (the hazard
    # after a churn is carried forward: the path the tutor was on).
    filled = pd.DataFrame(haz.T).ffill().to_numpy().T
    att = []
    for (_, r), d0 in zip(iv.iterrows(), day_of, strict=True):
        h = filled[r["tutor_id"] - 1, d0 : d0 + HORIZON]
        window = starts[d0 : d0 + len(h)]
        m = np.ones_like(h)
        if pd.notna(r["effect_first_day_us"]):
            on = (window >= r["effect_first_day_us"]) & (window < r["effect_last_day_us"])
            m[on] = r["multiplier"]
        att.append(np.prod(1 - h) - np.prod(1 - np.minimum(h / m, 1)))
    true_att = pd.Series(att, index=iv.index).groupby(iv["intervention_type"]).mean()
    return pd.concat([treated, controls], ignore_index=True), true_att


@pytest.mark.slow
def test_on_a_full_scale_sandbox_the_estimates_land_near_the_true_effects():
    world = build_world(
        WorldConfig(scale="full", seed=7, anchor_us=parse_us("2026-11-20T12:00:00Z"))
    )
    episodes, true_att = _episodes_from_world(world)
    result = estimate_effects(episodes, EffectSettings(bootstrap=0)).set_index("intervention_type")
    assert set(result.index) == set(world.truth.intervention_effects)
    for itype, row in result.iterrows():
        truth = true_att[itype]
        assert row["n_treated"] >= 100, itype
        # Within 6 points of the truth, where the naive comparison is off by 17-73.
        assert abs(row["effect"] - truth) < 0.06, (itype, row["effect"], truth)
        assert abs(row["naive_effect"] - truth) > 2 * abs(row["effect"] - truth), itype
    # The strongest effects (hazard x0.5 and x0.6, on the riskiest tutors) are found.
    for itype in ("retention_interview", "manager_coaching"):
        assert result.loc[itype, "ci_low"] > 0, itype
        assert result.loc[itype, "hazard_ratio"] < 0.95, itype
    # Matched on the risk the managers act on, nothing is flagged as selection bias.
    assert (result["caveat"] == "").all(), result[["early_excess", "early_ci_low"]]
    # Recognition (x0.9, given to low-risk tutors) is the smallest effect and reads so.
    assert result.loc["recognition", "effect"] < result.loc["retention_interview", "effect"]
