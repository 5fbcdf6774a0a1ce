"""The live lag graph: how late each heartbeat tick was, over the last ~10 seconds.

While the UI thread is free the line hugs zero. While it is blocked no tick fires, so nothing is drawn -
the graph itself is frozen. The first tick after the freeze carries the whole freeze as its lag, and the
line from the last good tick up to it is exactly how the lag grew: a ramp while frozen, then a drop.

Cost: each tick only writes two floats into a ring buffer. The plot is redrawn by a timer, only while the
widget is visible and new samples arrived: ~12 Hz while a lag of 50 ms or more is in view, 2 Hz while
the line is flat (repainting a plot is most of this widget's idle cost).

A 10 s freeze is 10 000 ms: on a linear axis that would flatten the 16.7 / 50 / 100 ms reference lines onto
the floor. So the y axis grows with the data from 0-120 ms up to a cap (250 ms); taller spikes are drawn
clipped at the cap with a marker and their real size written next to it.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QFont, QHideEvent, QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.heartbeat import INTERVAL_MS, Heartbeat
from gui.plotstyle import apply_axis_fonts

WINDOW_S = 10.0  # how much history the graph shows
REDRAW_MS = 80  # ~12 Hz while something is happening: smooth enough to read
QUIET_REDRAW_MS = 500  # 2 Hz while no lag in view reaches QUIET_MS: a near-flat line needs no more
QUIET_MS = 50.0  # a "long task"; the odd late frame (17-20 ms) is common and not worth 12 Hz repaints
Y_MIN_TOP_MS = 120.0  # the y axis always shows at least 0..120 ms, so all three reference lines are in view
Y_CAP_MS = 250.0  # ... and at most this much; taller spikes are clipped and labelled
RAMP_MS = 2 * 1000 / 60  # stalls longer than two frames are drawn as the ramp they were
REFERENCES = (  # (ms, label, colour)
    (1000 / 60, "1 frame 16.7 ms", "#607d8b"),
    (50.0, "long task 50 ms", "#ef6c00"),
    (100.0, "feels slow 100 ms", "#c62828"),
)


class LagGraph(QWidget):
    """``LagGraph(heartbeat)``: connect once; it listens to ``heartbeat.ticked`` by itself."""

    def __init__(
        self, heartbeat: Heartbeat, parent: QWidget | None = None, window_s: float = WINDOW_S
    ) -> None:
        super().__init__(parent)
        self.window_s = window_s
        # A ring buffer sized for the window at the heartbeat's rate, with room to spare (ticks may come
        # faster than nominal when the timer catches up). Old samples are overwritten, never reallocated.
        capacity = int(window_s / (INTERVAL_MS / 1000) * 2) + 16  # room for the full (running) tick rate
        self._t = np.zeros(capacity)  # perf_counter seconds
        self._lag = np.zeros(capacity)  # ms
        self._next = 0  # where the next sample goes
        self._count = 0  # how many slots hold samples
        self._dirty = False
        self._loud_until = -1.0  # perf_counter time when the last lag >= QUIET_MS scrolls out of view
        self.redraws = 0  # how many times the plot was actually redrawn (tests, idle-cost checks)

        self.plot = pg.PlotWidget(background="w", axisItems={"bottom": _AgoAxis("bottom")})
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.getViewBox().wheelEvent = lambda ev, axis=None: ev.ignore()
        self.plot.showGrid(x=True, y=False, alpha=0.2)
        self.plot.setXRange(-window_s * 1.015, window_s * 0.015, padding=0)
        self.plot.setYRange(0, Y_MIN_TOP_MS, padding=0)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen("#455a64"))
            axis.setTextPen(pg.mkPen("#263238"))
        self.plot.getAxis("left").setLabel("lag (ms)")
        self.plot.getAxis("bottom").setLabel("seconds ago")
        for name in ("left", "bottom"):
            self.plot.getAxis(name).enableAutoSIPrefix(False)

        self.lines = []
        for ms, text, colour in REFERENCES:
            line = pg.InfiniteLine(
                pos=ms,
                angle=0,
                pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine),
                label=text,
                labelOpts={"position": 0.02, "color": colour, "anchors": [(0, 1), (0, 1)]},
            )
            self.plot.addItem(line)
            self.lines.append(line)
        self.curve = self.plot.plot(pen=pg.mkPen("#1565c0", width=2), fillLevel=0, brush=(21, 101, 192, 45))
        self.curve.setClipToView(True)
        self.clipped = pg.ScatterPlotItem(symbol="t1", size=12, brush=pg.mkBrush("#c62828"), pen=None)
        self.plot.addItem(self.clipped)
        self.peak_text = pg.TextItem(color="#c62828", anchor=(1, 0))
        self.plot.addItem(self.peak_text)

        self.readout = QLabel()  # "now 2 ms · worst in 10 s: 9.8 s"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.readout)
        layout.addWidget(self.plot, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw_if_dirty)
        heartbeat.ticked.connect(self._on_tick)
        self._apply_fonts()
        self._redraw()

    # --- data ----------------------------------------------------------------------------------------------
    def _on_tick(self, lag_s: float) -> None:
        self.add_sample(lag_s)

    def add_sample(self, lag_s: float, t: float | None = None) -> None:
        """Record one tick's lag (seconds) at perf_counter time ``t`` (now if not given)."""
        self._t[self._next] = time.perf_counter() if t is None else t
        self._lag[self._next] = lag_s * 1000
        self._next = (self._next + 1) % len(self._t)
        self._count = min(self._count + 1, len(self._t))
        self._dirty = True
        if lag_s * 1000 >= QUIET_MS:
            self._loud_until = self._t[self._next - 1] + self.window_s
            if self._timer.isActive() and self._timer.interval() != REDRAW_MS:
                self._timer.setInterval(REDRAW_MS)  # something to see: back to the smooth rate

    def _ordered(self) -> tuple[np.ndarray, np.ndarray]:
        """Samples of the last ``window_s`` seconds, oldest first: (perf_counter s, lag ms)."""
        idx = (np.arange(self._next - self._count, self._next)) % len(self._t)
        t, lag = self._t[idx], self._lag[idx]
        if len(t):
            keep = t >= t[-1] - self.window_s
            t, lag = t[keep], lag[keep]
        return t, lag

    def samples(self) -> list[tuple[float, float]]:
        """(perf_counter time, lag ms) of every tick in the window, oldest first."""
        t, lag = self._ordered()
        return list(zip(t.tolist(), lag.tolist(), strict=True))

    def peak_ms(self) -> float:
        _, lag = self._ordered()
        return float(lag.max()) if len(lag) else 0.0

    # --- drawing -------------------------------------------------------------------------------------------
    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self._redraw()
        latest = self._t[self._next - 1] if self._count else 0.0
        want = QUIET_REDRAW_MS if latest > self._loud_until else REDRAW_MS
        if self._timer.interval() != want:
            self._timer.setInterval(want)

    def redraw_interval_ms(self) -> int:
        return self._timer.interval()

    def _redraw(self) -> None:
        self._dirty = False
        self.redraws += 1
        t, lag = self._ordered()
        now = t[-1] if len(t) else time.perf_counter()
        peak = float(lag.max()) if len(lag) else 0.0
        top = min(Y_CAP_MS, max(Y_MIN_TOP_MS, peak * 1.15))
        self.plot.setYRange(-top * 0.02, top * 1.06, padding=0)
        x, y = lag_curve(t - now, lag, top)
        self.curve.setData(x, y, skipFiniteCheck=True)
        over = lag > top
        self.clipped.setData(t[over] - now, np.full(int(over.sum()), top))
        if over.any():
            i = int(np.argmax(lag))
            xi = t[i] - now
            # Keep the text inside the plot: left of a recent spike, right of an old one.
            self.peak_text.setAnchor((1.15, 0.1) if xi > -self.window_s / 2 else (-0.15, 0.1))
            self.peak_text.setText(f"frozen {_fmt_ms(lag[i])}")
            self.peak_text.setPos(xi, top)
            self.peak_text.show()
        else:
            self.peak_text.hide()
        latest = lag[-1] if len(lag) else 0.0
        self.readout.setText(
            f"Heartbeat lag now {_fmt_ms(latest)} · worst in the last {self.window_s:.0f} s: {_fmt_ms(peak)}"
        )

    # --- visibility and fonts ------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._redraw()
        self._timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()  # a hidden graph costs nothing but the ring-buffer writes
        super().hideEvent(event)

    def is_redrawing(self) -> bool:
        return self._timer.isActive()

    def _apply_fonts(self) -> None:
        font = self.font()
        apply_axis_fonts(self.plot, font, "0000")
        small = QFont(font)
        for line in self.lines:
            line.label.setFont(small)
        self.peak_text.setFont(small)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._apply_fonts()
        super().changeEvent(event)


class _AgoAxis(pg.AxisItem):
    """x is seconds relative to now (negative); label the ticks as positive 'seconds ago'."""

    def tickStrings(self, values, scale, spacing):
        return [f"{abs(v):g}" for v in values]


def lag_curve(x: np.ndarray, lag_ms: np.ndarray, top: float) -> tuple[np.ndarray, np.ndarray]:
    """The line to draw through the samples, clipped at ``top`` ms.

    A tick that arrives L ms late means the lag grew from 0 to L over the last L ms: a ramp. For stalls of
    more than two frames we add the ramp's foot (and its knee where it meets ``top``), so a long freeze
    reads as "off the chart from here to here" instead of a slope across the whole window.
    """
    ramps = lag_ms > RAMP_MS
    foot_x = x[ramps] - lag_ms[ramps] / 1000
    knee = lag_ms[ramps] > top
    knee_x = foot_x[knee] + top / 1000
    xs = np.concatenate([x, foot_x, knee_x])
    ys = np.concatenate([np.minimum(lag_ms, top), np.zeros(len(foot_x)), np.full(len(knee_x), top)])
    order = np.argsort(xs, kind="stable")
    return xs[order], ys[order]


def _fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"
