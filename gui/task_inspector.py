"""The task inspector: the asyncio tasks of the running loop, live - name, state, what each awaits, age.

During an async fetch a class sees one task per URL appear, wait ("Semaphore.acquire", then a network
read), and turn done - or cancelled - together. Finished tasks stay a few seconds, greyed, so the change
can be seen. The view refreshes four times a second, and only while it is on screen.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

REFRESH_MS = 250
KEEP_FINISHED_S = 3.0  # a finished task stays listed (greyed) this long
PENDING, DONE, CANCELLED, FAILED = "pending", "done", "cancelled", "failed"
COLUMNS = ("Task", "Coroutine", "State", "Awaiting", "Age")
_MISSING = object()
ModelIndex = QModelIndex | QPersistentModelIndex


# --- what a task is waiting for (best effort: it reads the coroutine chain, nothing is changed) -----------


def await_chain(coro: Any) -> list[str]:
    """Qualified names of the coroutines from the task's own one to the innermost it is awaiting."""
    names: list[str] = []
    obj = coro
    for _ in range(64):  # a guard: chains are short
        code = getattr(obj, "cr_code", None) or getattr(obj, "gi_code", None) or getattr(obj, "ag_code", None)
        if code is None:
            break
        names.append(getattr(code, "co_qualname", code.co_name).replace("<locals>.", ""))
        nxt = next(
            (getattr(obj, a) for a in ("cr_await", "gi_yieldfrom", "ag_await") if getattr(obj, a, None)), None
        )
        if nxt is None:
            break
        obj = nxt
    return names


def _public(qualname: str) -> bool:
    return not qualname.rsplit(".", 1)[-1].startswith("_")


def describe_await(task: asyncio.Task[Any]) -> str:
    """'sleep', 'Semaphore.acquire', 'StreamReader.read', 'task fetch-run', 'gather', 'not started yet'."""
    coro = task.get_coro()
    if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
        return "not started yet"
    if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_RUNNING:
        return "running now"
    chain = await_chain(coro)
    # The Future the task is parked on (a private attribute of asyncio.Task: read only, best effort).
    waiter = getattr(task, "_fut_waiter", None)
    if isinstance(waiter, asyncio.Task):
        return f"task {waiter.get_name()}"
    if len(chain) > 1:
        # The innermost two public coroutines read best: "ClientResponse.start → DataQueue.read" says
        # "waiting for the response headers"; private helpers ("._wait") and dunders add only noise.
        public = [name for name in chain[1:] if _public(name)]
        return " → ".join(public[-2:]) if public else chain[-1]
    if waiter is not None:
        kind = type(waiter).__name__
        return "gather" if kind == "_GatheringFuture" else kind
    return ""


def task_state(task: asyncio.Task[Any]) -> str:
    if not task.done():
        return PENDING
    if task.cancelled():
        return CANCELLED
    # Not task.exception(): asking marks the error as seen, which would silence asyncio's own
    # "exception was never retrieved" report. Read the stored exception without touching it.
    exc = getattr(task, "_exception", _MISSING)
    return FAILED if exc is not _MISSING and exc is not None else DONE


def coroutine_name(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", None) or type(coro).__name__
    return name.replace("<locals>.", "")


@dataclass
class Row:
    task: asyncio.Task[Any]
    name: str
    coroutine: str
    first_seen: float
    state: str = PENDING
    awaiting: str = ""
    ended: float | None = None  # when the inspector saw it finished

    def age(self, now: float) -> float:
        return (self.ended if self.ended is not None else now) - self.first_seen


class TasksModel(QAbstractTableModel):
    """Rows in order of first sight; finished rows linger ``keep_s`` seconds, then go."""

    def __init__(self, keep_s: float = KEEP_FINISHED_S, parent=None) -> None:
        super().__init__(parent)
        self.keep_s = keep_s
        self.rows: list[Row] = []
        self._now = time.monotonic()

    # --- updating ----------------------------------------------------------------------------------------
    def refresh(self, tasks: Iterable[asyncio.Task[Any]], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._now = now
        live = set(tasks)
        # 1. Drop finished rows that have been shown long enough (one block at a time, from the end).
        for i in range(len(self.rows) - 1, -1, -1):
            row = self.rows[i]
            if row.ended is not None and now - row.ended >= self.keep_s:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self.rows[i]
                self.endRemoveRows()
        # 2. Update the rest: a task leaves all_tasks() when it finishes.
        known = {id(row.task) for row in self.rows}
        for row in self.rows:
            if row.ended is None:
                row.state = task_state(row.task)
                if row.state == PENDING and row.task not in live:
                    row.state = DONE  # (not from this loop any more - should not happen)
                if row.state != PENDING:
                    row.ended = now
                    row.awaiting = _outcome(row.task, row.state)
                else:
                    row.awaiting = describe_await(row.task)
                    row.name = row.task.get_name()
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1))
        # 3. Append tasks seen for the first time.
        new = [t for t in live if id(t) not in known and not t.done()]
        if new:
            new.sort(key=lambda t: _task_number(t.get_name()))
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for t in new:
                self.rows.append(Row(t, t.get_name(), coroutine_name(t), now, PENDING, describe_await(t)))
            self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.rows.clear()
        self.endResetModel()

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((PENDING, DONE, CANCELLED, FAILED), 0)
        for row in self.rows:
            counts[row.state] += 1
        return counts

    # --- the model ---------------------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section] if 0 <= section < len(COLUMNS) else None
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self.rows)):
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.name, row.coroutine, row.state, row.awaiting, f"{row.age(self._now):.1f} s")[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 3 and row.state == PENDING:
                return "Awaiting: " + " → ".join(await_chain(row.task.get_coro()))
            return None
        if role == Qt.ItemDataRole.ForegroundRole and row.state != PENDING:
            return QBrush(QColor("#9e9e9e"))  # finished: greyed out until it goes
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _outcome(task: asyncio.Task[Any], state: str) -> str:
    if state == FAILED:
        exc = getattr(task, "_exception", None)
        return f"{type(exc).__name__}: {exc}" if exc is not None else "failed"
    return ""


def _task_number(name: str) -> tuple[int, str]:
    # "Task-12" before "Task-100": the order they were created in.
    head, _, tail = name.rpartition("-")
    return (int(tail), head) if tail.isdigit() else (1 << 62, name)


class TaskInspector(QWidget):
    """``TaskInspector(loop=None)``: put it in a dock or tab; it refreshes itself while visible."""

    refreshed = Signal()  # after each refresh (tests wait on it)

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loop = loop
        self.model = TasksModel(parent=self)
        self.summary = QLabel("No tasks")
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self._size_columns()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)

    def loop(self) -> asyncio.AbstractEventLoop | None:
        if self._loop is not None:
            return self._loop
        try:
            return asyncio.get_event_loop()
        except RuntimeError:
            return None

    def refresh(self) -> None:
        loop = self.loop()
        tasks = asyncio.all_tasks(loop) if loop is not None and not loop.is_closed() else set()
        self.model.refresh(tasks)
        c = self.model.counts()
        parts = [f"{c[PENDING]} pending", f"{c[DONE]} done"]
        parts += [f"{c[s]} {s}" for s in (CANCELLED, FAILED) if c[s]]
        self.summary.setText("Tasks: " + " · ".join(parts))
        self.refreshed.emit()

    # Refresh only while on screen: a hidden inspector costs nothing.
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
        self.timer.start()

    def hideEvent(self, event) -> None:
        self.timer.stop()
        super().hideEvent(event)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            self._size_columns()

    def _size_columns(self) -> None:
        fm = self.fontMetrics()
        samples = {0: "fetch-async-run-00", 1: "fetch_async.one____", 2: "cancelled__", 4: "999.9 s__"}
        for col, sample in samples.items():
            self.view.setColumnWidth(col, fm.horizontalAdvance(sample))
        self.view.verticalHeader().setDefaultSectionSize(int(fm.height() * 1.4))
