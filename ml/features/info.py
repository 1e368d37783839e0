"""What a feature means, in words: the explainer's and the UI's dictionary.

Every feature module exports ``FEATURE_INFO: dict[str, FeatureInfo]`` (feature name ->
info), in column order. A :class:`FeatureInfo` is plain data:

- ``label``: plain words, e.g. ``"sessions in the last 30 days"``.
- ``group``: the DOMAIN.md feature group (``"volume"``, ``"ratings"`` ...).
- ``kind``: how the value is formatted (:data:`KINDS`, see :func:`format_value`).
- ``template``: a sentence with ``{value}`` (the formatted value), optionally ``{prev}``
  (the formatted value of the ``compare_to`` feature) and ``{s}`` (``"s"`` unless the
  value is 1), e.g. ``"{value} reschedule{s} in the last 7 days"``.
- ``direction``: +1 when a higher value usually means more risk (churn, a poor first
  session), -1 when it means less, 0 when it depends. A hint for wording and sanity
  checks; the model's own contribution gives the sign of a prediction's factor.
- ``missing``: the sentence shown when the value is NaN (e.g. ``"no ratings in the
  last 30 days"``); ``None`` when the feature is never NaN.
- ``point_in_time``: False for values the API only gives as they are *now* (a tutor's
  current hourly rate, a customer's goal status) or that the data cannot reconstruct for
  a past date (availability ahead of the as-of date: a departed tutor's future slots are
  deleted). They are right for scoring now, wrong for training on past as-of dates:
  :func:`training_features` leaves them out.
- ``compare_to``: the feature holding the previous period's value, if any.
- ``part_of``: the feature whose factor this one belongs to in an explanation (its
  contribution is added there): three ways of measuring one engagement fall are one
  fact to a reader, worded by the head feature.

``info.phrase(row)`` renders the sentence from a row of feature values (a Series or
dict): ``FEATURE_INFO["engagement_score_14d"].phrase(row) == "engagement 0.32 (was
0.75)"``, ``FEATURE_INFO["sessions_change_30d"].phrase(row) == "sessions down 40 % vs
the previous 30 days"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# value formats
KINDS = (
    "count",  # 3
    "percent",  # a share 0-1 -> "42 %"
    "change",  # a relative change, -0.4 -> "down 40 %", 0.25 -> "up 25 %"
    "points",  # a difference on a scale, -0.4 -> "down 0.40" (decimals: 2)
    "score",  # 0-1 score -> "0.32"
    "rating",  # 1-5 stars -> "4.1"
    "days",  # 12.3 -> "12 days"
    "hours",  # 6.5 -> "6.5 h"
    "minutes",  # 45.2 -> "45 min"
    "currency",  # 1234.5 -> "$1,234"
    "flag",  # 1 -> "yes", 0 -> "no"
    "number",  # 2.46 -> "2.5"
)


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def format_value(kind: str, value: object, decimals: int | None = None) -> str:
    """One value in words for its kind; ``"n/a"`` when missing."""
    if _missing(value):
        return "n/a"
    if kind not in KINDS:
        return str(value)
    v = float(value)  # type: ignore[arg-type]
    if kind == "count":
        return f"{round(v):,}"
    if kind == "percent":
        return f"{round(100 * v)} %"
    if kind == "change":
        pct = round(100 * v)
        if pct == 0:
            return "unchanged"
        return f"{'up' if pct > 0 else 'down'} {abs(pct)} %"
    if kind == "points":
        d = 2 if decimals is None else decimals
        if round(v, d) == 0:
            return "unchanged"
        return f"{'up' if v > 0 else 'down'} {abs(v):.{d}f}"
    if kind == "score":
        return f"{v:.{2 if decimals is None else decimals}f}"
    if kind == "rating":
        return f"{v:.{1 if decimals is None else decimals}f}"
    if kind == "days":
        n = round(v)
        return f"{n} day" if n == 1 else f"{n} days"
    if kind == "hours":
        return f"{v:.1f} h" if abs(v) < 10 else f"{round(v)} h"
    if kind == "minutes":
        return f"{round(v)} min"
    if kind == "currency":
        return f"-${abs(round(v)):,}" if v < 0 else f"${round(v):,}"
    if kind == "flag":
        return "yes" if v >= 0.5 else "no"
    return f"{v:.{1 if decimals is None else decimals}f}"


@dataclass(frozen=True, slots=True)
class FeatureInfo:
    name: str
    label: str
    group: str
    kind: str
    template: str
    direction: int = 0
    missing: str | None = None
    point_in_time: bool = True
    compare_to: str | None = None
    decimals: int | None = None
    part_of: str | None = None

    def format(self, value: object) -> str:
        return format_value(self.kind, value, self.decimals)

    def phrase(self, row: Mapping[str, object]) -> str:
        """The sentence for this feature's value in ``row`` (feature name -> value)."""
        value = row.get(self.name)
        if _missing(value):
            return self.missing or f"{self.label}: no data"
        prev = row.get(self.compare_to) if self.compare_to else None
        plural = "" if not _missing(value) and round(float(value), 6) == 1 else "s"  # type: ignore[arg-type]
        text = self.template.format(value=self.format(value), prev=self.format(prev), s=plural)
        if self.compare_to and _missing(prev) and " (was n/a)" in text:
            text = text.replace(" (was n/a)", "")
        return text


def info(
    name: str,
    label: str,
    group: str,
    kind: str,
    template: str,
    direction: int = 0,
    missing: str | None = None,
    *,
    point_in_time: bool = True,
    compare_to: str | None = None,
    decimals: int | None = None,
    part_of: str | None = None,
) -> FeatureInfo:
    if kind not in KINDS:
        raise ValueError(f"{name}: unknown kind {kind!r}")
    return FeatureInfo(
        name, label, group, kind, template, direction, missing, point_in_time, compare_to,
        decimals, part_of,
    )  # fmt: skip


def training_features(infos: Mapping[str, FeatureInfo]) -> list[str]:
    """The features a model may be trained on: point in time (in column order)."""
    return [name for name, i in infos.items() if i.point_in_time]
