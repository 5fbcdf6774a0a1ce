"""The run timeline: one bar per item from its start to its end, UI stalls shaded on the same time axis.

Two selected runs are stacked on one shared time scale, so the blocking staircase (each item starts when
the previous one ends) and the async overlap (every item in flight at once) are seen side by side.

The geometry lives in a pure function, ``timeline_layout(runs)``: tests check positions and lengths there,
and the widget only paints what it returns.

Design choices:
- Outcomes differ by more than colour (for colour-blind students and grey projectors): ok bars are solid,
  error bars are hatched, cancelled bars are pale with a dashed outline. A legend says so.
- Mouse zoom and pan are off. In a classroom an accidental scroll loses the picture, and there is nothing
  to explore that does not already fit: the timeline always shows every bar of the selected runs.
- Bars, bands and run headers are painted in screen pixels by one item (``_TimelineItem``): hatching and
  outlines stay crisp whatever the scale, and a run of 100 items is one paint call, not 100 scene items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QCursor, QFont, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QToolTip, QVBoxLayout, QWidget

from services.runs import RunResult

EMPTY_TEXT = "Select a run (or two) to see its timeline"
BAR_HEIGHT = 0.64  # of a row
LABEL_CHARS = 26  # y-axis labels longer than this are shortened (the full label is in the tooltip)


# --- geometry (pure, tested) ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bar:
    run_index: int  # which of the runs passed in
    row: float  # y of the bar's centre, in rows from the top (one row per item)
    x0: float  # seconds from the run's start
    x1: float
    outcome: str  # 'ok' | 'error' | 'cancelled'
    label: str  # shortened, for the axis
    full_label: str
    error: str | None = None

    @property
    def seconds(self) -> float:
        return self.x1 - self.x0


@dataclass(frozen=True)
class Band:
    """A UI stall of one run, shaded across that run's rows."""

    run_index: int
    x0: float
    x1: float
    y0: float  # top edge (row coordinates)
    y1: float  # bottom edge


@dataclass(frozen=True)
class Header:
    run_index: int
    row: float  # y of the text's centre
    text: str
    top: float  # y of the group's top edge (where a rule separates it from the run above)


@dataclass(frozen=True)
class TimelineLayout:
    bars: tuple[Bar, ...]
    bands: tuple[Band, ...]
    headers: tuple[Header, ...]
    rows: float  # total height in rows, headers included
    x_max: float  # the shared time scale runs from 0 to this

    def row_labels(self) -> list[tuple[float, str]]:
        return [(b.row, b.label) for b in self.bars]


def short_label(label: str, limit: int = LABEL_CHARS) -> str:
    """URLs lose their scheme (and a loopback host); anything still too long is cut in the middle."""
    text = label
    if "://" in label:
        try:
            parts = urlsplit(label)
            host = parts.hostname or ""
        except ValueError:  # e.g. "http://[::1/": show the text as typed
            parts, host = None, ""
    if "://" in label and parts is not None:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        text = (path or "/") if host in ("127.0.0.1", "localhost") else f"{parts.netloc}{path}"
    if len(text) > limit:
        keep = limit - 1
        text = text[: keep - keep // 2] + "…" + text[-(keep // 2) :]
    return text


def run_title(run: RunResult, number: int | None = None) -> str:
    """'#3 blocking fetch — 10.1 s', plus how long the UI froze or why the run could not start."""
    name = f"#{number} " if number is not None else ""
    text = f"{name}{run.mode} {run.workload} — {run.wall_s:.1f} s"
    if run.error:
        return f"{text} — could not start: {run.error}"
    if run.cancelled:
        text += " (cancelled)"
    if run.max_stall_ms is not None and run.max_stall_ms >= 50:
        stall = run.max_stall_ms
        text += " — UI frozen up to " + (f"{stall / 1000:.1f} s" if stall >= 1000 else f"{stall:.0f} ms")
    return text


def timeline_layout(
    runs: Sequence[RunResult], numbers: Sequence[int] | None = None, header_rows: float = 1.0
) -> TimelineLayout:
    """Top to bottom: for each run a header (``header_rows`` tall), then one row per item. x is seconds on
    each run's own clock; every run shares the one x scale, 0 to the longest run (items or stalls)."""
    bars: list[Bar] = []
    bands: list[Band] = []
    headers: list[Header] = []
    y = 0.0
    x_max = 0.0
    for k, run in enumerate(runs):
        headers.append(Header(k, y + header_rows / 2, run_title(run, numbers[k] if numbers else None), y))
        y += header_rows
        first = y
        for item in run.items:
            x1 = max(item.ended, item.started)
            label = short_label(item.label)
            bars.append(Bar(k, y + 0.5, item.started, x1, item.outcome, label, item.label, item.error))
            x_max = max(x_max, x1)
            y += 1
        # Stalls cover the run's item rows (or its header when it has no items).
        top, bottom = (first, y) if y > first else (first - header_rows, first)
        for a, b in run.stalls:
            bands.append(Band(k, a, b, top, bottom))
            x_max = max(x_max, b)
        x_max = max(x_max, run.wall_s)
    return TimelineLayout(tuple(bars), tuple(bands), tuple(headers), y, x_max)


# --- how an outcome looks ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class BarStyle:
    fill: str
    edge: str
    hatch: Qt.BrushStyle  # NoBrush = plain fill
    outline: Qt.PenStyle
    legend: str


OUTCOME_STYLES: dict[str, BarStyle] = {
    "ok": BarStyle("#43a047", "#1b5e20", Qt.BrushStyle.NoBrush, Qt.PenStyle.SolidLine, "ok"),
    "error": BarStyle("#ef9a9a", "#b71c1c", Qt.BrushStyle.BDiagPattern, Qt.PenStyle.SolidLine, "error"),
    "cancelled": BarStyle("#eeeeee", "#616161", Qt.BrushStyle.NoBrush, Qt.PenStyle.DashLine, "cancelled"),
}
STALL_FILL = QColor(255, 160, 0, 70)  # translucent amber: "the UI could not repaint here"
STALL_EDGE = QColor(230, 120, 0, 160)
HEADER_COLOUR = QColor("#263238")


def style_for(outcome: str) -> BarStyle:
    return OUTCOME_STYLES.get(outcome, OUTCOME_STYLES["error"])


def paint_bar(p: QPainter, rect: QRectF, style: BarStyle, pen_width: float = 1.5) -> None:
    """Paint one bar in device pixels: fill, then hatching, then the outline (solid or dashed)."""
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(style.fill))
    p.drawRect(rect)
    if style.hatch != Qt.BrushStyle.NoBrush:
        p.setBrush(QBrush(QColor(style.edge), style.hatch))
        p.drawRect(rect)
    pen = QPen(QColor(style.edge), pen_width, style.outline)
    pen.setCosmetic(True)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(rect)


def paint_band(p: QPainter, rect: QRectF) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(STALL_FILL)
    p.drawRect(rect)
    pen = QPen(STALL_EDGE, 1)
    pen.setCosmetic(True)
    p.setPen(pen)
    p.drawLine(rect.topLeft(), rect.bottomLeft())
    p.drawLine(rect.topRight(), rect.bottomRight())


# --- the scene item ---------------------------------------------------------------------------------------
class _TimelineItem(pg.GraphicsObject):
    """Paints a TimelineLayout: stall bands, then bars, then run headers (in screen pixels, see above)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = TimelineLayout((), (), (), 0, 0.0)
        self.font = QFont()

    def set_layout(self, layout: TimelineLayout) -> None:
        self.prepareGeometryChange()
        self.data = layout
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, max(self.data.x_max, 1e-3), max(self.data.rows, 1))

    def paint(self, p: QPainter, *_args) -> None:
        t = p.transform()
        view = self.getViewBox()
        visible = t.mapRect(view.viewRect()) if view is not None else None
        p.resetTransform()  # from here on, pixels
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setFont(self.font)
        fm = p.fontMetrics()
        for band in self.data.bands:
            r = t.mapRect(QRectF(band.x0, band.y0, band.x1 - band.x0, band.y1 - band.y0))
            paint_band(p, r)
            label = f"UI frozen {band.x1 - band.x0:.1f} s"
            if r.width() > fm.horizontalAdvance(label) + 8 and r.height() > fm.height():
                p.setPen(QColor("#8a4b00"))
                p.drawText(
                    r.adjusted(4, 2, -4, -2), Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight, label
                )
        for bar in self.data.bars:
            r = t.mapRect(QRectF(bar.x0, bar.row - BAR_HEIGHT / 2, bar.x1 - bar.x0, BAR_HEIGHT))
            if r.width() < 3:  # an instant item still shows as a sliver
                r.setWidth(3)
            paint_bar(p, r, style_for(bar.outcome))
        bold = QFont(self.font)
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(HEADER_COLOUR)
        left = visible.left() + 6 if visible is not None else t.map(QPointF(0, 0)).x()
        for h in self.data.headers:
            y = t.map(QPointF(0, h.row)).y()
            if h.top > 0 and visible is not None:  # a rule between stacked runs
                sep = t.map(QPointF(0, h.top)).y()
                p.setPen(QPen(QColor("#90a4ae"), 1))
                p.drawLine(QPointF(visible.left(), sep), QPointF(visible.right(), sep))
                p.setPen(HEADER_COLOUR)
            height = p.fontMetrics().height()
            width = (visible.right() - left - 6) if visible is not None else 10_000
            rect = QRectF(left, y - height / 2, max(width, 10), height)
            p.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, h.text)


# --- the widget -------------------------------------------------------------------------------------------
class _Legend(QWidget):
    """Swatches drawn with the same painter as the bars, so the legend matches what is plotted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(4, 0, 4, 0)
        self._swatches: list[tuple[QLabel, str]] = []
        for key in ("ok", "error", "cancelled", "stall"):
            icon, text = QLabel(), QLabel(OUTCOME_STYLES[key].legend if key != "stall" else "UI frozen")
            icon.setToolTip(
                "The UI thread could not repaint: no heartbeat tick" if key == "stall" else f"Item {key}"
            )
            self._row.addWidget(icon)
            self._row.addWidget(text)
            self._row.addSpacing(12)
            self._swatches.append((icon, key))
        self._row.addStretch(1)
        self.refresh_icons()

    def refresh_icons(self) -> None:
        h = self.fontMetrics().height()
        size = QSize(int(h * 1.8), h)
        for icon, key in self._swatches:
            pm = QPixmap(size)
            pm.fill(Qt.GlobalColor.transparent)
            p = QPainter(pm)
            r = QRectF(1, 2, size.width() - 2, size.height() - 4)
            if key == "stall":
                paint_band(p, r)
            else:
                paint_bar(p, r, OUTCOME_STYLES[key])
            p.end()
            icon.setPixmap(pm)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self.refresh_icons()
        super().changeEvent(event)


class TimelineWidget(QWidget):
    """``show_runs(runs, numbers)`` draws one or more runs stacked on one time scale; [] shows a hint."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_data = TimelineLayout((), (), (), 0, 0.0)
        self._runs: list[RunResult] = []
        self._numbers: list[int] | None = None
        self.row_ticks: list[tuple[int, str]] = []  # (row, label) shown on the y axis

        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        palette = self.empty.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor("white"))
        palette.setColor(QPalette.ColorRole.WindowText, QColor("#607d8b"))
        self.empty.setPalette(palette)
        self.empty.setAutoFillBackground(True)

        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()  # no auto-range "A": the view always fits
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setAntialiasing(False)
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        vb = self.plot.getViewBox()
        vb.invertY(True)  # row 0 at the top, like a table
        vb.setDefaultPadding(0)
        vb.wheelEvent = lambda ev, axis=None: ev.ignore()  # let the page scroll instead
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen("#455a64"))
            axis.setTextPen(pg.mkPen("#263238"))
        self.plot.getAxis("bottom").setLabel("seconds since the run started")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)  # keep seconds, never "(x0.001)"
        self.plot.getAxis("left").setStyle(tickLength=0)
        self.item = _TimelineItem()
        self.plot.addItem(self.item)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        vb.sigResized.connect(self._relayout)

        self.legend = _Legend()
        chart = QWidget()
        # White like the plot. A palette, not a style sheet: style sheets stop app font changes (zoom)
        # from reaching the children.
        palette = chart.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor("white"))
        chart.setPalette(palette)
        chart.setAutoFillBackground(True)
        col = QVBoxLayout(chart)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        col.addWidget(self.legend)
        col.addWidget(self.plot, 1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(chart)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        self._apply_fonts()

    # --- public API ----------------------------------------------------------------------------------------
    def show_runs(self, runs: Sequence[RunResult], numbers: Sequence[int] | None = None) -> None:
        """Show these runs stacked, top to bottom; ``numbers`` are their run numbers for the headers."""
        self._runs = list(runs)
        self._numbers = list(numbers) if numbers is not None else None
        if not self._runs:
            self.layout_data = timeline_layout([])
            self.item.set_layout(self.layout_data)
            self.row_ticks = []
            self.stack.setCurrentWidget(self.empty)
            return
        self.stack.setCurrentIndex(1)
        self._relayout()

    def clear(self) -> None:
        self.show_runs([])

    def is_empty(self) -> bool:
        return not self._runs

    # --- internals ---------------------------------------------------------------------------------------
    def _relayout(self) -> None:
        """Lay the runs out for the current size: headers get at least a line of text each, however thin
        the item rows are; the rest of the height is shared by the items."""
        if not self._runs:
            return
        height = self.plot.getViewBox().height()
        line = self.fontMetrics().height() * 1.4
        items = sum(len(r.items) for r in self._runs)
        spare = height - len(self._runs) * line  # pixels left for the item rows
        header_rows = 1.0 if spare <= 0 or items == 0 else max(1.0, min(6.0, line * items / spare))
        self.layout_data = timeline_layout(self._runs, self._numbers, header_rows)
        self.item.set_layout(self.layout_data)
        x_max = max(self.layout_data.x_max, 0.05)
        self.plot.setXRange(-x_max * 0.01, x_max * 1.03, padding=0)
        self.plot.setYRange(-0.1, self.layout_data.rows + 0.1, padding=0)
        self._update_ticks()

    def _update_ticks(self) -> None:
        """Label item rows on the y axis; when rows are thinner than a line of text, label every n-th."""
        axis = self.plot.getAxis("left")
        labels = self.layout_data.row_labels()
        height = self.plot.getViewBox().height()
        rows = max(self.layout_data.rows, 1)
        line = self.fontMetrics().height()
        every = max(1, math.ceil(line * rows / max(height, 1)))  # rows per line of text
        self.row_ticks = [(r, text) for n, (r, text) in enumerate(labels) if n % every == 0]
        axis.setTicks([self.row_ticks, []])
        # Size the axis to its labels now (pyqtgraph would only grow it on a later paint).
        fm = self.fontMetrics()
        widest = max((fm.horizontalAdvance(text) for _, text in labels), default=0)
        axis.setWidth(widest + 2 * fm.averageCharWidth())
        self.plot.getPlotItem().layout.activate()  # apply the new width now, not on a later event

    def bar_at(self, x: float, y: float, x_tolerance: float = 0.0) -> Bar | None:
        for bar in self.layout_data.bars:
            if abs(y - bar.row) <= BAR_HEIGHT / 2 and bar.x0 - x_tolerance <= x <= bar.x1 + x_tolerance:
                return bar
        return None

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        vb = self.plot.getViewBox()
        p = vb.mapSceneToView(scene_pos)
        tolerance = 4 * vb.viewPixelSize()[0]
        if vb.sceneBoundingRect().contains(scene_pos):
            bar = self.bar_at(p.x(), p.y(), tolerance)
            if bar is not None:
                text = f"{bar.full_label}\n{bar.outcome}: {bar.x0:.2f} → {bar.x1:.2f} s ({bar.seconds:.2f} s)"
                if bar.error and bar.outcome != "cancelled":
                    text += f"\n{bar.error}"
                QToolTip.showText(QCursor.pos(), text, self.plot)
                return
            for band in self.layout_data.bands:
                if band.x0 <= p.x() <= band.x1 and band.y0 <= p.y() <= band.y1:
                    QToolTip.showText(
                        QCursor.pos(),
                        f"UI frozen {band.x1 - band.x0:.2f} s ({band.x0:.2f} → {band.x1:.2f} s):\n"
                        "the UI thread could not repaint or react",
                        self.plot,
                    )
                    return
        elif self.plot.getAxis("left").sceneBoundingRect().contains(scene_pos):
            for bar in self.layout_data.bars:  # hovering a y-axis label shows the full label
                if abs(p.y() - bar.row) <= 0.5:
                    QToolTip.showText(QCursor.pos(), bar.full_label, self.plot)
                    return
        QToolTip.hideText()

    def _apply_fonts(self) -> None:
        font = self.font()
        self.item.font = QFont(font)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setTickFont(font)
            axis.label.setFont(font)
            axis.resizeEvent()
        self.plot.getAxis("bottom").setHeight(None)
        big = QFont(font)
        big.setPointSizeF(font.pointSizeF() * 1.2)
        self.empty.setFont(big)
        self.legend.setFont(font)
        self.item.update()
        self._relayout()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._apply_fonts()
        super().changeEvent(event)
