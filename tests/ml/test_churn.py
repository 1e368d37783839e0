"""The churn learner on simulated survival data with known Weibull hazards."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from ml import metrics
from ml.churn import ChurnModel, ChurnModelError, cdf

K_SHAPE, BASE_DAYS = 1.3, 150.0


def simulate(n: int, seed: int, early_censor_share: float = 0.3, censor_max: float = 120.0):
    """Features, durations, events and the true P(T <= h) of a Weibull AFT world.

    x0 raises the hazard, x1 lowers it, x2 raises it, x3 only above 1; x4-x7 are noise.
    Everyone is censored at ``censor_max`` days, a share earlier at random.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    lin = 0.9 * X[:, 0] - 0.6 * X[:, 1] + 0.5 * X[:, 2] + 0.4 * (X[:, 3] > 1)
    lam = BASE_DAYS * np.exp(-lin / K_SHAPE)
    T = lam * (-np.log(rng.uniform(size=n))) ** (1 / K_SHAPE)
    C = np.full(n, censor_max)
    early = rng.uniform(size=n) < early_censor_share
    C[early] = rng.uniform(1, censor_max, size=early.sum())
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    return frame, np.minimum(T, C), T <= C, lin, lambda h: 1 - np.exp(-((h / lam) ** K_SHAPE))


@pytest.fixture(scope="module")
def data():
    return {
        "train": simulate(8000, 0),
        "valid": simulate(2500, 1),
        "test": simulate(6000, 2),
    }


@pytest.fixture(scope="module")
def model(data):
    X, d, e, *_ = data["train"]
    Xv, dv, ev, *_ = data["valid"]
    return ChurnModel(nthread=2).fit(X, d, e, valid=(Xv, dv, ev))


def test_curve_is_monotone_and_in_range(model, data):
    X = data["test"][0]
    curve = model.predict_curve(X)
    assert list(curve.columns) == ["p7", "p14", "p30", "p90"]
    assert curve.index.equals(X.index)
    p = curve.to_numpy()
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(np.diff(p, axis=1) >= 0)
    fine = model.predict_curve(X, horizons=range(1, 366)).to_numpy()
    assert np.all(np.diff(fine, axis=1) >= 0)


def test_ranks_by_true_hazard(model, data):
    X, d, e, lin, _ = data["test"]
    margin = model.predict_margin(X)
    c_model = metrics.concordance_index(d, e, -margin)
    c_truth = metrics.concordance_index(d, e, lin)
    assert c_model > 0.70
    assert c_model > c_truth - 0.02  # close to the best possible ranking
    assert np.corrcoef(-margin, lin)[0, 1] > 0.85
    figures = model.evaluate(X, d, e)
    for h in (7, 14, 30, 90):
        assert figures[f"auc_{h}d"] > 0.75


def test_calibrated_against_the_true_probabilities(model, data):
    X, *_, true_p = data["test"]
    curve = model.predict_curve(X)
    for h in (7, 14, 30, 90):
        assert curve[f"p{h}"].mean() == pytest.approx(true_p(h).mean(), rel=0.15)
        assert np.mean(np.abs(curve[f"p{h}"] - true_p(h))) < 0.06


def test_censored_rows_are_censored_not_survivors(data):
    """With heavy early censoring (as for the latest as-of dates), a classifier that reads
    'censored before 30 days' as 'did not churn' under-states the risk; the AFT model,
    with the same rows, does not."""
    X, d, e, *_ = simulate(8000, 10, early_censor_share=0.7, censor_max=60)
    Xv, dv, ev, *_ = simulate(2500, 11, early_censor_share=0.7, censor_max=60)
    Xt, *_, true_p = data["test"]
    truth = true_p(30).mean()
    y30 = (e & (d <= 30)).astype(float)
    naive = xgb.train(
        {"objective": "binary:logistic", "max_depth": 4, "learning_rate": 0.05, "verbosity": 0},
        xgb.DMatrix(X.to_numpy(), label=y30),
        num_boost_round=150,
    )
    naive_p = naive.predict(xgb.DMatrix(Xt.to_numpy()))
    assert naive_p.mean() < 0.85 * truth  # measurably biased low
    ours = ChurnModel(distributions=("extreme", "normal"), scales=(1.0,), nthread=2)
    ours.fit(X, d, e, valid=(Xv, dv, ev))
    assert ours.predict_curve(Xt)["p30"].mean() == pytest.approx(truth, rel=0.10)
    # The same learner fed 'censored = churned at the censoring time' is biased high.
    wrong = ChurnModel(distributions=("extreme",), scales=(1.0,), nthread=2)
    wrong.fit(X, d, np.ones(len(d), bool), valid=(Xv, dv, np.ones(len(dv), bool)))
    assert wrong.predict_curve(Xt)["p30"].mean() > 1.3 * truth


def test_sigma_recalibration_improves_brier(data):
    X, d, e, *_ = data["train"]
    Xv, dv, ev, *_ = data["valid"]
    Xt, dt, et, *_ = data["test"]
    m = ChurnModel(distributions=("normal",), scales=(3.0,), nthread=2).fit(
        X, d, e, valid=(Xv, dv, ev)
    )
    assert m.report.valid_brier_calibrated < m.report.valid_brier_raw
    margin = m.predict_margin(Xt)

    def held_out_brier(sigma, shift):
        total = 0.0
        for h in (7, 14, 30, 90):
            p = cdf("normal", (np.log(h) - margin - shift) / sigma)
            total += metrics.horizon_brier(dt, et, p, h)
        return total / 4

    raw = held_out_brier(3.0, 0.0)
    calibrated = held_out_brier(m.sigma, m.shift)
    assert m.sigma < 3.0
    assert calibrated < 0.95 * raw


def test_iteration_zero_guard(data):
    """Validation data whose relationship is reversed: the first tree already makes it
    worse, early stopping says iteration 0, the model trains fixed rounds and says so."""
    X, d, e, *_ = data["train"]
    Xv, dv, ev, *_ = data["valid"]
    reversed_X = -Xv
    m = ChurnModel(distributions=("normal",), scales=(1.0,), fallback_rounds=25, nthread=2)
    m.fit(X, d, e, valid=(reversed_X, dv, ev))
    assert m.report.best_iteration == 0
    assert m.report.fell_back
    assert m.booster.num_boosted_rounds() == 25
    assert any("iteration 0" in note for note in m.report.notes)
    # the fallback model still learned the training relationship
    Xt, dt, et, *_ = data["test"]
    assert metrics.concordance_index(dt, et, -m.predict_margin(Xt)) > 0.65


def test_split_by_as_of_censors_training_rows_at_the_split():
    X, d, e, *_ = simulate(6000, 5)
    as_of = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(6000) % 10 * 7, "D")
    m = ChurnModel(distributions=("extreme",), scales=(1.0,), nthread=2, valid_folds=1,
                   valid_share=0.2)  # fmt: skip
    m.fit(X, d, e, as_of=as_of)
    assert m.report.n_valid == int((np.arange(6000) % 10 >= 8).sum())
    # training rows from the first week can know at most 8 weeks of outcome
    assert m.report.events_train < int(e[np.arange(6000) % 10 < 8].sum())
    assert m.report.valid_brier_calibrated < 0.25


def test_validation_folds_do_not_leak_and_bring_the_30_day_horizon_into_calibration():
    """Two blocks of the latest weekly as-of dates: each fold trains on the dates before
    its block and knows no outcome after its cut; the blocks follow each other; and the
    older block, followed for up to 5 weeks, lets the 30-day horizon take part in
    calibration, which one block of the latest 20 % (followed for 3 weeks) cannot."""
    n = 12000
    X, t, _, *_ = simulate(n, 6, early_censor_share=0.0, censor_max=1e9)
    week = np.arange(n) % 20
    as_of = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(week * 7, "D")
    followed = 20 * 7 - 3 - week * 7.0  # the data end 4 days after the last as-of date
    d, e = np.minimum(t, followed), t <= followed
    m = ChurnModel(distributions=("normal",), scales=(1.0,), nthread=2)
    splits = m._split(X, d, e, as_of)
    assert len(splits) == 2
    blocks = []
    for (Xt, dt, et), (Xv, _, _) in splits:
        cut = week[Xv.index].min()
        assert week[Xt.index].max() < cut
        room = (cut - week[Xt.index]) * 7.0
        assert np.all(dt <= room) and not np.any(et & (t[Xt.index] > room))
        blocks.append(sorted(set(week[Xv.index])))
    assert blocks == [[14, 15, 16], [17, 18, 19]]
    m.fit(X, d, e, as_of=as_of)
    assert m.report.folds == 2 and m.report.n_valid == int((week >= 14).sum())
    assert "30 d" in m.report.notes[0], m.report.notes
    one = ChurnModel(distributions=("normal",), scales=(1.0,), nthread=2, valid_folds=1,
                     valid_share=0.2).fit(X, d, e, as_of=as_of)  # fmt: skip
    assert one.report.folds == 1 and "30 d" not in one.report.notes[0], one.report.notes


def test_trees_are_chosen_by_the_loss_summed_over_folds_weighted_by_rows(monkeypatch):
    """The number of trees is where the folds' validation loss, summed with each fold
    weighted by its rows, is least; not either fold's own best."""
    from types import SimpleNamespace

    curves = {"old": [1.0, 0.5, 0.55, 0.7, 0.8], "new": [1.0, 0.9, 0.8, 0.7, 0.9, 1.0]}

    def fake_train(params, dtrain, num_boost_round, evals, evals_result, **kw):
        evals_result["valid"] = {"aft-nloglik": curves[params["fold"]]}
        return params["fold"]

    monkeypatch.setattr(xgb, "train", fake_train)
    m = ChurnModel()

    def best(rows_old: int, rows_new: int) -> int:
        folds = [SimpleNamespace(dtrain=None, dvalid=None, dv=np.zeros(rows_old)),
                 SimpleNamespace(dtrain=None, dvalid=None, dv=np.zeros(rows_new))]  # fmt: skip
        boosters, it = m._boost_folds(folds, [{"fold": "old"}, {"fold": "new"}])
        assert boosters == ["old", "new"]
        return it

    # own bests: old 1, new 3; summed (over the 5 rounds both ran): 2.0 1.4 1.35 1.4 1.7
    assert best(100, 100) == 2
    # the old fold three times the rows: 4.0 2.4 2.45 2.8 3.3
    assert best(300, 100) == 1
    assert best(100, 300) == 3


def test_contributions_sum_to_the_margin_and_point_the_right_way(model, data):
    X = data["test"][0].iloc[:500]
    exact = model.contributions(X)
    assert list(exact.columns) == [*model.features, "bias"]
    np.testing.assert_allclose(exact.sum(axis=1), model.predict_margin(X), atol=1e-3)
    approx = model.contributions(X, approx=True)
    np.testing.assert_allclose(approx.sum(axis=1), model.predict_margin(X), atol=1e-3)
    # x0 raises the hazard: high x0 -> negative margin contribution (shorter survival)
    hi, lo = X["x0"] > 1.5, X["x0"] < -1.5
    assert exact.loc[hi, "x0"].mean() < 0 < exact.loc[lo, "x0"].mean()
    assert exact.loc[X["x1"] > 1.5, "x1"].mean() > 0  # x1 protects


def test_save_load_round_trip_and_bad_files(model, data, tmp_path):
    X = data["test"][0].iloc[:300]
    files = model.save(tmp_path / "m")
    assert sorted(files) == ["booster.ubj", "churn_model.json"]
    loaded = ChurnModel.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.predict_curve(X), model.predict_curve(X))
    assert loaded.distribution == model.distribution and loaded.sigma == model.sigma
    assert loaded.report.rounds == model.report.rounds
    raw = (tmp_path / "m" / "booster.ubj").read_bytes()
    (tmp_path / "m" / "booster.ubj").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(Exception):  # noqa: B017 - XGBoostError or our own
        ChurnModel.load(tmp_path / "m")


def test_the_linear_start_reads_an_extreme_row_beyond_the_last_split(data):
    # A row far outside the training range on x0 (which raises the hazard): trees alone
    # read it like the most extreme rows they split on; boosted from the linear start,
    # its risk keeps rising with x0, as the true hazard does.
    X, d, e, *_ = data["train"]
    Xv, dv, ev, *_ = data["valid"]
    with_start = ChurnModel(nthread=2, seed=1, linear_start=True).fit(X, d, e, valid=(Xv, dv, ev))
    trees = ChurnModel(nthread=2, seed=1).fit(X, d, e, valid=(Xv, dv, ev))
    assert with_start.linear is not None and trees.linear is None
    row = pd.DataFrame([[0.0] * 8], columns=X.columns)
    far, further = row.assign(x0=4.0), row.assign(x0=7.0)
    assert trees.predict_margin(further)[0] == pytest.approx(trees.predict_margin(far)[0])
    assert with_start.predict_margin(further)[0] < with_start.predict_margin(far)[0] - 0.5
    # ...and ranks held-out rows at least as well.
    Xt, dt, et, *_ = data["test"]
    c = {m: metrics.concordance_index(dt, et, -m.predict_margin(Xt)) for m in (with_start, trees)}
    assert c[with_start] >= c[trees] - 0.005


def test_a_linear_weight_against_its_monotone_direction_is_dropped(data):
    X, d, e, *_ = data["train"]
    Xv, dv, ev, *_ = data["valid"]
    # x1 lowers the hazard; declared as raising it, the linear start may not use it.
    m = ChurnModel(nthread=2, monotone={"x0": 1, "x1": 1}, linear_start=True)
    m.fit(X, d, e, valid=(Xv, dv, ev))
    w = dict(zip(m.features, m.linear.weight, strict=True))
    assert w["x1"] == 0.0 and w["x0"] < 0  # x0 raises risk: a shorter time
    assert w["x2"] < 0  # unconstrained, it takes the sign the data give


def test_models_saved_with_and_without_a_linear_start_load(data, tmp_path):
    X = data["test"][0].iloc[:50]
    with_start = ChurnModel(nthread=2, linear_start=True)
    with_start.fit(*data["train"][:3], valid=data["valid"][:3]).save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "churn_model.json").read_text())
    assert meta["linear_start"]["clip"] == with_start.linear.clip
    loaded = ChurnModel.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.predict_curve(X), with_start.predict_curve(X))
    old = ChurnModel().fit(*data["train"][:3], valid=data["valid"][:3])
    old.save(tmp_path / "old")
    legacy = json.loads((tmp_path / "old" / "churn_model.json").read_text())
    legacy.pop("linear_start")  # as written before the linear start existed
    (tmp_path / "old" / "churn_model.json").write_text(json.dumps(legacy))
    loaded = ChurnModel.load(tmp_path / "old")
    assert loaded.linear is None
    pd.testing.assert_frame_equal(loaded.predict_curve(X), old.predict_curve(X))


def test_bad_input_is_a_clear_error(model, data):
    X, d, e, *_ = data["train"]
    with pytest.raises(ChurnModelError, match="missing"):
        model.predict_curve(X.drop(columns=["x3"]))
    with pytest.raises(ChurnModelError, match="no churn events"):
        ChurnModel().fit(X.iloc[:100], d[:100], np.zeros(100, bool), valid=(X, d, e))
    with pytest.raises(ChurnModelError, match="no training rows"):
        ChurnModel().fit(X.iloc[:0], d[:0], e[:0])
    with pytest.raises(ChurnModelError, match="not fitted"):
        ChurnModel().predict_curve(X)
    # missing values and extra columns are fine; an empty frame gives an empty curve
    Xn = X.iloc[:50].copy()
    Xn.loc[:, "x0"] = np.nan
    Xn["extra"] = "ignored"
    assert model.predict_curve(Xn).notna().all().all()
    assert model.predict_curve(X.iloc[:0]).shape == (0, 4)
    with pytest.raises(ChurnModelError, match="non-numeric"):
        model.predict_curve(X.assign(x2="a"))


# ---------------------------------------------------------------------- demo sandbox


@pytest.fixture(scope="module")
def demo_churn(demo_frames):
    from ml.churn import monotone_from
    from ml.datasets import as_of_dates, tutor_training_set
    from ml.features.tutor import FEATURE_INFO, TutorFeatureBuilder

    builder = TutorFeatureBuilder(demo_frames)
    dates = as_of_dates(demo_frames)
    cut = dates[-1] - pd.Timedelta(days=56)
    train = tutor_training_set(demo_frames, [d for d in dates if d < cut], cut, builder=builder)
    test = tutor_training_set(demo_frames, [d for d in dates if d >= cut], builder=builder)
    kw = {"monotone": monotone_from(FEATURE_INFO), "nthread": 2}
    holdout = ChurnModel(**kw).fit(*train, as_of=train[0].index.get_level_values("as_of"))
    full = tutor_training_set(demo_frames, dates, builder=builder)
    final = ChurnModel(**kw).fit(*full, as_of=full[0].index.get_level_values("as_of"))
    now = builder.at(demo_frames.observed_until)
    return {"holdout": holdout, "test": test, "final": final, "now": now}


def test_demo_held_out_figures_are_sane(demo_churn):
    """Train on earlier as-of dates (labels censored at the cut), test on the last 8
    weeks: the ranking is far from chance and the 30-day probabilities beat the base
    rate on Brier."""
    m, (X, d, e) = demo_churn["holdout"], demo_churn["test"]
    figures = m.evaluate(X, d, e)
    assert figures["concordance"] > 0.70
    for h in (7, 14, 30):
        assert figures[f"auc_{h}d"] > 0.70, h
    y, w = metrics.ipcw_weights(d, e, 30)
    base_rate = float(np.sum(w * y) / np.sum(w))
    assert figures["brier_30d"] < metrics.horizon_brier(d, e, np.full(len(d), base_rate), 30)
    curve = m.predict_curve(X).to_numpy()
    assert np.all(np.diff(curve, axis=1) >= 0)


def test_demo_scores_every_active_tutor_with_sarah_above_the_median(demo_churn, demo_world):
    m, now = demo_churn["final"], demo_churn["now"]
    curve = m.predict_curve(now[m.features])
    assert curve.notna().all().all() and len(curve) == len(now)
    sarah = demo_world.personas["sarah_chen"]
    # from the model alone (0.58-0.86 of tutors below her across training seeds)
    assert (curve["p30"] < curve.loc[sarah, "p30"]).mean() > 0.5


def test_demo_sarah_chen_factors_name_her_decline(demo_churn, demo_world):
    from ml.explain import RAISES, top_factors
    from ml.features.tutor import FEATURE_INFO

    m, now = demo_churn["final"], demo_churn["now"]
    sarah = demo_world.personas["sarah_chen"]
    row = now.loc[[sarah]]
    f = top_factors(m.contributions(row[m.features]), row, FEATURE_INFO, k=5, risk_sign=-1)
    # Her four strongest factors are her decline: the engagement fall first, her falling
    # rating among them. (A fifth may lower her risk: she taught 3-4 days ago.)
    assert list(f["direction"][:4]) == [RAISES] * 4, f[["text", "direction"]].to_string()
    raising = set(f.loc[f["direction"] == RAISES, "text"])
    assert f["text"].iloc[0] == "engagement 0.32 (was 0.75)", f["text"].tolist()
    assert any(t.startswith("rating down 0.4") for t in raising), raising


def test_demo_sarah_chen_reads_critical(demo_churn, demo_world):
    from ml.scores import risk_tier

    m, now = demo_churn["final"], demo_churn["now"]
    sarah = demo_world.personas["sarah_chen"]
    p30 = m.predict_curve(now.loc[[sarah], m.features])["p30"]
    assert risk_tier(p30)[0] == "Critical"
