"""Writing the tutor's report as a PDF with Qt's own writer (QPdfWriter + QTextDocument,
both in QtGui: no QtWidgets, no web engine).

The HTML comes from ``services.tutor_report``; the activity chart is painted here with
QPainter on a QImage (pyqtgraph needs widgets and a GUI thread; this runs on a worker).
:func:`render_report_image` lays out the same document on an image, for looking at the
report without a PDF renderer (tests and screenshots).
"""

from __future__ import annotations

import re
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMarginsF, QPointF, QRectF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPainterPath,
    QPdfWriter,
    QPen,
    QTextDocument,
)

from services.tutor_report import CHART_NAME, report_html

if TYPE_CHECKING:  # services.tutors imports SQLAlchemy; only its type is needed here
    from services.tutors import TutorBundle

# A4 (210 mm) less two 16 mm margins, at Qt's 72 units per inch.
PAGE_TEXT_WIDTH = 504


def activity_chart(bundle: TutorBundle, width: int = 1280, height: int = 420) -> QImage:
    """Completed sessions per week (bars) and average rating (line, 1-5 on the right)."""
    img = QImage(width, height, QImage.Format.Format_ARGB32)
    img.fill(QColor("white"))
    w = bundle.weekly
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    left, right, top, bottom = 70, 70, 20, 50
    plot = QRectF(left, top, width - left - right, height - top - bottom)
    font = QFont()
    font.setPixelSize(18)
    p.setFont(font)
    p.setPen(QPen(QColor("#cbd5e1"), 1))
    for i in range(5):
        y = plot.bottom() - plot.height() * i / 4
        p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
    n = len(w.sessions)
    # A round top (a multiple of 4) so the four grid lines fall on whole numbers.
    top_sessions = max(4, -(-max(w.sessions, default=0) // 4) * 4)
    slot = plot.width() / max(n, 1)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#93c5fd"))
    for i, v in enumerate(w.sessions):
        h = plot.height() * v / top_sessions
        p.drawRect(QRectF(plot.left() + i * slot + slot * 0.15, plot.bottom() - h, slot * 0.7, h))
    path = QPainterPath()
    started = False
    p.setBrush(QColor("#b45309"))
    for i, r in enumerate(w.avg_rating):
        if r is None:
            started = False
            continue
        pt = QPointF(
            plot.left() + (i + 0.5) * slot, plot.bottom() - plot.height() * (r - 1.0) / 4.0
        )
        if started:
            path.lineTo(pt)
        else:
            path.moveTo(pt)
            started = True
        p.drawEllipse(pt, 4, 4)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(QColor("#b45309"), 3))
    p.drawPath(path)
    p.setPen(QColor("#475569"))
    for i in range(5):
        y = plot.bottom() - plot.height() * i / 4
        p.drawText(
            QRectF(0, y - 12, left - 8, 24),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            f"{top_sessions * i / 4:.0f}",
        )
        p.drawText(
            QRectF(plot.right() + 8, y - 12, right - 8, 24),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            f"{1 + i:.0f}★",
        )
    for i in range(0, n, 4):
        label = w.week_starts[i].strftime("%d %b")
        p.drawText(
            QRectF(plot.left() + i * slot - 40, plot.bottom() + 8, 80 + slot, 30),
            int(Qt.AlignmentFlag.AlignLeft),
            label,
        )
    p.end()
    return img


def build_document(bundle: TutorBundle, tz: tzinfo | None = None) -> QTextDocument:
    doc = QTextDocument()
    doc.addResource(
        QTextDocument.ResourceType.ImageResource, QUrl(CHART_NAME), activity_chart(bundle)
    )
    doc.setHtml(report_html(bundle, tz=tz, chart=bundle.tier is not None))
    return doc


def write_report_pdf(bundle: TutorBundle, path: str | Path, tz: tzinfo | None = None) -> int:
    """Write the PDF; returns its page count. Safe on a worker thread (QtGui only)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise OSError(f"cannot write {path}: the folder {path.parent} does not exist")
    writer = QPdfWriter(str(path))
    writer.setTitle(f"Performance report: {bundle.tutor['name']}")
    writer.setCreator("TutorMax Desktop")
    writer.setResolution(150)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(16, 14, 16, 14),
            QPageLayout.Unit.Millimeter,
        )
    )
    doc = build_document(bundle, tz)
    doc.print_(writer)  # paginates to the writer's page layout (a copy of the document)
    del writer  # closes the file
    if not path.exists() or path.stat().st_size == 0:
        raise OSError(f"the PDF writer produced no file at {path}")
    # The pages as written (the document's own pageCount() knows nothing of the copy
    # print_() paginated): one "/Type /Page" object per page.
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", path.read_bytes()))


def render_report_image(
    bundle: TutorBundle, scale: float = 1.6, tz: tzinfo | None = None
) -> QImage:
    """The report laid out at an A4 page's text width on one tall image (what the PDF
    shows, page breaks aside), magnified ``scale`` times."""
    doc = build_document(bundle, tz)
    doc.setTextWidth(PAGE_TEXT_WIDTH)
    width = int((PAGE_TEXT_WIDTH + 40) * scale)
    height = int((doc.size().height() + 40) * scale)
    img = QImage(width, height, QImage.Format.Format_ARGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(scale, scale)
    p.translate(20, 20)
    doc.drawContents(p)
    p.end()
    return img
