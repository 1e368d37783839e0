"""Each rule fires on data made to fire it, and not on the calm tutor/customer next to it."""

from __future__ import annotations

import json

import pytest

from services.alerts import evaluate_alerts, registered_rules
from services.settings import AlertSettings, load_settings
from tests.alerts.conftest import AS_OF, DAY, Market

CALM = 1


def fired(market: Market, rule: str, settings: AlertSettings | None = None) -> dict:
    result = evaluate_alerts(market.engine, settings, rules=[registered_rules()[rule]], now=AS_OF)
    assert result.errors == {}
    return {a.subject_id: a for a in result.new}


def test_every_domain_rule_is_registered() -> None:
    expected = {
        "churn_risk",
        "no_sessions",
        "no_login",
        "low_ratings",
        "poor_first_sessions",
        "first_session_success_drop",
        "high_reschedules",
        "technical_issues",
        "first_session_risk",
        "customer_calls",
        "customer_poor_first_session",
        "customer_idle",
        "customer_lapsed",
        "customer_goal_completed",
        "customer_slow_start",
        "customer_velocity_drop",
    }
    assert expected <= set(registered_rules())


def test_churn_risk_critical_high_and_calm(market: Market) -> None:
    market.tutor(CALM, p30=0.2)
    market.tutor(2, p30=0.74, name="Sarah Chen")
    market.tutor(3, p30=0.55)
    got = fired(market, "churn_risk")
    assert set(got) == {"2", "3"}
    sarah = got["2"]
    assert sarah.severity == "Critical" and got["3"].severity == "High"
    assert sarah.priority > got["3"].priority
    assert sarah.facts["p_churn_30d"] == 0.74
    assert "74 %" in sarah.title and "Sarah Chen" in sarah.title
    assert "sessions down 40 %" in sarah.title  # the top factor in words
    assert "Dana Lopez" in sarah.next_step  # her manager
    assert sarah.manager_id == 1 and sarah.tutor_id == 2


def test_churn_thresholds_come_from_settings(market: Market) -> None:
    market.tutor(2, p30=0.55)
    strict = AlertSettings(churn_high=0.6, churn_critical=0.8)
    assert fired(market, "churn_risk", strict) == {}


def test_no_sessions(market: Market) -> None:
    market.tutor(CALM)
    market.tutor(2, days_since_last_session=16.0)
    market.tutor(3, days_since_last_session=13.9)
    got = fired(market, "no_sessions")
    assert set(got) == {"2"}
    assert got["2"].severity == "Critical" and got["2"].facts["days_since_last_session"] == 16.0


def test_no_login(market: Market) -> None:
    market.tutor(CALM)  # logged in yesterday
    market.tutor(2, login=False)
    market.login(2, AS_OF - 10 * DAY)
    market.tutor(3, login=False)  # never
    market.tutor(4, login=False)
    market.login(4, AS_OF - 6 * DAY)
    got = fired(market, "no_login")
    assert set(got) == {"2", "3"}
    assert got["2"].facts["days_since_last_login"] == 10.0
    assert "never" in got["3"].title


def test_low_ratings(market: Market) -> None:
    market.tutor(CALM)
    for d in (1, 2, 3):
        market.session(CALM, d, rating=5)
    market.tutor(2)
    for d, r in ((1, 3), (2, 3), (3, 4)):
        market.session(2, d, rating=r)
    market.tutor(3)  # low but too few ratings
    market.session(3, 1, rating=1)
    market.session(3, 2, rating=2)
    market.tutor(4)  # low ratings, but outside the 14-day window
    for d in (20, 21, 22):
        market.session(4, d, rating=1)
    got = fired(market, "low_ratings")
    assert set(got) == {"2"}
    assert got["2"].facts["avg_rating"] == round(10 / 3, 2) and got["2"].facts["ratings"] == 3


def test_poor_first_sessions(market: Market) -> None:
    market.tutor(CALM)
    market.session(CALM, 1, first_session=True, rating=4)
    market.session(CALM, 2, first_session=True, rating=3)
    market.tutor(2)
    market.session(2, 1, first_session=True, rating=3)
    market.session(2, 2, first_session=True, rating=2)
    market.session(2, 3, first_session=True, rating=5)
    got = fired(market, "poor_first_sessions")
    assert set(got) == {"2"}
    assert got["2"].facts == {
        "poor_first_sessions": 2,
        "rated_first_sessions": 3,
        "window_days": 14,
    }


def test_first_session_success_drop_week_over_week(market: Market) -> None:
    market.tutor(CALM)
    market.tutor(2)
    # A week ago (days 7-37 before as-of) 4 of 4 were good; in the last week 3 poor.
    for d in (10, 12, 14, 16):
        market.session(CALM, d, first_session=True, rating=5)
        market.session(2, d, first_session=True, rating=5)
    for d in (1, 2, 3):
        market.session(2, d, first_session=True, rating=2)
    market.session(CALM, 2, first_session=True, rating=5)
    got = fired(market, "first_session_success_drop")
    assert set(got) == {"2"}
    f = got["2"].facts
    assert f["success_rate_30d_week_ago"] == 1.0 and f["success_rate_30d"] == round(4 / 7, 3)
    assert f["relative_drop"] > 0.2


def test_high_reschedules(market: Market) -> None:
    market.tutor(CALM)
    market.tutor(2)
    for d in range(1, 11):
        market.session(CALM, d, rescheduled_by="customer" if d < 6 else None)
        market.session(2, d, rescheduled_by="tutor" if d <= 3 else None)
    got = fired(market, "high_reschedules")
    assert set(got) == {"2"}
    assert got["2"].facts["reschedule_rate"] == 0.3 and got["2"].severity == "Medium"


def test_technical_issues(market: Market) -> None:
    market.tutor(CALM)
    market.tutor(2)
    for d in range(1, 5):
        market.session(CALM, d, technical_issue=d == 1)
        market.session(2, d, technical_issue=d <= 3)
    got = fired(market, "technical_issues")
    assert set(got) == {"2"}
    assert got["2"].facts["technical_issues"] == 3


def test_upcoming_first_session_at_risk(market: Market) -> None:
    market.tutor(CALM)
    market.tutor(2, name="Mike Ross")
    market.tutor(3, p30=0.6)  # risky tutor, ordinary session
    market.first_session(501, CALM, p_poor=0.2)
    market.first_session(502, 2, p_poor=0.65)
    market.first_session(503, 3, p_poor=0.2)
    market.first_session(504, 2, p_poor=0.9, hours_ahead=24 * 5)  # beyond the horizon
    market.first_session(505, 2, p_poor=0.9, hours_ahead=-2)  # already started
    got = fired(market, "first_session_risk")
    assert set(got) == {"502", "503"}
    mike = got["502"]
    assert mike.severity == "High" and mike.subject_type == "session" and mike.tutor_id == 2
    assert "65 %" in mike.title and "prep email" in mike.next_step
    assert got["503"].severity == "Medium"


def test_customer_calls(market: Market) -> None:
    market.customer(CALM, calls_14d=1)
    market.customer(2, calls_14d=2)
    got = fired(market, "customer_calls")
    assert set(got) == {"2"} and got["2"].severity == "Critical"


def test_customer_poor_first_session(market: Market) -> None:
    market.customer(CALM, first_session_rating=3, tenure_days=20)
    market.customer(2, first_session_rating=2, tenure_days=20)
    market.customer(3, first_session_rating=1, tenure_days=120)  # long ago: never clears
    got = fired(market, "customer_poor_first_session")
    assert set(got) == {"2"} and got["2"].severity == "High"
    assert got["2"].facts["first_session_rating"] == 2.0


def test_customer_idle_then_lapsed(market: Market) -> None:
    market.customer(CALM)
    market.customer(2, days_since_last_session=15, sessions_30d=1, sessions_prev_30d=4)
    market.customer(3, days_since_last_session=15, sessions_30d=1, sessions_prev_30d=0)
    market.customer(4, days_since_last_session=25)
    assert set(fired(market, "customer_idle")) == {"2"}
    lapsed = fired(market, "customer_lapsed")
    assert set(lapsed) == {"4"} and lapsed["4"].severity == "High"


def test_customer_lapsed_fires_only_while_the_lapse_is_recent(market: Market) -> None:
    # The flag is about the transition (lapsed within customer_lapsed_window_days), not
    # every customer who ever stopped: on the demo sandbox the state-based rule held
    # ~1,800 flags of customers gone for up to three years.
    market.customer(CALM)
    market.customer(2, days_since_last_session=21.5)  # just lapsed
    market.customer(3, days_since_last_session=34.5)  # last day of the window
    market.customer(4, days_since_last_session=35.5)  # lapsed 14.5 days ago: too late
    market.customer(5, days_since_last_session=400.0)  # long gone
    # Lapsed recently but never a regular (one session in the 60 days before).
    market.customer(6, days_since_last_session=25, sessions_30d=0, sessions_prev_30d=1)
    got = fired(market, "customer_lapsed")
    assert set(got) == {"2", "3"}
    assert got["2"].priority < got["3"].priority  # further into the lapse, more urgent
    assert AlertSettings().customer_lapsed_window_days == 14  # the days above assume it


def test_customer_lapsed_window_is_a_setting(market: Market) -> None:
    market.customer(2, days_since_last_session=24)  # lapsed 3 days ago
    market.customer(3, days_since_last_session=30)  # lapsed 9 days ago
    market.customer(4, days_since_last_session=45)  # lapsed 24 days ago
    # Each evaluation adds only what is not open yet: widening the window adds the
    # customers further into their lapse.
    short = fired(market, "customer_lapsed", AlertSettings(customer_lapsed_window_days=5))
    assert set(short) == {"2"}
    assert set(fired(market, "customer_lapsed")) == {"3"}  # the default 14 days
    long = fired(market, "customer_lapsed", AlertSettings(customer_lapsed_window_days=30))
    assert set(long) == {"4"}
    # Priority climbs from 55 to 75 through the window, whatever its length: 3 days into
    # a 5-day window is 3/5 of the way (with 14 days it would be 59).
    assert short["2"].priority == 67 and long["4"].priority == pytest.approx(71, abs=1)


def test_customer_lapsed_window_follows_the_lapsed_days_setting(market: Market) -> None:
    market.customer(2, days_since_last_session=32)
    market.customer(3, days_since_last_session=45)
    settings = AlertSettings(customer_lapsed_days=30)  # window 30-44 days
    assert set(fired(market, "customer_lapsed", settings)) == {"2"}


def test_customer_goal_completed(market: Market) -> None:
    market.customer(CALM)
    market.customer(2, goal="completed")
    market.customer(3, goal="completed", changed=AS_OF - 60 * DAY)  # long done: not news
    market.customer(4, goal="completed", status="paused")  # not booking: a win-back
    market.customer(5, goal="completed", days_since_last_session=25)  # lapsed since
    got = fired(market, "customer_goal_completed")
    assert set(got) == {"2"} and got["2"].severity == "Low"


def test_customer_slow_start(market: Market) -> None:
    market.customer(CALM, tenure_days=9, sessions_30d=3)
    market.customer(2, tenure_days=9, sessions_30d=1)
    market.customer(3, tenure_days=5, sessions_30d=0)  # too early to nudge
    assert set(fired(market, "customer_slow_start")) == {"2"}


def test_customer_velocity_halved(market: Market) -> None:
    market.customer(CALM, sessions_30d=5, sessions_prev_30d=6)
    market.customer(2, sessions_30d=3, sessions_prev_30d=8)
    # Halved because they stopped: the idle alert covers the same lapse.
    market.customer(3, sessions_30d=3, sessions_prev_30d=8, days_since_last_session=16)
    got = fired(market, "customer_velocity_drop")
    assert set(got) == {"2"} and got["2"].facts["drop"] == 0.625


def test_a_settings_file_from_before_the_lapse_window_setting_loads(tmp_path) -> None:
    # Written before customer_lapsed_window_days existed: the window takes its default
    # (the 14 days the rule used as a constant) and the other thresholds are kept.
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"alerts": {"customer_lapsed_days": 28}}), encoding="utf-8")
    alerts = load_settings(path).alerts
    assert (alerts.customer_lapsed_days, alerts.customer_lapsed_window_days) == (28, 14)
