"""The responsiveness meter: a ~60 Hz timer on the GUI thread and a widget that moves with it.

While the GUI thread is blocked the timer cannot fire, so the gaps between recorded ticks are the stalls.
asyncio's own slow-callback warning cannot see a blocking Qt slot, so the meter is our own.
"""

from __future__ import annotations

import math
import time
from collections import deque

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from services.stalls import StallStats

INTERVAL_MS = 16  # while a run is in flight: every 60 Hz frame is measured
IDLE_INTERVAL_MS = 33  # at rest nothing is measured: 30 Hz keeps the dot moving at half the idle CPU
HISTORY_S = 600  # keep ten minutes of ticks: enough for any run's window


class Heartbeat(QObject):
    """Records when each tick really fired; lag = actual interval - expected interval."""

    ticked = Signal(float)  # lag of this tick, seconds

    def __init__(
        self,
        interval_ms: int = INTERVAL_MS,
        parent: QObject | None = None,
        idle_interval_ms: int | None = None,
    ) -> None:
        super().__init__(parent)
        self._fast_ms, self._idle_ms = interval_ms, idle_interval_ms or interval_ms
        self.interval = interval_ms / 1000
        self.ticks: deque[float] = deque(maxlen=int(HISTORY_S / self.interval))
        self.last_lag = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.ticks.append(time.perf_counter())
        self._timer.start()

    def set_fast(self, fast: bool) -> None:
        """Full rate while runs are in flight, half rate at rest (the idle CPU target)."""
        interval_ms = self._fast_ms if fast else self._idle_ms
        if self._timer.interval() != interval_ms:
            self.interval = interval_ms / 1000
            self._timer.setInterval(interval_ms)

    def stop(self) -> None:
        self._timer.stop()

    def is_active(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.ticks:
            self.last_lag = max(0.0, now - self.ticks[-1] - self.interval)
        self.ticks.append(now)
        self.ticked.emit(self.last_lag)

    def stats(self, start: float, end: float) -> StallStats:
        return StallStats.from_ticks(self.ticks, start, end, self.interval)

    def count_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.ticks if start < t < end)


class PulseWidget(QWidget):
    """A dot that sweeps back and forth, one step per heartbeat tick.

    Its position comes from the wall clock, so after a freeze it jumps: the class sees the stop and the jump.
    The colour follows the current lag: green when smooth, amber past one frame, red past 100 ms.
    """

    def __init__(self, heartbeat: Heartbeat, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hb = heartbeat
        self._lag = 0.0
        self._phase = 0.0
        self.setMinimumSize(160, 36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Moves every frame while the UI thread is free; stops when it is blocked.")
        heartbeat.ticked.connect(self._on_tick)

    def _on_tick(self, lag: float) -> None:
        self._lag = lag
        self._phase = (time.perf_counter() % 2.0) / 2.0
        # The whole strip: repainting only the dot's old and new places measured no cheaper and left ghosts.
        self.update()

    def _track(self) -> QRectF:
        return QRectF(self.rect()).adjusted(2, 2, -2, -2)

    def _dot_centre(self) -> tuple[QPointF, float]:
        r = self._track()
        radius = r.height() / 2 - 4
        swing = 0.5 - 0.5 * math.cos(2 * math.pi * self._phase)
        x = r.left() + radius + 4 + (r.width() - 2 * radius - 8) * swing
        return QPointF(x, r.center().y()), radius

    def lag_colour(self) -> QColor:
        if self._lag > 0.1:
            return QColor("#d32f2f")
        if self._lag > 1 / 60:
            return QColor("#f9a825")
        return QColor("#2e7d32")

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self._track()
        p.setPen(QPen(self.palette().mid().color(), 1))
        p.setBrush(self.palette().base())
        p.drawRoundedRect(r, r.height() / 2, r.height() / 2)
        centre, radius = self._dot_centre()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.lag_colour())
        p.drawEllipse(centre, radius, radius)
        p.end()
