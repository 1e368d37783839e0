"""The Qt binding must not leak or steal references to Python's singletons.

PySide6 6.12.0 on Python 3.11 dropped a reference to ``None`` on every property setter
and to ``True``/``False`` on every signal emit; an app that runs all day then aborts
with "Fatal Python error: none_dealloc". pyproject pins below it; this test catches a
binding that brings the bug back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel


class _Emitter(QObject):
    flag = Signal(bool)


def test_setters_and_emits_keep_the_singletons_references(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
    assert abs(sys.getrefcount(None) - before) < 50

    emitter = _Emitter()
    received: list[bool] = []
    emitter.flag.connect(received.append)
    before_true, before_false = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(2000):
        emitter.flag.emit(i % 2 == 0)
    received.clear()
    assert abs(sys.getrefcount(True) - before_true) < 50
    assert abs(sys.getrefcount(False) - before_false) < 50
