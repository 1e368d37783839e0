"""A model version's held-out figures, laid out for a reader (System → Models).

The registry keeps every figure training measured as a flat dict (``auc_30d``,
``precision_r80_30d``, ``always_good_accuracy`` ...). An ML engineer asks of a version:
how good on data it never saw, against what baseline, how well calibrated, and how many
cases the figures rest on. This module answers that from the stored metadata alone: no
model is loaded and nothing is recomputed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

HORIZONS = (7, 14, 30, 90)


@dataclass(frozen=True)
class HorizonRow:
    """One prediction horizon of a churn model, on the held-out tutors or customers."""

    days: int
    known: int | None  # rows whose outcome at this horizon is known (not censored)
    churned: int | None
    auc: float | None
    brier: float | None
    mean_predicted: float | None
    observed: float | None  # churned / known
    precision_at_half: float | None
    recall_at_half: float | None
    threshold_r80: float | None  # the cut-off that catches 80 % of leavers ...
    precision_r80: float | None  # ... and the share of flagged ones who do leave


@dataclass(frozen=True)
class ModelReport:
    kind: str  # "survival", "classifier", "regression" or "other"
    headline: list[tuple[str, str]] = field(default_factory=list)  # (figure, value text)
    horizons: list[HorizonRow] = field(default_factory=list)
    reliability: list[dict[str, float]] = field(default_factory=list)  # binned calibration
    notes: list[str] = field(default_factory=list)


def model_report(metadata: dict[str, Any] | None) -> ModelReport:
    """The report of one registry version from its ``metadata.json`` contents."""
    md = metadata or {}
    m = md.get("metrics") if isinstance(md.get("metrics"), dict) else {}
    notes = _training_notes(md, m)
    if "concordance" in m:
        return ModelReport("survival", _survival_headline(m), _horizons(m), [], notes)
    if "auc" in m:
        return ModelReport(
            "classifier", _classifier_headline(m), [], _reliability(m.get("reliability")), notes
        )
    if "mae" in m:
        return ModelReport("regression", _regression_headline(m), [], [], notes)
    scalars = [(k, _num(v)) for k, v in m.items() if isinstance(v, int | float)]
    return ModelReport("other", scalars, [], [], notes)


# ---------------------------------------------------------------------- kinds


def _survival_headline(m: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("Concordance (C-index)", _fmt(m.get("concordance"), 3)),
        (
            "Held-out rows",
            f"{_int(m.get('n'))} ({_int(m.get('events'))} left within the window)",
        ),
    ]
    if m.get("cut"):
        rows.append(("Hold-out from", str(m["cut"])))
    if m.get("train_rows") is not None:
        rows.append(
            (
                "Trained on",
                f"{_int(m.get('train_rows'))} rows ({_int(m.get('train_events'))} leavers) "
                f"before the hold-out; refit on {_int(m.get('final_rows'))} rows",
            )
        )
    if m.get("distribution"):
        rows.append(("Survival model", f"XGBoost AFT, {m['distribution']} errors, "
                                       f"{_int(m.get('rounds'))} rounds"))  # fmt: skip
    return rows


def _horizons(m: dict[str, Any]) -> list[HorizonRow]:
    out = []
    for d in HORIZONS:
        if f"known_{d}d" not in m and f"auc_{d}d" not in m:
            continue
        known, churned = _opt_int(m.get(f"known_{d}d")), _opt_int(m.get(f"churned_{d}d"))
        out.append(
            HorizonRow(
                days=d,
                known=known,
                churned=churned,
                auc=_opt(m.get(f"auc_{d}d")),
                brier=_opt(m.get(f"brier_{d}d")),
                mean_predicted=_opt(m.get(f"mean_p_{d}d")),
                observed=(churned / known) if known and churned is not None else None,
                precision_at_half=_opt(m.get(f"precision_{d}d")),
                recall_at_half=_opt(m.get(f"recall_{d}d")),
                threshold_r80=_opt(m.get(f"threshold_r80_{d}d")),
                precision_r80=_opt(m.get(f"precision_r80_{d}d")),
            )
        )
    return out


def _classifier_headline(m: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("AUC", _fmt(m.get("auc"), 3))]
    if "accuracy" in m:
        base = m.get("always_good_accuracy")
        rows.append(
            (
                "Accuracy",
                _fmt(m["accuracy"], 3)
                + (f" (always predicting the majority: {_fmt(base, 3)})" if base else ""),
            )
        )
    for key, label in (("brier", "Brier score"), ("log_loss", "Log loss")):
        if key in m:
            base = m.get(f"{key}_base_rate")
            against = f" (base rate: {_fmt(base, 3)})" if base else ""
            rows.append((label, _fmt(m[key], 3) + against))
    if "ece" in m:
        rows.append(("Calibration error (ECE)", _fmt(m["ece"], 3)))
    if "precision_at_0.5" in m:
        rows.append(
            (
                "At p ≥ 0.5",
                f"precision {_pct(m['precision_at_0.5'])}, recall {_pct(m.get('recall_at_0.5'))}",
            )
        )
    if "n" in m:
        rate = m.get("poor_rate")
        rows.append(("Held-out rows", _int(m["n"]) + (f" ({_pct(rate)} positive)" if rate else "")))
    if "recalibrated" in m:
        rows.append(("Recalibrated", "yes" if m["recalibrated"] else "no"))
    return rows


def _regression_headline(m: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("Mean absolute error", _fmt(m.get("mae"), 3))]
    naive = m.get("mae_last_7d")
    if naive:
        rows.append(
            (
                "Naive forecast (last 7 days)",
                f"MAE {_fmt(naive, 3)}: the model's error is {_pct(m['mae'] / naive)} of it",
            )
        )
    if "mae_booked" in m:
        rows.append(("Already-booked sessions as forecast", f"MAE {_fmt(m['mae_booked'], 3)}"))
    if "wape" in m:
        rows.append(("WAPE", _pct(m["wape"])))
    if "n" in m:
        rows.append(
            ("Held-out rows", f"{_int(m['n'])} (mean actual {_fmt(m.get('mean_actual'), 2)})")
        )
    return rows


def _reliability(raw: Any) -> list[dict[str, float]]:
    if not isinstance(raw, list):
        return []
    keep = []
    for r in raw:
        try:
            keep.append(
                {
                    "mean_predicted": float(r["mean_predicted"]),
                    "observed_rate": float(r["observed_rate"]),
                    "n": float(r["n"]),
                }
            )
        except (KeyError, TypeError, ValueError):
            continue
    return keep


def _training_notes(md: dict[str, Any], m: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    window = md.get("training_window") or {}
    if window.get("from") or window.get("until"):
        notes.append(f"Data from {_day(window.get('from'))} to {_day(window.get('until'))}.")
    if md.get("train_seconds") is not None:
        seconds = md["train_seconds"]
        notes.append(f"Training took {seconds:.1f} s." if _finite(seconds) else "")
    key = md.get("key_metric")
    if key:
        better = "higher" if md.get("higher_is_better", True) else "lower"
        name = {"auc": "AUC", "mae": "MAE", "wape": "WAPE"}.get(key, key)
        notes.append(
            f"A newer version is used only if its {name} is no worse ({better} is better)."
        )
    for n in list(m.get("final_notes") or m.get("notes") or []):
        notes.append(str(n)[:1].upper() + str(n)[1:] + ("" if str(n).endswith(".") else "."))
    return [n for n in notes if n]


# ---------------------------------------------------------------------- formatting


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _opt(v: Any) -> float | None:
    return float(v) if _finite(v) else None


def _opt_int(v: Any) -> int | None:
    return int(v) if _finite(v) else None


def _fmt(v: Any, digits: int) -> str:
    return f"{v:.{digits}f}" if _finite(v) else "–"


def _pct(v: Any) -> str:
    return f"{v:.0%}" if _finite(v) else "–"


def _int(v: Any) -> str:
    return f"{int(v):,}" if _finite(v) else "–"


def _num(v: Any) -> str:
    return f"{v:,.4g}" if _finite(v) else "–"


def _day(text: Any) -> str:
    return str(text)[:10] if text else "?"
