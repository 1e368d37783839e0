"""Per-prediction contributions turned into the top factors, in plain words.

    factors = top_factors(model.contributions(X), X, FEATURE_INFO, risk_sign=-1)

``contributions`` is one column per feature (plus an optional ``bias`` column, ignored)
on the model's own scale: the churn model's margin in ln-days (negative = sooner churn,
so ``risk_sign=-1``), the first-session model's log-odds of a poor rating
(``risk_sign=+1``). The result is a long frame, at most ``k`` rows per input row, best
first:

    row  rank  feature               value  contribution  direction     text
    415  1     engagement_score_14d  0.32   0.61          raises risk   engagement 0.32 (was 0.75)

``contribution`` is risk-signed (positive raises the risk) and ``text`` comes from the
feature's :class:`~ml.features.info.FeatureInfo` (``phrase``), so the value behind the
factor is in the sentence. A feature and the previous-period feature it is compared with
(``compare_to``) make one factor: their contributions add up, and the sentence already
names both values. A feature without info gets a readable label from its name
(``sessions_change_30d`` -> "sessions change 30d: -0.4"), never "f17".

Vectorised: the top-k selection is one ``argpartition`` over the whole matrix; only the
chosen cells are put into words (memoised on (feature, value, previous value)), so
50,000 rows take a fraction of a second.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

RAISES = "raises risk"
LOWERS = "lowers risk"
COLUMNS = ["row", "rank", "feature", "label", "value", "contribution", "direction", "text"]


def readable_label(name: str) -> str:
    """``sessions_change_30d`` -> ``sessions change 30d``; ``f17`` stays ``feature 17``."""
    text = re.sub(r"[_\s]+", " ", str(name)).strip()
    if re.fullmatch(r"f\d+", text):
        return f"feature {text[1:]}"
    return text or "unnamed feature"


def _fallback_text(label: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{label}: no data"
    v = float(value)
    if v == round(v) and abs(v) < 1e9:
        return f"{label}: {round(v):,}"
    return f"{label}: {v:.2f}"


def _groups(features: list[str], info: Mapping[str, object]) -> tuple[list[str], np.ndarray]:
    """Heads (features standing for a factor) and the feature -> head matrix."""
    index = {f: i for i, f in enumerate(features)}
    head_of = list(range(len(features)))
    for f, i in index.items():
        partner = getattr(info.get(f), "compare_to", None)
        if partner in index and getattr(info.get(partner), "compare_to", None) != f:
            head_of[index[partner]] = i
    for f, i in index.items():
        whole = getattr(info.get(f), "part_of", None)
        if whole in index:
            head_of[i] = head_of[index[whole]]
    heads = sorted(set(head_of))
    col = {h: j for j, h in enumerate(heads)}
    g = np.zeros((len(features), len(heads)))
    for i, h in enumerate(head_of):
        g[i, col[h]] = 1.0
    return [features[h] for h in heads], g


def top_factors(
    contributions: pd.DataFrame,
    values: pd.DataFrame,
    info: Mapping[str, object] | None = None,
    *,
    k: int = 3,
    risk_sign: float = -1.0,
    min_abs: float = 1e-3,
) -> pd.DataFrame:
    """The ``k`` largest risk-signed contributions per row, in words (see module doc).

    ``values`` holds the feature values (same index; it may have more columns, e.g. the
    ``compare_to`` features). Rows whose contributions are all below ``min_abs`` get no
    factor.
    """
    info = info or {}
    features = [c for c in contributions.columns if c != "bias"]
    if len(contributions) == 0 or not features:
        return pd.DataFrame(columns=COLUMNS)
    c = contributions[features].to_numpy(dtype=float) * float(risk_sign)
    heads, g = _groups(features, info)
    r = np.nan_to_num(c @ g)  # n x factors, risk-signed
    kk = min(k, r.shape[1])
    mag = np.abs(r)
    if kk < r.shape[1]:
        top = np.argpartition(-mag, kk - 1, axis=1)[:, :kk]
    else:
        top = np.tile(np.arange(r.shape[1]), (len(r), 1))
    rows_idx = np.arange(len(r))[:, None]
    order = np.argsort(-mag[rows_idx, top], axis=1, kind="stable")
    top = top[rows_idx, order]
    picked = mag[rows_idx, top] >= min_abs
    ri, rank0 = np.nonzero(picked)
    fi = top[ri, rank0]
    contrib = r[ri, fi]
    head_names = np.array(heads, dtype=object)[fi]

    # values behind each factor (and the previous-period value for the sentence)
    def column(name: str | None) -> np.ndarray | None:
        if not name or name not in values:
            return None
        return pd.to_numeric(values[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    partners = {h: getattr(info.get(h), "compare_to", None) for h in set(head_names)}
    value_cols = {h: column(h) for h in partners}
    prev_cols = {h: column(p) for h, p in partners.items()}
    # categories (subject, weekday ...) are shown as they are: "subject: spanish"
    text_cols = {
        h: values[h].to_numpy(dtype=object)
        for h in partners
        if h in values and not pd.api.types.is_numeric_dtype(values[h])
    }
    texts, labels, vals = [], [], np.full(len(ri), np.nan)
    cache: dict[tuple, tuple[str, str]] = {}
    for n, (row, name) in enumerate(zip(ri, head_names, strict=True)):
        if name in text_cols:
            label = readable_label(name)
            raw = text_cols[name][row]
            shown = "unknown" if raw is None or (isinstance(raw, float) and raw != raw) else raw
            texts.append(f"{label}: {shown}")
            labels.append(label)
            continue
        col = value_cols[name]
        v = float(col[row]) if col is not None else float("nan")
        vals[n] = v
        fi_info = info.get(name)
        partner = partners[name]
        pcol = prev_cols[name]
        prev = float(pcol[row]) if pcol is not None else float("nan")
        key = (name, None if v != v else v, None if prev != prev else prev)
        hit = cache.get(key)
        if hit is None:
            if fi_info is not None and hasattr(fi_info, "phrase"):
                # the info may be a feature's under another column name
                mapping = {name: v, getattr(fi_info, "name", name): v}
                if partner:
                    mapping[partner] = prev
                hit = (fi_info.phrase(mapping), fi_info.label)
            else:
                label = readable_label(name)
                hit = (_fallback_text(label, v), label)
            cache[key] = hit
        texts.append(hit[0])
        labels.append(hit[1])
    return pd.DataFrame(
        {
            "row": contributions.index.to_numpy()[ri],
            "rank": rank0 + 1,
            "feature": head_names,
            "label": labels,
            "value": vals,
            "contribution": contrib,
            "direction": np.where(contrib > 0, RAISES, LOWERS),
            "text": texts,
        },
        columns=COLUMNS,
    )


def factor_sentences(factors: pd.DataFrame) -> pd.Series:
    """One line per input row: ``"engagement 0.32 (was 0.75) (raises risk); ..."``."""
    if factors.empty:
        return pd.Series(dtype=object)
    line = factors["text"] + " (" + factors["direction"] + ")"
    return line.groupby(factors["row"], sort=False).agg("; ".join)
