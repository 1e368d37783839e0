"""Light and dark themes that follow the OS, and crisp SVG icons in the theme's colours.

:class:`ThemeManager` applies a Fusion palette and a small style sheet, follows
``QStyleHints.colorSchemeChanged`` while the mode is "system", and announces every change
with ``sig_theme_changed`` so charts (pyqtgraph) re-colour themselves: they never read
the palette on their own.

Icons are SVG rendered on demand at the size and device-pixel ratio asked for
(:class:`SvgIconEngine`), so they stay sharp at 200 % and recolour with the theme.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources as importlib_resources

from PySide6.QtCore import QByteArray, QObject, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QImage,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

MODES = ("system", "light", "dark")


@dataclass(frozen=True)
class Theme:
    name: str
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    border: str
    card: str
    sidebar: str
    sidebar_text: str
    sidebar_selected: str
    accent: str
    green: str
    yellow: str
    red: str
    neutral: str
    # heatmap colour ramp, low to high
    heat: tuple[str, ...]

    @property
    def dark(self) -> bool:
        return self.name == "dark"

    def status_color(self, status: str) -> str:
        return {"green": self.green, "yellow": self.yellow, "red": self.red}.get(
            status, self.neutral
        )


LIGHT = Theme(
    name="light",
    window="#f4f6f9",
    base="#ffffff",
    alt_base="#f7f8fa",
    text="#1f2933",
    muted="#66727f",
    border="#dde2e8",
    card="#ffffff",
    sidebar="#1e293b",
    sidebar_text="#cbd5e1",
    sidebar_selected="#2563eb",
    accent="#2563eb",
    green="#15803d",
    yellow="#b45309",
    red="#dc2626",
    neutral="#94a3b8",
    heat=("#f1f5f9", "#bfdbfe", "#60a5fa", "#2563eb", "#1e3a8a"),
)

DARK = Theme(
    name="dark",
    window="#111827",
    base="#1a2230",
    alt_base="#1f2937",
    text="#e5e7eb",
    muted="#9ca3af",
    border="#2f3b4d",
    card="#1a2230",
    sidebar="#0b1220",
    sidebar_text="#cbd5e1",
    sidebar_selected="#3b82f6",
    accent="#60a5fa",
    green="#4ade80",
    yellow="#fbbf24",
    red="#f87171",
    neutral="#64748b",
    heat=("#1e293b", "#1e3a8a", "#2563eb", "#60a5fa", "#dbeafe"),
)


def palette_for(theme: Theme) -> QPalette:
    p = QPalette()
    c = QColor
    roles = QPalette.ColorRole
    p.setColor(roles.Window, c(theme.window))
    p.setColor(roles.WindowText, c(theme.text))
    p.setColor(roles.Base, c(theme.base))
    p.setColor(roles.AlternateBase, c(theme.alt_base))
    p.setColor(roles.Text, c(theme.text))
    p.setColor(roles.PlaceholderText, c(theme.muted))
    p.setColor(roles.Button, c(theme.card))
    p.setColor(roles.ButtonText, c(theme.text))
    p.setColor(roles.ToolTipBase, c(theme.base))
    p.setColor(roles.ToolTipText, c(theme.text))
    p.setColor(roles.Highlight, c(theme.accent))
    p.setColor(roles.HighlightedText, c("#ffffff"))
    p.setColor(roles.Link, c(theme.accent))
    p.setColor(roles.Mid, c(theme.border))
    p.setColor(roles.Midlight, c(theme.border))
    p.setColor(roles.Light, c(theme.alt_base))
    p.setColor(roles.Dark, c(theme.border))
    p.setColor(roles.Shadow, c("#000000"))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(disabled, role, c(theme.muted))
    return p


def style_sheet(t: Theme) -> str:
    return f"""
QWidget#sidebar {{ background: {t.sidebar}; }}
QListWidget#nav {{ background: {t.sidebar}; color: {t.sidebar_text}; border: none;
    outline: 0; font-size: 10.5pt; }}
QListWidget#nav::item {{ padding: 9px 12px; border-radius: 6px; margin: 2px 8px; }}
QListWidget#nav::item:selected {{ background: {t.sidebar_selected}; color: #ffffff; }}
QListWidget#nav::item:hover:!selected {{ background: rgba(255,255,255,0.07); }}
QLabel#appName {{ color: #ffffff; font-weight: 700; font-size: 12pt; padding: 14px 16px 10px; }}
QLabel#pageTitle {{ font-size: 15pt; font-weight: 650; }}
QLabel#muted, QLabel[muted="true"] {{ color: {t.muted}; }}
QLabel#sandboxBadge {{ background: #b45309; color: white; border-radius: 4px;
    padding: 2px 8px; font-weight: 600; }}
QLabel#offlineBadge {{ background: {t.red}; color: white; border-radius: 4px;
    padding: 2px 8px; font-weight: 600; }}
QFrame#card, QFrame#panel {{ background: {t.card}; border: 1px solid {t.border};
    border-radius: 8px; }}
QLabel#cardTitle {{ color: {t.muted}; font-weight: 600; }}
QLabel#cardValue {{ font-size: 20pt; font-weight: 650; }}
QLabel#panelTitle {{ font-weight: 650; font-size: 11pt; }}
QLabel#emptyTitle {{ font-size: 13pt; font-weight: 650; }}
QLabel#emptyText {{ color: {t.muted}; }}
QLabel#warning {{ color: {t.text}; background: rgba(202, 138, 4, 0.12);
    border-left: 3px solid {t.yellow}; border-radius: 3px; padding: 6px 8px; }}
QTableView {{ gridline-color: {t.border}; selection-background-color: {t.accent}; }}
QHeaderView::section {{ background: {t.alt_base}; color: {t.muted}; border: none;
    border-bottom: 1px solid {t.border}; padding: 4px 6px; font-weight: 600; }}
QStatusBar {{ border-top: 1px solid {t.border}; }}
QToolButton#bell {{ border: none; padding: 2px 6px; }}
"""


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


class ThemeManager(QObject):
    sig_theme_changed = Signal(object)
    """The new Theme (charts re-colour on it)."""

    def __init__(self, app: QApplication, mode: str = "system") -> None:
        super().__init__(app)
        self._app = app
        self._mode = mode if mode in MODES else "system"
        self._theme = LIGHT
        app.setStyle("Fusion")
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_os_scheme)
        self.apply()

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def theme(self) -> Theme:
        return self._theme

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"theme mode must be one of {MODES}")
        if mode != self._mode:
            self._mode = mode
            self.apply()

    def _on_os_scheme(self, _scheme: Qt.ColorScheme) -> None:
        if self._mode == "system":
            self.apply()

    def resolve(self) -> Theme:
        if self._mode == "dark":
            return DARK
        if self._mode == "light":
            return LIGHT
        return DARK if system_prefers_dark() else LIGHT

    def apply(self) -> None:
        theme = self.resolve()
        changed = theme != self._theme
        self._theme = theme
        self._app.setPalette(palette_for(theme))
        self._app.setStyleSheet(style_sheet(theme))
        if changed:
            self.sig_theme_changed.emit(theme)

    def disconnect_os(self) -> None:
        QGuiApplication.styleHints().colorSchemeChanged.disconnect(self._on_os_scheme)


# ---------------------------------------------------------------------- icons


@cache
def _svg_text(name: str) -> str:
    ref = importlib_resources.files("resources") / "icons" / f"{name}.svg"
    return ref.read_text(encoding="utf-8")


class SvgIconEngine(QIconEngine):
    """Renders SVG at whatever size and pixel ratio Qt asks for."""

    def __init__(self, svg: bytes) -> None:
        super().__init__()
        self._svg = svg
        self._renderer = QSvgRenderer(QByteArray(svg))

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        if mode == QIcon.Mode.Disabled:
            painter.setOpacity(0.4)
        self._renderer.render(painter, QRectF(rect))

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        w, h = max(1, round(size.width() * scale)), max(1, round(size.height() * scale))
        image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.paint(painter, QRect(QPoint(0, 0), QSize(w, h)), mode, state)
        painter.end()
        pm = QPixmap.fromImage(image)
        pm.setDevicePixelRatio(scale)
        return pm

    def clone(self) -> QIconEngine:
        return SvgIconEngine(self._svg)


def icon(name: str, color: str | None = None) -> QIcon:
    """A bundled SVG icon (resources/icons/<name>.svg), stroked in ``color``."""
    svg = _svg_text(name)
    if color:
        svg = svg.replace("#000000", color)
    return QIcon(SvgIconEngine(svg.encode("utf-8")))


def badge_icon(base: QIcon, count: int, color: str = "#dc2626", size: int = 64) -> QIcon:
    """``base`` with a red unread-count badge (for the tray)."""
    if count <= 0:
        return base
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    base.paint(p, QRect(0, 0, size, size))
    d = int(size * 0.55)
    r = QRect(size - d, 0, d, d)
    p.setBrush(QColor(color))
    p.setPen(QColor("#ffffff"))
    p.drawEllipse(r)
    f = QFont()
    f.setBold(True)
    f.setPixelSize(int(d * (0.62 if count < 10 else 0.48)))
    p.setFont(f)
    p.drawText(r, Qt.AlignmentFlag.AlignCenter, str(count) if count < 100 else "99+")
    p.end()
    return QIcon(QPixmap.fromImage(image))
