"""Preferences → Alerts: every numeric threshold of the alert rules, one spin box each.

Built from the settings model's own fields (type, bounds, default), so a threshold added
to the rules appears here without a second list to keep in step; fields that are not a
single number (per-metric anomaly thresholds) are kept as they are. ``build()`` returns
a validated copy: out-of-range or inconsistent values raise ``ValueError`` with the
field named, and the dialog shows it instead of saving.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

_WORDS = {"churn": "P(churn 30 d)", "customer": "customer", "min": "at least"}


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


class AlertThresholdsEditor(QWidget):
    def __init__(self, alerts: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._original = alerts
        self.inputs: dict[str, QSpinBox | QDoubleSpinBox] = {}
        form_host = QWidget()
        form = QFormLayout(form_host)
        for name, field in type(alerts).model_fields.items():
            value = getattr(alerts, name)
            if field.annotation not in (int, float) or isinstance(value, bool):
                continue
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
            default = field.default
            box.setToolTip(f"{name} (default {default})")
            self.inputs[name] = box
            form.addRow(label_for(name), box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_host)
        lay = QVBoxLayout(self)
        note = QLabel(
            "Thresholds of the alert rules. Each alert keeps the thresholds that fired it; "
            "changes apply from the next scoring run."
        )
        note.setWordWrap(True)
        lay.addWidget(note)
        lay.addWidget(scroll)

    def build(self) -> Any:
        """A validated copy with the edited values (``ValueError`` naming the field)."""
        data = self._original.model_dump()
        for name, box in self.inputs.items():
            data[name] = box.value()
        try:
            return type(self._original).model_validate(data)
        except ValueError as exc:
            raise ValueError(f"Alert thresholds: {exc}") from exc
