"""Issue 5: the queue's countdown is green, amber in the last 25 %, red (bold) when
overdue. services/sla is tested for the states (tests/unit/test_sla.py); this checks the
queue's delegate really paints them in the theme's colours."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QStyleOptionViewItem

from ui.pages.interventions import SlaDelegate
from ui.theme import LIGHT
from viewmodels.interventions import SLA_ROLE


def _painted(state: str, text: str) -> QStyleOptionViewItem:
    """The style option the queue's delegate prepares for a cell of SLA ``state``."""
    model = QStandardItemModel(1, 1)
    item = QStandardItem(text)
    item.setData(state, SLA_ROLE)
    model.setItem(0, 0, item)
    option = QStyleOptionViewItem()
    SlaDelegate().initStyleOption(option, model.index(0, 0))
    return option


@pytest.mark.parametrize(
    ("state", "status", "bold"),
    [("on_track", "green", False), ("due_soon", "yellow", False), ("overdue", "red", True)],
)
def test_the_queue_paints_the_sla_state_in_its_colour(qtbot, state, status, bold):
    option = _painted(state, "in 3 h")
    assert option.palette.color(option.palette.ColorRole.Text) == QColor(LIGHT.status_color(status))
    assert option.font.bold() is bold


def test_a_paused_sla_is_italic_and_not_coloured(qtbot):
    option = _painted("paused", "paused")
    assert option.font.italic()
    assert option.palette.color(option.palette.ColorRole.Text) != QColor(LIGHT.red)
