"""The Forecast page's view model: demand forecast vs supply per subject and in total.

:meth:`ForecastViewModel.load` reads every series at once off the GUI thread
(``services.forecasting.forecast_view``: the newest run, recent history, slots, backtest
and past accuracy), so switching subjects (:meth:`select`) is an in-memory lookup on the
GUI thread: no query, no task. The page pulls a series' arrays through
:meth:`series_view`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from viewmodels.tasks import TaskRunner

TASK_NAME = "forecast-page"


class ForecastViewModel(QObject):
    sig_loaded = Signal()
    """A new forecast view arrived (series list and every series' data)."""
    sig_series_changed = Signal(str)
    """The selected series changed (its name)."""
    sig_error = Signal(str)

    def __init__(
        self, runner: TaskRunner, engine: Callable[[], Any], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._engine = engine
        self._view: Any = None
        self._current = ""
        self.loading = False

    # ------------------------------------------------------------------ commands

    @Slot()
    def load(self) -> None:
        """Reload the newest forecast in the background (a reload asked for during a
        reload runs once more when it ends)."""
        from services.forecasting import forecast_view

        engine = self._engine

        def work(_state: Any) -> Any:
            return forecast_view(engine())

        self.loading = True
        self.runner.submit(
            TASK_NAME,
            work,
            title="Forecast",
            on_success=self._on_loaded,
            on_failure=self._on_failed,
            record=False,
            coalesce=True,
        )

    @Slot(str)
    def select(self, name: str) -> None:
        if self._view is None or name not in self._view.series or name == self._current:
            return
        self._current = name
        self.sig_series_changed.emit(name)

    # ------------------------------------------------------------------ reading

    @property
    def current(self) -> str:
        return self._current

    def series_names(self) -> list[str]:
        """Subjects alphabetically, then ``total``."""
        if self._view is None:
            return []
        names = [n for n in self._view.series if n != "total"]
        return sorted(names) + (["total"] if "total" in self._view.series else [])

    def series_label(self, name: str) -> str:
        """What the series box shows: "Computer science", "SAT prep", "All subjects"."""
        if name == "total":
            return "All subjects"
        from services.labels import subject_label  # tiny module; loaded with the page

        return subject_label(name)

    def series_view(self, name: str | None = None) -> Any:
        """The :class:`services.forecasting.SeriesView` of ``name`` (default: current)."""
        if self._view is None:
            return None
        return self._view.series.get(name or self._current)

    def run_summary(self) -> str:
        v = self._view
        if v is None or v.run_id is None:
            return ""
        made = v.created_at.strftime("%Y-%m-%d %H:%M") if v.created_at else "?"
        return f"{v.model_version}, made {made} UTC, 7 days from {v.as_of:%a %d %b %H:%M} UTC"

    @property
    def has_forecast(self) -> bool:
        return self._view is not None and self._view.run_id is not None

    # ------------------------------------------------------------------ results

    def _on_loaded(self, view: Any) -> None:
        self.loading = False
        self._view = view
        names = self.series_names()
        if self._current not in names:
            self._current = "total" if "total" in names else (names[0] if names else "")
        self.sig_loaded.emit()
        if self._current:
            self.sig_series_changed.emit(self._current)

    def _on_failed(self, exc: BaseException, _tb: str) -> None:
        self.loading = False
        self.sig_error.emit(f"The forecast could not load: {exc}")
