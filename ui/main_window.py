"""The main window: sidebar navigation, pages, header with search, status bar.

Shortcuts: Ctrl+1..8 pages, Ctrl+F search (the standard Find key), F5 sync now, the
standard Preferences and Quit keys (plus Ctrl+, for Preferences where the platform has
none). Geometry, window state, the last page and every table's column layout persist
in QSettings. Closing the window hides it to the tray when there is one; Quit (menu,
tray, Ctrl+Q) really quits.
"""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QFont,
    QGuiApplication,
    QKeySequence,
    QPainter,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.pages.alerts import AlertsPage
from ui.pages.customers import CustomersPage
from ui.pages.dashboard import DashboardPage
from ui.pages.forecast import ForecastPage
from ui.pages.interventions import InterventionsPage
from ui.pages.recommendations import RecommendationsPage
from ui.pages.simple import PlaceholderPage
from ui.pages.system import SystemPage
from ui.pages.tutors import TutorsPage
from ui.theme import Theme, ThemeManager, icon
from viewmodels.notifications import (
    BODY_ROLE,
    KEY_ROLE,
    READ_ROLE,
    SEVERITY_ROLE,
    TIME_ROLE,
    TITLE_ROLE,
    NotificationCenter,
)
from viewmodels.shell import PAGE_TITLES, PAGES, ShellViewModel
from viewmodels.sync_status import STATUS_ROLE, ResourceStatusModel

STATUS_COLORS = {
    "ok": "#16a34a",
    "running": "#2563eb",
    "failed": "#dc2626",
    "auth_failed": "#dc2626",
    "cancelled": "#d97706",
    "never": "#94a3b8",
    "idle": "#94a3b8",
}


def standard_keys(key: QKeySequence.StandardKey, fallback: str) -> list[QKeySequence]:
    """The platform's keys for ``key``, plus ``fallback`` where it has none or differs."""
    keys = [k for k in QKeySequence.keyBindings(key) if not k.isEmpty()]
    if QKeySequence(fallback) not in keys:
        keys.append(QKeySequence(fallback))
    return keys


class ResourceDots(QWidget):
    """One dot per resource in the status bar, coloured by its sync state."""

    def __init__(self, model: ResourceStatusModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setFixedSize(QSize(12 * max(model.rowCount(), 1) + 4, 16))
        model.dataChanged.connect(self._changed)
        model.modelReset.connect(self._changed)
        self._changed()

    def _changed(self, *_: Any) -> None:
        lines = []
        for r in range(self.model.rowCount()):
            name = self.model.index(r, 0).data()
            status = self.model.index(r, 0).data(STATUS_ROLE)
            rows = self.model.index(r, 2).data()
            last = self.model.index(r, 5).data()
            lines.append(f"{name}: {status}, {rows} rows, last success {last}")
        self.setToolTip("\n".join(lines))
        self.update()

    def statuses(self) -> list[str]:
        return [self.model.index(r, 0).data(STATUS_ROLE) for r in range(self.model.rowCount())]

    def paintEvent(self, _event: Any) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        for i, status in enumerate(self.statuses()):
            p.setBrush(QColor(STATUS_COLORS.get(status, "#94a3b8")))
            p.drawEllipse(2 + i * 12, 4, 8, 8)
        p.end()


class InboxDelegate(QStyledItemDelegate):
    """Severity bar, bold title while unread, the body in muted text, the time."""

    SEVERITY: ClassVar[dict[str, str]] = {
        "critical": "#dc2626",
        "high": "#ea580c",
        "medium": "#ca8a04",
    }

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        painter.save()
        r = option.rect
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(r, option.palette.highlight())
            text_color = option.palette.highlightedText().color()
            muted = text_color
        else:
            text_color = option.palette.text().color()
            muted = option.palette.placeholderText().color()
        color = QColor(self.SEVERITY.get(str(index.data(SEVERITY_ROLE)), "#94a3b8"))
        painter.fillRect(r.x() + 2, r.y() + 4, 4, r.height() - 8, color)
        unread = not index.data(READ_ROLE)
        title_font = QFont(option.font)
        title_font.setBold(unread)
        when = index.data(TIME_ROLE)
        stamp = when.astimezone().strftime("%a %H:%M") if when is not None else ""
        painter.setFont(option.font)
        painter.setPen(muted)
        body_rect = r.adjusted(14, 4, -8, -4)
        painter.drawText(body_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, stamp)
        painter.setFont(title_font)
        painter.setPen(text_color)
        stamp_w = painter.fontMetrics().horizontalAdvance(stamp) + 16
        painter.drawText(
            body_rect.adjusted(0, 0, -stamp_w, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
            painter.fontMetrics().elidedText(
                str(index.data(TITLE_ROLE)),
                Qt.TextElideMode.ElideRight,
                body_rect.width() - stamp_w,
            ),
        )
        painter.setFont(option.font)
        painter.setPen(muted)
        line = painter.fontMetrics().height() + 2
        painter.drawText(
            body_rect.adjusted(0, line, 0, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
            str(index.data(BODY_ROLE)),
        )
        painter.setPen(option.palette.mid().color())
        painter.drawLine(r.bottomLeft(), r.bottomRight())
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:
        fm = option.fontMetrics
        view = self.parent()
        viewport = view.viewport().width() if view is not None else 0
        width = max(200, viewport - 30) if viewport > 0 else 420
        body = fm.boundingRect(
            0, 0, width, 1000, int(Qt.TextFlag.TextWordWrap), str(index.data(BODY_ROLE))
        )
        return QSize(width, fm.height() + body.height() + 14)


class InboxDialog(QDialog):
    """The in-app notification inbox (exists whether or not there is a tray)."""

    def __init__(self, center: NotificationCenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Notifications")
        self.resize(460, 420)
        self.center = center
        self.list = QListView()
        self.list.setModel(center.inbox)
        self.list.setItemDelegate(InboxDelegate(self.list))
        self.list.setUniformItemSizes(False)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.activated.connect(self._open)
        self.empty = QLabel("No notifications yet. Critical alerts and SLA breaches land here.")
        self.empty.setObjectName("muted")
        self.empty.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.mark_all = buttons.addButton("Mark all read", QDialogButtonBox.ButtonRole.ActionRole)
        self.mark_all.clicked.connect(center.mark_all_read)
        buttons.addButton(QDialogButtonBox.StandardButton.Close).clicked.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.empty)
        lay.addWidget(self.list, 1)
        lay.addWidget(buttons)
        center.inbox.rowsInserted.connect(self._update_empty)
        center.inbox.modelReset.connect(self._update_empty)
        self._update_empty()

    def _update_empty(self, *_: Any) -> None:
        self.empty.setVisible(self.center.inbox.rowCount() == 0)

    def _open(self, index: Any) -> None:
        key = index.data(KEY_ROLE)
        if key:
            self.center.open_item(str(key))


class MainWindow(QMainWindow):
    sig_quit_requested = Signal()

    def __init__(
        self,
        shell: ShellViewModel,
        theme: ThemeManager,
        ui_settings: QSettings,
        *,
        source_label: str,
        sandbox: bool,
        data_dir: str,
        log_file: str,
    ) -> None:
        super().__init__()
        self.shell = shell
        self.vm = shell.sync  # the sync view model, for callers of the first window
        self.theme = theme
        self.ui_settings = ui_settings
        self.tray: Any = None
        # What ends the application; tests replace it.
        self.on_quit = QApplication.quit
        self._quitting = False
        self._hidden_notice_shown = False
        self.setWindowTitle("TutorMax Desktop")
        self.setWindowIcon(icon("app"))
        self.setMinimumSize(900, 600)
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        if avail is not None and avail.width() > 0:
            self.resize(min(1280, avail.width()), min(820, avail.height()))
        else:
            self.resize(1280, 820)

        # --- sidebar
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setIconSize(QSize(18, 18))
        self.nav.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for i, name in enumerate(PAGES):
            item = QListWidgetItem(PAGE_TITLES[name])
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(f"{PAGE_TITLES[name]} (Ctrl+{i + 1})")
            self.nav.addItem(item)
        app_name = QLabel("TutorMax")
        app_name.setObjectName("appName")
        sidebar = QWidget()
        sidebar.setObjectName("sidebar")
        sidebar.setFixedWidth(216)
        sl = QVBoxLayout(sidebar)
        sl.setContentsMargins(0, 0, 0, 8)
        sl.addWidget(app_name)
        sl.addWidget(self.nav, 1)
        self.nav.currentRowChanged.connect(shell.set_page)

        # --- header
        self.page_title = QLabel("Dashboard")
        self.page_title.setObjectName("pageTitle")
        self.sandbox_badge = QLabel("Sandbox data")
        self.sandbox_badge.setObjectName("sandboxBadge")
        self.sandbox_badge.setToolTip(f"Data source: {source_label}")
        self.sandbox_badge.setVisible(sandbox)
        self.offline_badge = QLabel("Offline")
        self.offline_badge.setObjectName("offlineBadge")
        self.offline_badge.setVisible(False)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search this page  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setFixedWidth(300)
        self.search.textChanged.connect(self._on_search)
        self.search.returnPressed.connect(self._on_search_enter)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 4)
        header.addWidget(self.page_title)
        header.addWidget(self.sandbox_badge)
        header.addWidget(self.offline_badge)
        header.addStretch(1)
        header.addWidget(self.search)

        # --- pages
        self.dashboard_page = DashboardPage(shell.dashboard)
        self.interventions_page = InterventionsPage(shell.interventions)
        self.alerts_page = AlertsPage(shell.alerts, store=ui_settings)
        self.tutors_page = TutorsPage(shell.tutors, shell.tutor_profile)
        self.forecast_page = ForecastPage(shell.forecast)
        self.recommendations_page = RecommendationsPage(shell.recommendations)
        self.customers_page = CustomersPage(shell.customers, shell.customer_detail)
        # A double-click on a Critical tutor opens the profile.
        self.dashboard_page.critical_table.doubleClicked.connect(
            lambda index: self._open_tutor_at(index)
        )
        self.system_page = SystemPage(
            shell.system,
            shell.sync,
            shell.runner,
            shell.scheduler,
            data_dir=data_dir,
            log_file=log_file,
            source_label=source_label,
        )
        self.pages: dict[str, QWidget] = {}
        self.stack = QStackedWidget()
        for name in PAGES:
            if name == "dashboard":
                page: QWidget = self.dashboard_page
            elif name == "interventions":
                page = self.interventions_page
            elif name == "alerts":
                page = self.alerts_page
            elif name == "tutors":
                page = self.tutors_page
            elif name == "forecast":
                page = self.forecast_page
            elif name == "recommendations":
                page = self.recommendations_page
            elif name == "customers":
                page = self.customers_page
            elif name == "system":
                page = self.system_page
            else:
                page = PlaceholderPage(name)
            self.pages[name] = page
            self.stack.addWidget(page)

        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(20, 14, 20, 10)
        cl.addLayout(header)
        cl.addWidget(self.stack, 1)
        central = QWidget()
        outer = QHBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(sidebar)
        outer.addWidget(content, 1)
        self.setCentralWidget(central)

        # --- status bar
        sb = self.statusBar()
        self._progress_from: str | None = None  # the task whose step the status bar shows
        self.dots = ResourceDots(shell.sync.model)
        self.age = QLabel("Starting…")
        self.age.setObjectName("muted")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setFixedWidth(140)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(shell.runner.cancel_all)
        self.bell = QToolButton()
        self.bell.setObjectName("bell")
        self.bell.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.bell.setToolTip("Notifications inbox")
        self.bell.clicked.connect(self.show_inbox)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)
        sb.addPermanentWidget(self.dots)
        sb.addPermanentWidget(self.age)
        sb.addPermanentWidget(self.bell)
        self.inbox_dialog: InboxDialog | None = None
        self.about_dialog: Any = None

        self._build_actions()

        # --- wiring
        shell.sig_page_changed.connect(self._on_page_changed)
        shell.sig_message.connect(lambda m: sb.showMessage(m, 8000))
        shell.sig_error.connect(self._on_error)
        shell.sig_startup_failed.connect(self._on_startup_failed)
        shell.sig_source_changed.connect(self._on_source_changed)
        shell.sync.sig_age_text_changed.connect(self.age.setText)
        shell.sync.sig_connection_changed.connect(self._on_connection)
        shell.sync.sig_error.connect(lambda m: sb.showMessage(f"Sync problem: {m}", 15000))
        shell.runner.sig_busy_changed.connect(self._on_busy)
        shell.runner.sig_progress.connect(self._on_progress)
        shell.runner.sig_finished.connect(self._on_task_finished)
        shell.notifications.sig_unread_changed.connect(self._on_unread)
        shell.notifications.sig_open_target.connect(self.open_target)
        self.alerts_page.detail.sig_open_target.connect(self.open_target)
        theme.sig_theme_changed.connect(self.apply_theme)
        self._on_unread(shell.notifications.unread)
        self.apply_theme(theme.theme)

        self.restore_state()

    # ------------------------------------------------------------------ actions

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.sync_action = QAction(icon("sync"), "&Sync now", self)
        self.sync_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.sync_action.triggered.connect(self.sync_now)
        file_menu.addAction(self.sync_action)
        self.prefs_action = QAction(icon("settings"), "&Preferences…", self)
        self.prefs_action.setShortcuts(
            standard_keys(QKeySequence.StandardKey.Preferences, "Ctrl+,")
        )
        self.prefs_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.prefs_action.triggered.connect(self.show_settings)
        file_menu.addAction(self.prefs_action)
        file_menu.addSeparator()
        self.close_action = QAction("&Close window", self)
        self.close_action.setShortcuts(standard_keys(QKeySequence.StandardKey.Close, "Ctrl+W"))
        self.close_action.triggered.connect(self.close)
        file_menu.addAction(self.close_action)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcuts(standard_keys(QKeySequence.StandardKey.Quit, "Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.quit)
        file_menu.addAction(self.quit_action)

        edit_menu = menu.addMenu("&Edit")
        self.find_action = QAction(icon("search"), "&Find…", self)
        self.find_action.setShortcuts(standard_keys(QKeySequence.StandardKey.Find, "Ctrl+F"))
        self.find_action.triggered.connect(self.focus_search)
        edit_menu.addAction(self.find_action)

        view_menu = menu.addMenu("&View")
        self.page_actions: list[QAction] = []
        for i, name in enumerate(PAGES):
            action = QAction(PAGE_TITLES[name], self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, i=i: self.go_to(i))
            view_menu.addAction(action)
            self.page_actions.append(action)
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        for mode, label in (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")):
            action = QAction(label, self)
            action.setCheckable(True)
            action.setChecked(self.theme.mode == mode)
            action.triggered.connect(lambda _=False, m=mode: self.set_theme_mode(m))
            theme_menu.addAction(action)
        self.theme_actions = theme_menu.actions()
        self.inbox_action = QAction(icon("inbox"), "Notifications &inbox", self)
        self.inbox_action.triggered.connect(self.show_inbox)
        view_menu.addAction(self.inbox_action)

        help_menu = menu.addMenu("&Help")
        self.about_action = QAction("&About TutorMax Desktop", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def go_to(self, index: int) -> None:
        self.nav.setCurrentRow(index)

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def sync_now(self) -> None:
        if not self.shell.ready:
            self.statusBar().showMessage("Still opening the local database…", 4000)
            return
        if not self.shell.sync.sync(None, trigger="manual"):
            self.statusBar().showMessage("A sync is already running", 4000)

    def set_theme_mode(self, mode: str) -> None:
        self.theme.set_mode(mode)
        self.ui_settings.setValue("theme", mode)
        for action, m in zip(self.theme_actions, ("system", "light", "dark"), strict=True):
            action.setChecked(m == mode)

    def show_settings(self) -> None:
        from ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.shell.settings, self.theme, self.ui_settings, parent=self)
        dialog.exec()

    def show_inbox(self) -> None:
        if self.inbox_dialog is None:
            self.inbox_dialog = InboxDialog(self.shell.notifications, self)
        self.inbox_dialog.show()
        self.inbox_dialog.raise_()
        self.inbox_dialog.activateWindow()

    def open_target(self, target: str) -> None:
        """ "dashboard", "interventions/7", "inbox", ...: show that place."""
        self.bring_to_front()
        page = target.split("/", 1)[0]
        if page == "inbox":
            self.show_inbox()
        elif page == "tutors" and target.split("/")[-1].isdigit():
            self.open_tutor(int(target.split("/")[-1]))
        elif page == "customers" and target.split("/")[-1].isdigit():
            self.open_customer(int(target.split("/")[-1]))
        elif page in PAGES:
            self.go_to(PAGES.index(page))
            rest = target.split("/", 1)[1] if "/" in target else ""
            if page == "alerts" and rest.isdigit():
                self.alerts_page.show_alert(int(rest))

    def _open_tutor_at(self, index: Any) -> None:
        from viewmodels.dashboard import TUTOR_ID_ROLE as DASH_TUTOR_ID

        tutor_id = index.data(DASH_TUTOR_ID)
        if tutor_id is not None and index.column() != 4:  # column 4: Create intervention
            self.open_tutor(int(tutor_id))

    def open_tutor(self, tutor_id: int) -> None:
        """Show the Tutors page with ``tutor_id``'s profile (for any page or link)."""
        self.go_to(PAGES.index("tutors"))
        self.tutors_page.open_tutor(tutor_id)

    def open_customer(self, customer_id: int) -> None:
        """Show the Customers page with ``customer_id``'s detail (for any page or link)."""
        self.go_to(PAGES.index("customers"))
        self.customers_page.open_customer(customer_id)

    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def show_about(self) -> None:
        """Help > About: version, folders, database, library versions (Copy for support)."""
        from ui.about_dialog import AboutDialog
        from viewmodels.about import AboutViewModel

        if self.about_dialog is None:
            self.about_dialog = AboutDialog(AboutViewModel(self.shell.backend, self), self)
        self.about_dialog.show()
        self.about_dialog.raise_()
        self.about_dialog.activateWindow()

    # ------------------------------------------------------------------ reactions

    def _on_page_changed(self, index: int) -> None:
        if self.nav.currentRow() != index:
            self.nav.setCurrentRow(index)
        name = PAGES[index]
        self.stack.setCurrentWidget(self.pages[name])
        self.page_title.setText(PAGE_TITLES[name])
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.ui_settings.setValue("window/page", name)

    def _on_search_enter(self) -> None:
        """Enter in the search box opens the best match where a page can (Tutors)."""
        page = self.pages[self.shell.page_name]
        if hasattr(page, "open_search_result"):
            page.open_search_result()

    def _on_search(self, text: str) -> None:
        page = self.pages[self.shell.page_name]
        if hasattr(page, "set_filter"):
            page.set_filter(text)
        elif text:
            self.statusBar().showMessage("This page has nothing to search", 5000)

    def _on_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.sync_action.setEnabled(True)

    def _on_progress(self, name: str, value: object) -> None:
        if isinstance(value, float) and 0.0 <= value <= 1.0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(value * 1000))
        elif isinstance(value, str):
            registry = self.shell.scheduler.registry
            if name in registry:  # "Retraining: training tutor churn"
                value = f"{registry.get(name).title}: {value}"
            self.statusBar().showMessage(value, 5000)
            self._progress_from = name
        if name == "sync" and not isinstance(value, float):
            self.progress.setRange(0, 0)

    def _on_task_finished(self, rec: Any) -> None:
        """A background job's outcome replaces its last progress message."""
        showing_its_step = self._progress_from == rec.name
        if showing_its_step:
            self._progress_from = None
        if rec.name in self.shell.scheduler.registry:
            text = rec.summary if rec.status == "ok" else f"{rec.status}: {rec.error}"
            self.statusBar().showMessage(f"{rec.title}: {text}", 10_000)
        elif showing_its_step:
            # A page's own task (its page shows the result): its last step ("matching
            # treated and untreated tutors") must not read as still under way.
            self.statusBar().clearMessage()

    def _on_connection(self, state: str) -> None:
        self.offline_badge.setVisible(state in ("offline", "auth_failed"))
        self.offline_badge.setText("Offline" if state == "offline" else "Token refused")
        self.offline_badge.setToolTip(
            "The API cannot be reached; everything keeps working from the local database."
            if state == "offline"
            else "The API refused the token: enter a new one in Preferences."
        )

    def _on_unread(self, n: int) -> None:
        self.bell.setIcon(icon("bell", self.theme.theme.red if n else self.theme.theme.muted))
        self.bell.setText(f"{n}" if n else "")
        self.bell.setToolTip(f"{n} unread notifications" if n else "Notifications inbox")

    def _on_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(f"{title}: {message}", 15000)

    def _on_source_changed(self, label: str, sandbox: bool) -> None:
        self.sandbox_badge.setVisible(sandbox)
        self.sandbox_badge.setToolTip(f"Data source: {label}")
        self.system_page.set_source_label(label)

    def _on_startup_failed(self, message: str) -> None:
        QMessageBox.critical(self, "TutorMax Desktop", message)

    def apply_theme(self, theme: Theme) -> None:
        for i, name in enumerate(PAGES):
            self.nav.item(i).setIcon(icon(name, "#cbd5e1"))
        for page in self.pages.values():
            if hasattr(page, "apply_theme"):
                page.apply_theme(theme)
        self._on_unread(self.shell.notifications.unread)

    # ------------------------------------------------------------------ persistence

    def _tables(self) -> dict[str, QTableView]:
        return {
            "critical": self.dashboard_page.critical_table,
            "interventions": self.interventions_page.table,
            "tutors": self.tutors_page.table,
            "first_sessions": self.tutors_page.sessions_table,
            "customers": self.customers_page.table,
            "sync": self.system_page.sync_table,
            "rejects": self.system_page.rejects_table,
            "jobs": self.system_page.jobs_table,
            "models": self.system_page.models_table,
        }

    def save_state(self) -> None:
        s = self.ui_settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/page", self.shell.page_name)
        for name, table in self._tables().items():
            s.setValue(f"tables/{name}", table.horizontalHeader().saveState())
        s.sync()

    def restore_state(self) -> None:
        s = self.ui_settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        state = s.value("window/state")
        if isinstance(state, QByteArray | bytes):
            self.restoreState(QByteArray(state))
        for name, table in self._tables().items():
            header = s.value(f"tables/{name}")
            if isinstance(header, QByteArray | bytes):
                table.horizontalHeader().restoreState(QByteArray(header))
        page = s.value("window/page")
        index = PAGES.index(page) if isinstance(page, str) and page in PAGES else 0
        self.nav.setCurrentRow(index)
        self._on_page_changed(self.shell.page)

    # ------------------------------------------------------------------ closing

    def set_tray(self, tray: Any) -> None:
        self.tray = tray

    def quit(self) -> None:
        """Explicit quit: save the layout and end the application."""
        self._quitting = True
        self.save_state()
        self.sig_quit_requested.emit()
        self.close()
        self.on_quit()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        if not self._quitting and self.tray is not None and self.tray.available:
            # Close-to-tray: keep running (syncs, notifications); Quit is explicit.
            event.ignore()
            self.hide()
            if not self._hidden_notice_shown:
                self._hidden_notice_shown = True
                self.tray.show_hint(
                    "TutorMax Desktop is still running",
                    "It keeps syncing and notifying from the tray. Use Quit to exit.",
                )
            return
        if not self._quitting:
            self._quitting = True
            self.sig_quit_requested.emit()
            QTimer.singleShot(0, self.on_quit)
        super().closeEvent(event)
