"""Preferences → Alerts: every threshold of the alert rules, one spin box each.

Built from the settings model's own fields (type, bounds, default, title), so a
threshold added to the rules appears here without a second list to keep in step. Three
sections are not single numbers and get their own grids, bounded by the model's
``ANOMALY_LIMITS`` and ``MAX_COOLDOWN_HOURS``: supply and demand (shortage lead and
coverage, surplus coverage), the per-metric anomaly thresholds (SDs, week over week,
days in a row) and the per-rule cooldowns. Values equal to the default are not stored
as overrides, so settings.json keeps only what the user chose.

``build()`` returns a validated copy: out-of-range or inconsistent values raise
``ValueError`` with the fields named (a surplus threshold not above the shortage one, a
Critical cut-off below the High one), and the dialog shows it instead of saving.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

_WORDS = {"churn": "P(churn 30 d)", "customer": "customer", "min": "at least"}
# Fields shown in their own sections rather than in the rules' list.
SUPPLY_FIELDS = ("shortage_coverage", "surplus_coverage", "shortage_lead_hours")
COOLDOWN_FIELDS = ("cooldown_hours",)
ANOMALY_COLUMNS = (("z", "SDs from usual"), ("wow", "Week over week"), ("drops", "Days in a row"))


def label_for(name: str) -> str:
    """``customer_idle_days`` -> ``Customer idle (days)``."""
    unit = ""
    for suffix, text in (("_days", " (days)"), ("_hours", " (hours)")):
        if name.endswith(suffix):
            name, unit = name[: -len(suffix)], text
    words = [_WORDS.get(w, w) for w in name.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:] + unit


def _bounds(field: Any) -> tuple[float | None, float | None, bool]:
    low = high = None
    strict = False
    for m in field.metadata:
        for attr, is_low, is_strict in (("ge", True, False), ("gt", True, True),
                                         ("le", False, False), ("lt", False, True)):  # fmt: skip
            value = getattr(m, attr, None)
            if value is None:
                continue
            if is_low:
                low, strict = value, is_strict
            else:
                high = value
    return low, high, strict


def _explain(exc: ValueError) -> str:
    """A pydantic error as ``field: message`` lines, without its URLs."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            parts = []
            for e in errors():
                where = ".".join(str(p) for p in e.get("loc", ()))
                msg = str(e.get("msg", "")).removeprefix("Value error, ")
                parts.append(f"{where}: {msg}" if where else msg)
            return "; ".join(parts)
        except Exception:  # a different error shape: fall back to its text
            pass
    return str(exc)


class AlertThresholdsEditor(QWidget):
    def __init__(
        self,
        alerts: Any,
        parent: QWidget | None = None,
        *,
        rules: Sequence[tuple[str, str]] = (),
        metrics: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(parent)
        self._original = alerts
        model = type(alerts)
        self.inputs: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self.anomaly_inputs: dict[str, dict[str, QSpinBox | QDoubleSpinBox]] = {}
        self.cooldown_inputs: dict[str, QSpinBox] = {}
        self._own_cooldown: set[str] = set(alerts.cooldown_hours_by_rule)
        self._initial_cooldown: dict[str, int] = {}
        host = QWidget()
        sections = QVBoxLayout(host)

        rules_box = QGroupBox("Rules")
        rules_form = QFormLayout(rules_box)
        supply_box = QGroupBox("Supply and demand (forecast coverage = tutor-hours / bookings)")
        supply_form = QFormLayout(supply_box)
        cooldown_box = QGroupBox("Cooldowns: a closed alert does not fire again for")
        cooldown_grid = QGridLayout(cooldown_box)
        for name, field in model.model_fields.items():
            value = getattr(alerts, name)
            if field.annotation not in (int, float) or isinstance(value, bool):
                continue
            box = self._spin(field, value)
            tip = f"{name} (default {field.default})"
            box.setToolTip(f"{field.description}\n\n{tip}" if field.description else tip)
            self.inputs[name] = box
            label = field.title or label_for(name)
            if name in SUPPLY_FIELDS:
                supply_form.addRow(label, box)
            elif name in COOLDOWN_FIELDS:
                cooldown_grid.addWidget(QLabel("Every rule, unless set below (hours)"), 0, 0)
                cooldown_grid.addWidget(box, 0, 1)
            else:
                rules_form.addRow(label, box)

        # Per-rule cooldowns: the effective value; an override is stored only when it
        # differs from the general cooldown.
        max_hours = int(getattr(model, "MAX_COOLDOWN_HOURS", 24 * 365))
        for row, (rule, title) in enumerate(rules, start=1):
            box = QSpinBox()
            box.setRange(0, max_hours)
            box.setSuffix(" h")
            box.setValue(int(alerts.cooldown_hours_by_rule.get(rule, alerts.cooldown_hours)))
            self._initial_cooldown[rule] = box.value()
            box.setToolTip(f"cooldown_hours_by_rule.{rule} (0: no cooldown)")
            self.cooldown_inputs[rule] = box
            cooldown_grid.addWidget(QLabel(title), row, 0)
            cooldown_grid.addWidget(box, row, 1)

        anomaly_box = QGroupBox("Metric anomalies: an alert when a metric is beyond")
        grid = QGridLayout(anomaly_box)
        limits = getattr(model, "ANOMALY_LIMITS", {})
        for col, (key, title) in enumerate(ANOMALY_COLUMNS, start=1):
            head = QLabel(f"<b>{title}</b>")
            if key in limits:
                head.setToolTip(limits[key][3])
            grid.addWidget(head, 0, col)
        for row, (metric, title) in enumerate(metrics, start=1):
            grid.addWidget(QLabel(title), row, 0)
            self.anomaly_inputs[metric] = {}
            for col, (key, _t) in enumerate(ANOMALY_COLUMNS, start=1):
                if key not in limits:
                    continue
                default, low, high, meaning = limits[key]
                value = alerts.anomaly_threshold(metric, key)
                box = _anomaly_spin(key, low, high, value)
                box.setToolTip(
                    f"anomaly_thresholds.{metric}.{key}: {meaning} (default {default:g})"
                )
                self.anomaly_inputs[metric][key] = box
                grid.addWidget(box, row, col)

        sections.addWidget(supply_box)
        if metrics:
            sections.addWidget(anomaly_box)
        sections.addWidget(cooldown_box)
        sections.addWidget(rules_box)
        sections.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(host)
        lay = QVBoxLayout(self)
        note = QLabel(
            "Thresholds of the alert rules. Each alert keeps the thresholds that fired it; "
            "changes apply from the next scoring run (supply: also the next forecast)."
        )
        note.setWordWrap(True)
        lay.addWidget(note)
        lay.addWidget(scroll)

    @staticmethod
    def _spin(field: Any, value: float) -> QSpinBox | QDoubleSpinBox:
        low, high, strict = _bounds(field)
        if field.annotation is int:
            box: QSpinBox | QDoubleSpinBox = QSpinBox()
            box.setRange(int(low if low is not None else 0) + (1 if strict else 0),
                         int(high if high is not None else 10**6))  # fmt: skip
        else:
            box = QDoubleSpinBox()
            box.setDecimals(2)
            box.setSingleStep(0.05)
            box.setRange(float(low if low is not None else 0) + (0.01 if strict else 0),
                         float(high if high is not None else 10**6))  # fmt: skip
        box.setValue(value)
        return box

    def build(self) -> Any:
        """A validated copy with the edited values (``ValueError`` naming the field)."""
        data = self._original.model_dump()
        for name, box in self.inputs.items():
            data[name] = box.value()
        limits = getattr(type(self._original), "ANOMALY_LIMITS", {})
        thresholds = {k: dict(v) for k, v in data["anomaly_thresholds"].items()}
        for metric, boxes in self.anomaly_inputs.items():
            chosen = thresholds.setdefault(metric, {})
            for key, box in boxes.items():
                value = box.value() / 100.0 if key == "wow" else box.value()
                if abs(value - limits[key][0]) < 1e-9:
                    chosen.pop(key, None)  # the default: no override
                else:
                    chosen[key] = value
            if not chosen:
                del thresholds[metric]
        data["anomaly_thresholds"] = thresholds
        cooldowns = dict(data["cooldown_hours_by_rule"])
        for rule, box in self.cooldown_inputs.items():
            untouched = (
                rule not in self._own_cooldown and box.value() == self._initial_cooldown[rule]
            )
            # A rule left alone follows the general cooldown, even when that changed.
            if untouched or box.value() == data["cooldown_hours"]:
                cooldowns.pop(rule, None)
            else:
                cooldowns[rule] = box.value()
        data["cooldown_hours_by_rule"] = cooldowns
        try:
            return type(self._original).model_validate(data)
        except ValueError as exc:
            raise ValueError(f"Alert thresholds: {_explain(exc)}") from exc


def _anomaly_spin(key: str, low: float, high: float, value: float) -> QSpinBox | QDoubleSpinBox:
    if key == "wow":  # shown in percent, stored as a share
        box: QSpinBox | QDoubleSpinBox = QSpinBox()
        box.setRange(round(low * 100), round(high * 100))
        box.setSuffix(" %")
        box.setValue(round(value * 100))
    elif key == "drops":
        box = QSpinBox()
        box.setRange(int(low), int(high))
        box.setSuffix(" days")
        box.setValue(int(value))
    else:
        box = QDoubleSpinBox()
        box.setDecimals(1)
        box.setSingleStep(0.5)
        box.setRange(low, high)
        box.setSuffix(" SD")
        box.setValue(value)
    return box
