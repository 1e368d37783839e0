"""P(poor first session): a calibrated logistic regression, saved as plain JSON.

A first session is poor when rated below 4 (DOMAIN.md). The model is a scikit-learn
pipeline, fitted on the rows of past first sessions:

- numeric columns (the tutor's record: average rating, first-session success rate,
  sessions, engagement, reschedule and no-show rates, student age ...): missing values
  filled with the training median, plus a 0/1 "was missing" column for every numeric
  column that had gaps in training (a tutor with no ratings yet is information, not an
  average tutor); then standardised;
- categorical columns (subject, weekday, hour band ...): one-hot with
  ``handle_unknown="ignore"``, so a subject never seen in training scores as the
  baseline of that group instead of failing;
- ``LogisticRegression`` (L2, ``C=1``).

Calibration is checked on a held-out split by time (the latest rows): the calibration
slope and calibration-in-the-large of the LR's log-odds. LR on a well-specified problem
is usually calibrated already; only when the slope leaves [0.8, 1.25] or the mean
predicted probability misses the observed rate by more than 2 points is a Platt
(sigmoid) recalibration ``p = sigmoid(a * logit + b)`` fitted on the held-out rows.
:attr:`FirstSessionModel.report` says which it was, with the reliability table.

Persistence is JSON only (no pickles): medians, missing-indicator columns, scaler means
and scales, one-hot categories, coefficients, intercept and the calibrator. Prediction
runs in numpy from exactly those numbers, for a fitted and for a loaded model alike, so a
reloaded model gives bit-identical probabilities.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ml import metrics

MODEL_FILE = "first_session_model.json"
MISSING_SUFFIX = "__missing"

# The model's inputs, made from :func:`ml.features.first_session.first_session_rows` by
# :func:`first_session_design`: DOMAIN.md's tutor record and session context.
NUMERIC = [
    "tutor_rating",  # smoothed average rating (shrunk to the prior when few ratings)
    "tutor_first_session_success",  # smoothed share of first sessions rated 4+
    "tutor_sessions_log",  # log(1 + sessions completed)
    "tutor_engagement",
    "tutor_reschedule_rate",
    "tutor_no_show_rate",
]
CATEGORICAL = ["subject", "weekday", "hour_band", "age_band"]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOUR_BANDS = ((9, "early morning"), (12, "morning"), (17, "afternoon"), (21, "evening"),
              (24, "late evening"))  # fmt: skip
AGE_BANDS = ((9, "9 or younger"), (12, "10-12"), (15, "13-15"), (18, "16-18"), (200, "19+"))


def _band(values: np.ndarray, bands, missing: str) -> np.ndarray:
    out = np.full(len(values), missing, dtype=object)
    done = np.isnan(values)
    for upper, label in bands:
        hit = ~done & (values < upper) if bands is HOUR_BANDS else ~done & (values <= upper)
        out[hit] = label
        done |= hit
    return out


def first_session_design(rows: pd.DataFrame) -> pd.DataFrame:
    """Model inputs from first-session rows (``first_session_rows`` columns): the tutor's
    record as numbers, the context as categories (subject, weekday and hour band in the
    tutor's time, the student's age band; "unknown" when missing)."""
    need = ["subject", "tutor_rating_smoothed", "tutor_first_session_success_smoothed",
            "tutor_sessions_completed", "tutor_engagement_score", "tutor_reschedule_rate",
            "tutor_no_show_rate", "local_hour", "local_weekday", "student_age"]  # fmt: skip
    missing = [c for c in need if c not in rows.columns]
    if missing:
        raise FirstSessionModelError(f"first-session rows lack {missing}")

    def num(c: str) -> np.ndarray:
        return pd.to_numeric(rows[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    wd = num("local_weekday")
    weekday = np.full(len(rows), "unknown", dtype=object)
    ok = ~np.isnan(wd) & (wd >= 0) & (wd <= 6)
    weekday[ok] = np.array(WEEKDAYS, dtype=object)[wd[ok].astype(int)]
    subject = rows["subject"].astype(object).where(rows["subject"].notna(), "unknown")
    return pd.DataFrame(
        {
            "tutor_rating": num("tutor_rating_smoothed"),
            "tutor_first_session_success": num("tutor_first_session_success_smoothed"),
            "tutor_sessions_log": np.log1p(np.maximum(num("tutor_sessions_completed"), 0)),
            "tutor_engagement": num("tutor_engagement_score"),
            "tutor_reschedule_rate": num("tutor_reschedule_rate"),
            "tutor_no_show_rate": num("tutor_no_show_rate"),
            "subject": subject.astype(str).to_numpy(dtype=object),
            "weekday": weekday,
            "hour_band": _band(num("local_hour"), HOUR_BANDS, "unknown"),
            "age_band": _band(num("student_age"), AGE_BANDS, "unknown"),
        },
        index=rows.index,
    )


class FirstSessionModelError(ValueError):
    """Bad input to the first-session model."""


@dataclass
class FirstSessionReport:
    n_train: int = 0
    n_valid: int = 0
    base_rate_train: float = float("nan")
    calibration_slope: float = float("nan")
    calibration_in_the_large: float = float("nan")
    recalibrated: bool = False
    valid: dict = field(default_factory=dict)
    reliability: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


class FirstSessionModel:
    """Calibrated logistic regression for P(rating < 4); see the module doc."""

    KIND = "first_session_lr"

    def __init__(
        self,
        *,
        numeric: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        C: float = 1.0,
        calibration: str = "auto",
        valid_share: float = 0.2,
    ) -> None:
        if calibration not in ("auto", "none", "sigmoid"):
            raise ValueError("calibration must be 'auto', 'none' or 'sigmoid'")
        self.numeric = list(numeric) if numeric is not None else None
        self.categorical = list(categorical) if categorical is not None else None
        self.C = C
        self.calibration = calibration
        self.valid_share = valid_share
        self.params: dict | None = None
        self.pipeline: Pipeline | None = None
        self.report = FirstSessionReport()

    # ------------------------------------------------------------------ preparing

    def _columns(self, X: pd.DataFrame) -> tuple[list[str], list[str]]:
        cat = self.categorical
        num = self.numeric
        if cat is None:
            cat = [c for c in X.columns if _is_categorical(X[c]) and (num is None or c not in num)]
        if num is None:
            num = [c for c in X.columns if c not in cat]
        return list(num), list(cat)

    @staticmethod
    def _numeric_block(X: pd.DataFrame, num: list[str]) -> np.ndarray:
        if not num:
            return np.zeros((len(X), 0))
        return np.column_stack(
            [pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
             for c in num]
        )  # fmt: skip

    @staticmethod
    def _category_block(X: pd.DataFrame, cat: list[str]) -> np.ndarray:
        if not cat:
            return np.empty((len(X), 0), dtype=object)
        out = np.empty((len(X), len(cat)), dtype=object)
        for j, c in enumerate(cat):
            s = X[c].astype(object)
            out[:, j] = np.where(pd.isna(s), "(missing)", s.astype(str))
        return out

    def _design(self, X: pd.DataFrame, p: dict) -> tuple[np.ndarray, np.ndarray]:
        """Filled numeric values + missing indicators, and category strings."""
        missing = [c for c in (*p["numeric"], *p["categorical"]) if c not in X.columns]
        if missing:
            raise FirstSessionModelError(f"columns missing from the first-session rows: {missing}")
        raw = self._numeric_block(X, p["numeric"])
        nan = np.isnan(raw)
        filled = np.where(nan, np.asarray(p["medians"], dtype=float)[None, :], raw)
        ind_idx = [p["numeric"].index(c) for c in p["indicators"]]
        ind = nan[:, ind_idx].astype(float) if ind_idx else np.zeros((len(X), 0))
        return np.hstack([filled, ind]), self._category_block(X, p["categorical"])

    # ------------------------------------------------------------------ fitting

    def fit(self, X: pd.DataFrame, y, *, valid=None, order=None) -> FirstSessionModel:
        """Fit on first-session rows ``X`` with ``y`` = 1 for a poor rating (< 4).

        ``valid=(X, y)`` is the held-out split (later sessions); without it the latest
        ``valid_share`` of rows by ``order`` (e.g. session start times; row order when
        None) is held out for the calibration check.
        """
        y = np.asarray(y, dtype=float)
        if len(X) != len(y):
            raise FirstSessionModelError("X and y differ in length")
        if len(X) == 0:
            raise FirstSessionModelError("no first sessions to learn from")
        if valid is None:
            n = len(X)
            rank = np.argsort(np.argsort(np.asarray(order), kind="stable"), kind="stable") if (
                order is not None) else np.arange(n)  # fmt: skip
            is_valid = rank >= round(n * (1 - self.valid_share))
            Xt, yt, Xv, yv = X[~is_valid], y[~is_valid], X[is_valid], y[is_valid]
        else:
            Xt, yt = X, y
            Xv, yv = valid[0], np.asarray(valid[1], dtype=float)
        if len(np.unique(yt)) < 2:
            raise FirstSessionModelError("training rows need both good and poor first sessions")
        num, cat = self._columns(Xt)
        raw = self._numeric_block(Xt, num)
        medians = np.nanmedian(np.where(np.isnan(raw), np.nan, raw), axis=0) if num else np.zeros(0)
        medians = np.where(np.isnan(medians), 0.0, medians)
        indicators = [c for j, c in enumerate(num) if np.isnan(raw[:, j]).any()]
        p = {"numeric": num, "categorical": cat, "medians": medians.tolist(),
             "indicators": indicators}  # fmt: skip
        Zn, Zc = self._design(Xt, p)
        n_num = Zn.shape[1]
        design = pd.DataFrame(Zn, columns=[*num, *[c + MISSING_SUFFIX for c in indicators]])
        for j, c in enumerate(cat):
            design[c] = Zc[:, j]
        self.pipeline = Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [
                            ("num", StandardScaler(), list(design.columns[:n_num])),
                            (
                                "cat",
                                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                cat,
                            ),
                        ]
                    ),
                ),
                ("lr", LogisticRegression(C=self.C, max_iter=2000)),
            ]
        )
        self.pipeline.fit(design, yt.astype(int))
        prep = self.pipeline.named_steps["prep"]
        scaler = prep.named_transformers_["num"] if n_num else None
        enc = prep.named_transformers_["cat"] if cat else None
        lr = self.pipeline.named_steps["lr"]
        p.update(
            mean=(scaler.mean_.tolist() if scaler is not None else []),
            scale=(scaler.scale_.tolist() if scaler is not None else []),
            categories=[[str(v) for v in cats] for cats in enc.categories_] if enc else [],
            coef=lr.coef_.ravel().tolist(),
            intercept=float(lr.intercept_[0]),
            calibrator={"a": 1.0, "b": 0.0},
            base_rate=float(yt.mean()),
        )
        # frequency of each category in training (for contributions' baseline)
        p["category_share"] = [
            [float(np.mean(Zc[:, j] == v)) for v in p["categories"][j]] for j in range(len(cat))
        ]
        self.params = p
        rep = FirstSessionReport(n_train=len(Xt), n_valid=len(Xv), base_rate_train=float(yt.mean()))
        if len(Xv) and len(np.unique(yv)) == 2:
            logit = self.decision_function(Xv, calibrated=False)
            slope, citl = _calibration_slope(yv, logit)
            rep.calibration_slope, rep.calibration_in_the_large = slope, citl
            off = not (0.8 <= slope <= 1.25) or abs(citl) > 0.02
            if self.calibration == "sigmoid" or (self.calibration == "auto" and off):
                a, b = _platt(yv, logit)
                p["calibrator"] = {"a": a, "b": b}
                rep.recalibrated = True
                rep.notes.append(
                    f"LR off on held-out rows (slope {slope:.2f}, observed - predicted "
                    f"{citl:+.3f}): Platt recalibration a={a:.3f}, b={b:+.3f}"
                )
            rep.valid = self.evaluate(Xv, yv)
            rep.reliability = metrics.reliability_table(yv, self.predict_proba(Xv)).to_dict(
                "records"
            )
        else:
            rep.notes.append("no usable held-out rows: calibration not checked")
        self.report = rep
        return self

    # ------------------------------------------------------------------ predicting

    def _check(self) -> dict:
        if self.params is None:
            raise FirstSessionModelError("the first-session model is not fitted")
        return self.params

    @property
    def features(self) -> list[str]:
        p = self._check()
        return [*p["numeric"], *p["categorical"]]

    def _terms(self, X: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
        """Per-column log-odds terms: numeric (n x k) and, per categorical, (n,) arrays."""
        p = self._check()
        Zn, Zc = self._design(X, p)
        coef = np.asarray(p["coef"], dtype=float)
        n_num = Zn.shape[1]
        if n_num:
            scaled = (Zn - np.asarray(p["mean"])[None, :]) / np.asarray(p["scale"])[None, :]
            num_terms = scaled * coef[None, :n_num]
        else:
            num_terms = np.zeros((len(X), 0))
        cat_terms = []
        off = n_num
        for j, cats in enumerate(p["categories"]):
            w = coef[off : off + len(cats)]
            lookup = {v: i for i, v in enumerate(cats)}
            idx = np.array([lookup.get(v, -1) for v in Zc[:, j]], dtype=np.int64)
            cat_terms.append(np.where(idx >= 0, w[np.maximum(idx, 0)], 0.0))
            off += len(cats)
        return num_terms, cat_terms

    def decision_function(self, X: pd.DataFrame, *, calibrated: bool = True) -> np.ndarray:
        """Log-odds of a poor first session per row."""
        p = self._check()
        if len(X) == 0:
            return np.zeros(0)
        num_terms, cat_terms = self._terms(X)
        logit = p["intercept"] + num_terms.sum(axis=1) + sum(cat_terms, np.zeros(len(X)))
        if calibrated:
            logit = p["calibrator"]["a"] * logit + p["calibrator"]["b"]
        return logit

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(rating < 4) per row (calibrated)."""
        return special.expit(self.decision_function(X))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Log-odds contributions per input column against an average session (numeric
        at the training mean, categories at their training mix), plus ``bias``; rows
        sum to :meth:`decision_function` before calibration. Positive = more risk."""
        p = self._check()
        num_terms, cat_terms = self._terms(X)
        out = {}
        k = len(p["numeric"])
        ind_of = {c: k + i for i, c in enumerate(p["indicators"])}
        bias = np.full(len(X), p["intercept"], dtype=float)
        for j, c in enumerate(p["numeric"]):
            t = num_terms[:, j].copy()
            if c in ind_of:
                t += num_terms[:, ind_of[c]]
            out[c] = t
        coef = np.asarray(p["coef"], dtype=float)
        off = num_terms.shape[1]
        for j, c in enumerate(p["categorical"]):
            cats = p["categories"][j]
            avg = float(np.dot(coef[off : off + len(cats)], p["category_share"][j]))
            out[c] = cat_terms[j] - avg
            bias += avg
            off += len(cats)
        frame = pd.DataFrame(out, index=X.index)
        frame["bias"] = bias
        return frame

    def pipeline_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The sklearn pipeline's own (uncalibrated) P(poor); equals the numpy path."""
        if self.pipeline is None:
            raise FirstSessionModelError("no sklearn pipeline (a loaded model has only JSON)")
        p = self._check()
        Zn, Zc = self._design(X, p)
        design = pd.DataFrame(
            Zn, columns=[*p["numeric"], *[c + MISSING_SUFFIX for c in p["indicators"]]]
        )
        for j, c in enumerate(p["categorical"]):
            design[c] = Zc[:, j]
        return self.pipeline.predict_proba(design)[:, 1]

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, X: pd.DataFrame, y) -> dict:
        """AUC, accuracy at 0.5, Brier and log loss against the base rate, and what
        always predicting "good" scores (the seed's 91 % accuracy is judged against it)."""
        y = np.asarray(y, dtype=float)
        prob = self.predict_proba(X)
        base = float(self._check()["base_rate"])
        rate = float(y.mean()) if len(y) else float("nan")
        out = {
            "n": len(y),
            "poor_rate": rate,
            "auc": metrics.roc_auc(y, prob),
            "accuracy": metrics.accuracy(y, prob, 0.5),
            "always_good_accuracy": 1.0 - rate,
            "brier": metrics.brier(y, prob),
            "brier_base_rate": metrics.brier(y, np.full(len(y), base)),
            "log_loss": metrics.log_loss(y, prob),
            "log_loss_base_rate": metrics.log_loss(y, np.full(len(y), base)),
            "ece": metrics.expected_calibration_error(y, prob),
            "mean_predicted": float(prob.mean()) if len(prob) else float("nan"),
        }
        at = metrics.precision_recall_at(y, prob, 0.5)
        out["precision_at_0.5"], out["recall_at_0.5"] = at["precision"], at["recall"]
        return out

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> dict:
        p = self._check()
        from dataclasses import asdict

        return {"kind": self.KIND, "params": p, "report": asdict(self.report)}

    def save(self, directory: str | Path) -> list[str]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MODEL_FILE).write_text(json.dumps(self.to_json(), indent=1, default=float))
        return [MODEL_FILE]

    @classmethod
    def from_json(cls, doc: dict) -> FirstSessionModel:
        if doc.get("kind") != cls.KIND:
            raise FirstSessionModelError(f"not a first-session model ({doc.get('kind')!r})")
        p = doc["params"]
        need = ("numeric", "categorical", "medians", "indicators", "mean", "scale",
                "categories", "coef", "intercept", "calibrator", "base_rate")  # fmt: skip
        missing = [k for k in need if k not in p]
        if missing:
            raise FirstSessionModelError(f"model JSON lacks {missing}")
        width = len(p["numeric"]) + len(p["indicators"]) + sum(len(c) for c in p["categories"])
        if len(p["coef"]) != width or len(p["mean"]) != len(p["numeric"]) + len(p["indicators"]):
            raise FirstSessionModelError("model JSON is inconsistent (coefficient count)")
        m = cls(numeric=p["numeric"], categorical=p["categorical"])
        m.params = p
        rep = doc.get("report") or {}
        m.report = FirstSessionReport(
            **{k: v for k, v in rep.items() if k in FirstSessionReport.__dataclass_fields__}
        )
        return m

    @classmethod
    def load(cls, directory: str | Path) -> FirstSessionModel:
        return cls.from_json(json.loads((Path(directory) / MODEL_FILE).read_text()))


def _calibration_slope(y: np.ndarray, logit: np.ndarray) -> tuple[float, float]:
    """(slope of y on the logit, observed rate - mean predicted)."""
    a, _ = _platt(y, logit)
    return a, float(np.mean(y) - np.mean(special.expit(logit)))


def _platt(y: np.ndarray, logit: np.ndarray) -> tuple[float, float]:
    """Unpenalised logistic regression of y on the logit: (a, b)."""
    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(logit.reshape(-1, 1), y.astype(int))
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
        return 1.0, 0.0
    return a, b
