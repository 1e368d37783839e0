"""What the Customers page's Velocity and Churn tabs share: a load on the task runner
(coalesced, only when first shown or refreshed), and a CSV export of any of their tables
exactly as shown (``services.export``, on a worker).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QObject, Qt, Signal, Slot

from viewmodels.loading import LoadingViewModel
from viewmodels.tasks import TaskRunner


def pct(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{x * 100:.{digits}f} %"


def shown_rows(model: QAbstractItemModel) -> tuple[list[str], list[list[str]]]:
    """The header and every row's display texts, in the order the view shows them."""
    header = [
        str(model.headerData(c, Qt.Orientation.Horizontal) or "")
        for c in range(model.columnCount())
    ]
    rows = [
        [str(model.index(r, c).data() or "") for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]
    return header, rows


class CustomerTabViewModel(LoadingViewModel):
    """Base of the two tabs' view models: ``load`` runs ``load_fn`` on a worker and hands
    the result to :meth:`_apply` on the GUI thread."""

    sig_loaded = Signal(object)
    """The service's result (CustomerVelocity or CustomerChurnView)."""
    sig_error = Signal(str)
    sig_message = Signal(str)

    task_name = "customers-tab"
    title = "Customers tab"

    def __init__(
        self, runner: TaskRunner, *, load: Callable[[], Any], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._load = load
        self.result: Any = None
        self._stale = False

    @property
    def loaded(self) -> bool:
        return self.result is not None

    @Slot()
    def load(self) -> None:
        load = self._load
        self._set_loading(True)
        self.runner.submit(
            self.task_name,
            lambda _state: load(),
            title=self.title,
            on_success=self._on_loaded,
            on_failure=self._on_failed,
            record=False,
            coalesce=True,
        )

    def ensure_loaded(self) -> None:
        """Load the first time the tab is shown, and again when shown after the data
        changed (:meth:`invalidate`); otherwise keep what is drawn."""
        if (self.result is None or self._stale) and not self.loading:
            self.load()

    def invalidate(self) -> None:
        """The data changed (a sync or scoring run): reload when next shown."""
        self._stale = True

    def _on_loaded(self, result: Any) -> None:
        self.result = result
        self._stale = False
        self._apply(result)
        self._set_loading(False)
        self.sig_loaded.emit(result)

    def _on_failed(self, exc: BaseException, _trace: str) -> None:
        self._set_loading(False)
        self.sig_error.emit(f"{self.title} could not load: {exc}")

    def _apply(self, result: Any) -> None:
        raise NotImplementedError

    def export_table(self, model: QAbstractItemModel, path: str, what: str) -> bool:
        """Write ``model``'s rows as shown to ``path`` (CSV) on a worker."""
        return export_shown(
            self.runner, model, path, what, self.sig_message.emit, self.sig_error.emit
        )


def export_shown(
    runner: TaskRunner,
    model: QAbstractItemModel,
    path: str,
    what: str,
    on_message: Callable[[str], None],
    on_error: Callable[[str], None],
) -> bool:
    """A small table's rows as shown (texts read now, on the GUI thread: a few hundred
    rows at most), written by ``services.export`` on a worker."""
    from services.export import write_csv

    header, rows = shown_rows(model)

    def work(_state: Any) -> int:
        return write_csv(path, header, rows)

    rec = runner.submit(
        f"export:{path}",
        work,
        title=f"Export {what} to CSV",
        trigger="user",
        on_success=lambda n: on_message(f"Exported {n:,} rows of {what} to {path}"),
        on_failure=lambda exc, _t: on_error(f"Export failed: {exc}"),
    )
    return rec is not None
