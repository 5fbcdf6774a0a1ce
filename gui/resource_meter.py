"""The resource meter: CPU % per core, and CPU and memory of the app and each of its worker processes.

It answers "where does the work run?": in process mode every core lights up and the worker rows are busy;
in thread mode the app's own row sits near 100 % (one core - the GIL lets one thread run Python at a time)
while the other cores idle.

Readings come from psutil once a second, only while the widget is visible. A worker that exits between two
readings (the pool restarts on cancel or crash) just drops out of the list.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psutil
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRect, Qt, QTimer
from PySide6.QtGui import QColor, QHideEvent, QPainter, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.plotstyle import apply_axis_fonts

REFRESH_MS = 1000
IDLE = QColor("#cfd8dc")  # a core at 0 %
BUSY = QColor("#ff6d00")  # a core at 100 %: it "lights up"
ROLE_APP, ROLE_WORKER = "app", "worker"
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


@dataclass(frozen=True)
class ProcessReading:
    pid: int
    role: str  # 'app' | 'worker'
    cpu: float  # % of one core since the previous reading (a busy process with threads can exceed 100)
    rss: int  # resident memory, bytes
    name: str = ""  # 'Freeze Lab (this app)', 'worker 1', ...


@dataclass(frozen=True)
class ResourceSnapshot:
    per_core: tuple[float, ...]  # % busy of each logical core since the previous reading
    processes: tuple[ProcessReading, ...]

    @property
    def total_rss(self) -> int:
        return sum(p.rss for p in self.processes)

    def workers(self) -> tuple[ProcessReading, ...]:
        return tuple(p for p in self.processes if p.role == ROLE_WORKER)


def load_colour(percent: float) -> QColor:
    """Grey-blue when idle, through to bright orange at 100 %."""
    f = max(0.0, min(percent, 100.0)) / 100
    return QColor(
        round(IDLE.red() + (BUSY.red() - IDLE.red()) * f),
        round(IDLE.green() + (BUSY.green() - IDLE.green()) * f),
        round(IDLE.blue() + (BUSY.blue() - IDLE.blue()) * f),
    )


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


class ProcessSampler:
    """Keeps one psutil.Process per pid so cpu_percent() measures since the previous call (the first call
    for a new pid reads 0 - it has nothing to compare with yet)."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def read(self, pids: Sequence[tuple[int, str, str]]) -> list[ProcessReading]:
        wanted = {pid for pid, _, _ in pids}
        for gone in set(self._procs) - wanted:
            del self._procs[gone]
        readings = []
        for pid, role, name in pids:
            try:
                proc = self._procs.get(pid)
                if proc is None:
                    proc = self._procs[pid] = psutil.Process(pid)
                with proc.oneshot():
                    readings.append(
                        ProcessReading(pid, role, proc.cpu_percent(None), proc.memory_info().rss, name)
                    )
            except _GONE:  # exited since the pool listed it: not an error, just no longer there
                self._procs.pop(pid, None)
        return readings


class _CpuBarDelegate(QStyledItemDelegate):
    """Draws the CPU column as a bar (0-100 % of one core) with the number on top."""

    def paint(
        self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        value = index.data(Qt.ItemDataRole.UserRole) or 0.0
        super().paint(p, option, index)
        r = option.rect.adjusted(3, 3, -3, -3)
        p.save()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#eceff1"))
        p.drawRect(r)
        p.setBrush(load_colour(value))
        p.drawRect(QRect(r.left(), r.top(), round(r.width() * min(value, 100.0) / 100), r.height()))
        p.setPen(QColor("#212121"))
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, f"{value:.0f} %")
        p.restore()


class ResourceMeter(QWidget):
    """``ResourceMeter(pids_provider)``: ``pids_provider()`` gives the worker pids (e.g. pool.worker_pids)."""

    def __init__(
        self,
        pids_provider: Callable[[], Sequence[int]],
        parent: QWidget | None = None,
        refresh_ms: int = REFRESH_MS,
    ) -> None:
        super().__init__(parent)
        self._pids_provider = pids_provider
        self._sampler = ProcessSampler()
        self.cores = psutil.cpu_count() or 1
        psutil.cpu_percent(percpu=True)  # prime: the first reading is measured from here
        self._snapshot = ResourceSnapshot((0.0,) * self.cores, ())

        # --- per-core bars -------------------------------------------------------------------------------
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.getViewBox().wheelEvent = lambda ev, axis=None: ev.ignore()
        self.plot.setXRange(-0.6, self.cores - 0.4, padding=0)
        self.plot.setYRange(-3, 118, padding=0)  # headroom for the numbers above full bars
        self.plot.showGrid(x=False, y=True, alpha=0.25)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen("#455a64"))
            axis.setTextPen(pg.mkPen("#263238"))
        self.plot.getAxis("left").setTicks([[(v, f"{v}") for v in (0, 50, 100)], []])
        self.plot.getAxis("left").setLabel("CPU %")
        short = self.cores > 8
        self.plot.getAxis("bottom").setTicks(
            [[(i, f"{i + 1}" if short else f"core {i + 1}") for i in range(self.cores)], []]
        )
        if short:
            self.plot.getAxis("bottom").setLabel("core")
        self.bars = pg.BarGraphItem(
            x=list(range(self.cores)), height=[0.0] * self.cores, width=0.7, brushes=[IDLE] * self.cores
        )
        self.plot.addItem(self.bars)
        self.core_texts: list[pg.TextItem] = []
        if self.cores <= 16:  # the numbers only while they fit
            for i in range(self.cores):
                text = pg.TextItem("", color="#263238", anchor=(0.5, 1))
                text.setPos(i, 0)
                self.plot.addItem(text)
                self.core_texts.append(text)

        # --- processes ------------------------------------------------------------------------------------
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Process", "PID", "CPU", "Memory"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeaderItem(2).setToolTip("% of one core: 100 % = one core fully busy")
        self.table.horizontalHeaderItem(3).setToolTip("Resident memory (RSS)")
        header = self.table.horizontalHeader()
        for col in (1, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        self.table.setItemDelegateForColumn(2, _CpuBarDelegate(self.table))

        self.title = QLabel()
        self.title.setWordWrap(True)
        self.core_title = QLabel(f"CPU per core ({self.cores} logical cores)")
        self.proc_title = QLabel("The app and its worker processes")
        left = QVBoxLayout()
        left.addWidget(self.core_title)
        left.addWidget(self.plot, 1)
        right = QVBoxLayout()
        right.addWidget(self.proc_title)
        right.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addLayout(left, 1)
        row.addLayout(right, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(row, 1)
        outer.addWidget(self.title)

        self._timer = QTimer(self)
        self._timer.setInterval(refresh_ms)
        self._timer.timeout.connect(self.refresh)
        self._apply_fonts()

    # --- readings ------------------------------------------------------------------------------------------
    def refresh(self) -> ResourceSnapshot:
        """Take a reading now (the timer calls this once a second while visible) and show it.

        CPU figures are averages since the previous reading (or baseline)."""
        per_core = tuple(psutil.cpu_percent(percpu=True))
        self._snapshot = ResourceSnapshot(per_core, tuple(self._sampler.read(self._pids())))
        self._show(self._snapshot)
        return self._snapshot

    def baseline(self) -> None:
        """Start the next reading's averaging period now, without showing anything (on show: a reading
        right away would average over the whole hidden time, or over almost no time at all)."""
        psutil.cpu_percent(percpu=True)
        self._sampler.read(self._pids())

    def _pids(self) -> list[tuple[int, str, str]]:
        pids = [(os.getpid(), ROLE_APP, "this app")]
        try:
            workers = list(self._pids_provider())
        except Exception:  # a pool being restarted may not know its pids for a moment: show none
            workers = []
        return pids + [
            (pid, ROLE_WORKER, f"worker {n}") for n, pid in enumerate(workers, 1) if pid != os.getpid()
        ]

    def snapshot(self) -> ResourceSnapshot:
        """The latest reading."""
        return self._snapshot

    def _show(self, snap: ResourceSnapshot) -> None:
        self.bars.setOpts(height=list(snap.per_core), brushes=[load_colour(v) for v in snap.per_core])
        for text, value in zip(self.core_texts, snap.per_core, strict=False):
            text.setText(f"{value:.0f} %")
            text.setPos(text.pos().x(), value)
        self.table.setRowCount(len(snap.processes))
        for r, proc in enumerate(snap.processes):
            cells = [proc.name, str(proc.pid), "", _mb(proc.rss)]
            for c, value in enumerate(cells):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    if c in (1, 3):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(r, c, item)
                item.setText(value)
            self.table.item(r, 2).setData(Qt.ItemDataRole.UserRole, proc.cpu)
            self.table.item(r, 2).setToolTip(f"{proc.cpu:.0f} % of one core")
        workers = snap.workers()
        busy = sum(1 for v in snap.per_core if v >= 50)
        app = [p for p in snap.processes if p.role == ROLE_APP]
        memory = f"app {_mb(app[0].rss)}" if app else "app —"
        memory += (
            f" + {len(workers)} workers {_mb(sum(w.rss for w in workers))}" if workers else ", no workers"
        )
        self.title.setText(f"{busy} of {self.cores} cores busy · memory: {memory}")

    # --- visibility and fonts ------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.baseline()
        self._timer.start()  # the first reading comes one period from now

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def is_refreshing(self) -> bool:
        return self._timer.isActive()

    def _apply_fonts(self) -> None:
        font = self.font()
        fm = apply_axis_fonts(self.plot, font, "100")
        for text in self.core_texts:
            text.setFont(font)
        self.table.verticalHeader().setDefaultSectionSize(int(fm.height() * 1.5))
        self.table.horizontalHeader().resizeSection(2, fm.horizontalAdvance("100 %") * 3)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._apply_fonts()
        super().changeEvent(event)
