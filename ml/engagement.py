"""The tutor engagement score (0-1), shared by the simulator's ground truth and the models.

Engagement is what a tutor does on the platform besides teaching: logging in and
answering messages. Over a window of days it is

    0.6 * (share of days with a login) + 0.4 * exp(-median reply minutes / 120)

so a tutor who logs in every day and answers within minutes scores near 1, and one seen
on a third of days who takes two hours to reply scores about 0.3. With no replies in the
window the login share stands for both parts (silence is not penalised twice).
"""

from __future__ import annotations

import math

import numpy as np

LOGIN_WEIGHT = 0.6
REPLY_WEIGHT = 0.4
REPLY_SCALE_MINUTES = 120.0


def reply_score(median_reply_minutes: float) -> float:
    """exp(-m/120): 1 for instant replies, 0.37 at two hours, 0.05 at six."""
    return math.exp(-max(median_reply_minutes, 0.0) / REPLY_SCALE_MINUTES)


def engagement_score(login_days: int, window_days: int, reply_minutes: np.ndarray | None) -> float:
    """Engagement over a window from its login days and the reply times inside it."""
    if window_days <= 0:
        raise ValueError("window_days must be positive")
    login_share = min(max(login_days, 0), window_days) / window_days
    if reply_minutes is None or len(reply_minutes) == 0:
        return login_share
    return LOGIN_WEIGHT * login_share + REPLY_WEIGHT * reply_score(float(np.median(reply_minutes)))


def reply_minutes_for(level: float) -> float:
    """The median reply time at which the reply part of the score equals ``level``."""
    level = min(max(level, 1e-3), 1.0)
    return -REPLY_SCALE_MINUTES * math.log(level)
