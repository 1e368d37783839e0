"""The tutor's own performance report as HTML (the demo's "tutor portal", sent by the
manager): tier badge, the metrics that make it, first-session success, trends, goals for
the next tier and suggestions from the weakest parts.

It is written *for the tutor*: no churn probability, no risk tier, no model factors
(those are the manager's working tools, not something to mail to a person). Qt-free:
``viewmodels.report_pdf`` lays this HTML out with QTextDocument and writes the PDF, with
the activity chart as the image named :data:`CHART_NAME`.
"""

from __future__ import annotations

from datetime import timedelta, tzinfo
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # services.tutors imports SQLAlchemy; only its type is needed here
    from services.tutors import TutorBundle


CHART_NAME = "activity-chart.png"
# In the document's units: an A4 page with 16 mm margins lays out about 500 of them
# across (Qt maps the page at 72 per inch), so the chart fits with room to spare.
CHART_WIDTH = 470
TIER_COLORS = {
    "Platinum": "#0e7490",
    "Gold": "#b45309",
    "Silver": "#64748b",
    "Bronze": "#9a3412",
}


def _mean(values: Any) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def trends(bundle: TutorBundle, weeks: int = 4) -> list[tuple[str, str, str]]:
    """(what, last ``weeks`` weeks, the ``weeks`` before) for the report's trend table."""
    w = bundle.weekly

    hired = bundle.tutor.get("hired_at")
    # Weeks that ended before the tutor was hired are not "zero sessions".
    employed = [hired is None or start + timedelta(days=7) > hired for start in w.week_starts]

    def per_week(series: tuple[int, ...]) -> tuple[str, str]:
        out = []
        for lo, hi in ((-weeks, None), (-2 * weeks, -weeks)):
            vals = [v for v, e in zip(series[lo:hi], employed[lo:hi], strict=True) if e]
            out.append(f"{sum(vals) / len(vals):.1f}" if vals else "–")
        return out[0], out[1]

    def avg(series: tuple[float | None, ...], fmt: str) -> tuple[str, str]:
        now, before = _mean(series[-weeks:]), _mean(series[-2 * weeks : -weeks])
        return (
            "–" if now is None else fmt.format(now),
            "–" if before is None else fmt.format(before),
        )

    fs_now = sum(
        round(s * n)
        for s, n in zip(w.first_session_success[-weeks:], w.first_sessions[-weeks:], strict=True)
        if s is not None
    )
    fs_n = sum(w.first_sessions[-weeks:])
    fs_before = sum(
        round(s * n)
        for s, n in zip(
            w.first_session_success[-2 * weeks : -weeks],
            w.first_sessions[-2 * weeks : -weeks],
            strict=True,
        )
        if s is not None
    )
    fs_bn = sum(w.first_sessions[-2 * weeks : -weeks])
    return [
        ("Sessions per week", *per_week(w.sessions)),
        ("Average rating", *avg(w.avg_rating, "{:.2f}")),
        (
            "First sessions rated 4+",
            f"{fs_now} of {fs_n}" if fs_n else "–",
            f"{fs_before} of {fs_bn}" if fs_bn else "–",
        ),
        ("Reschedules by you per week", *per_week(w.reschedules)),
        ("Logins per week", *per_week(w.logins)),
    ]


def report_html(bundle: TutorBundle, *, tz: tzinfo | None = None, chart: bool = True) -> str:
    """The whole report as one HTML document (QTextDocument's subset of HTML/CSS)."""
    t = bundle.tutor
    name = escape(t["name"])
    when = bundle.as_of.astimezone(tz).strftime("%d %B %Y")
    tier = bundle.tier
    parts = []
    parts.append(
        f"<h1 style='margin-bottom:0'>Your performance report</h1>"
        f"<p style='color:#475569;margin-top:2px'>{name} · "
        f"{escape(', '.join(s.replace('_', ' ') for s in t['subjects']) or 'no subjects yet')} · "
        f"as of {when}</p>"
    )
    if tier is None:
        parts.append(
            "<p><b>No performance data yet.</b> Your tier, metrics and suggestions appear "
            "here after your first sessions have been rated and scored.</p>"
        )
        return _wrap(parts)
    color = TIER_COLORS.get(tier.tier, "#334155")
    next_text = (
        f"{tier.points_needed:.1f} points to {tier.next_tier}" if tier.next_tier else "the top tier"
    )
    parts.append(
        "<table cellpadding='10' cellspacing='0' style='margin-top:8px'><tr>"
        f"<td style='background:{color};color:white;font-size:20pt;font-weight:bold'>"
        f"&nbsp;{escape(tier.tier.upper())}&nbsp;</td>"
        f"<td style='font-size:13pt'>Performance score <b>{tier.score:.1f}</b> / 100"
        f"<br/><span style='color:#475569'>{escape(next_text)}</span></td>"
        "</tr></table>"
    )
    parts.append("<h2>What makes your tier</h2>")
    rows = "".join(
        f"<tr><td>{escape(p.label)}</td><td align='right'>{escape(p.value_text)}</td>"
        f"<td align='right'>{p.points:.1f} of {p.weight:.0f}</td></tr>"
        for p in tier.parts
    )
    parts.append(
        "<table cellpadding='5' cellspacing='0' border='1' style='border-color:#cbd5e1;"
        "border-collapse:collapse' width='100%'>"
        "<tr style='background:#f1f5f9'><th align='left'>Part</th><th align='right'>Your value"
        "</th><th align='right'>Points</th></tr>"
        f"{rows}"
        f"<tr><td><b>Total</b></td><td></td><td align='right'><b>{tier.score:.1f} of 100</b>"
        "</td></tr></table>"
    )
    fs = next((p for p in tier.parts if p.key == "first_session"), None)
    if fs is not None:
        parts.append(
            f"<p><b>First-session success:</b> {escape(fs.value_text)}. A first session "
            "counts as a success when the student rates it 4 or 5.</p>"
        )
    parts.append("<h2>Trends</h2>")
    trend_rows = "".join(
        f"<tr><td>{escape(a)}</td><td align='right'>{escape(b)}</td>"
        f"<td align='right'>{escape(c)}</td></tr>"
        for a, b, c in trends(bundle)
    )
    parts.append(
        "<table cellpadding='5' cellspacing='0' border='1' style='border-color:#cbd5e1;"
        "border-collapse:collapse' width='100%'>"
        "<tr style='background:#f1f5f9'><th align='left'></th><th align='right'>Last 4 weeks"
        "</th><th align='right'>4 weeks before</th></tr>"
        f"{trend_rows}</table>"
    )
    if chart:
        parts.append(
            f"<p><img src='{CHART_NAME}' width='{CHART_WIDTH}'/><br/><span style='color:#475569'>"
            "Completed sessions per week (bars) and average rating (line), last 26 weeks"
            "</span></p>"
        )
    parts.append("<h2>Your goals</h2><ul>")
    parts += [f"<li>{escape(g)}</li>" for g in tier.goals]
    parts.append("</ul><h2>How to get there</h2><ol>")
    parts += [f"<li>{escape(s)}</li>" for s in tier.suggestions]
    parts.append("</ol>")
    parts.append(
        "<p style='color:#64748b'>Tiers: Platinum 85+, Gold 70+, Silver 55+, Bronze below. "
        "Score = average rating 35 %, first-session success 25 %, reliability 25 %, "
        "engagement 15 %.</p>"
    )
    return _wrap(parts)


def _wrap(parts: list[str]) -> str:
    return (
        "<html><head><meta charset='utf-8'/></head>"
        "<body style='font-family: sans-serif; font-size: 10.5pt; color: #1f2933'>"
        + "".join(parts)
        + "</body></html>"
    )
