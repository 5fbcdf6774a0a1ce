"""Table models: one row per run, and the per-item results of a selected run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from services.runs import ItemResult, RunResult

Index = QModelIndex | QPersistentModelIndex

_STATUS_COLOUR = {"ok": "#2e7d32", "partial": "#ef6c00", "failed": "#c62828", "cancelled": "#6d4c41"}


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


# (header, text for a run, tooltip for the header)
RUN_COLUMNS: list[tuple[str, Callable[[int, RunResult], str], str]] = [
    ("#", lambda n, r: str(n), "Run number"),
    ("Workload", lambda n, r: r.workload, "What the run did"),
    ("Mode", lambda n, r: r.mode, "How it ran: blocking on the UI thread, or awaited"),
    ("Items", lambda n, r: str(len(r.items)), "Units of work in the run"),
    ("OK", lambda n, r: str(r.ok_count), "Items that succeeded"),
    ("Failed", lambda n, r: str(r.failed_count), "Items that failed or were cancelled"),
    ("Status", lambda n, r: r.status, "ok, partial (some items failed), failed, cancelled"),
    ("Wall s", lambda n, r: f"{r.wall_s:.2f}", "Time from start to end of the run"),
    ("Σ items s", lambda n, r: f"{r.items_sum_s:.2f}", "Sum of every item's own time"),
    (
        "Overlap ×",
        lambda n, r: f"{r.concurrency:.1f}",
        "Σ items / wall: about 1 one-after-another, N if N overlap",
    ),
    ("Speed-up ×", lambda n, r: "", "Wall time of the last blocking run of the same work ÷ this run's"),
    ("Max stall ms", lambda n, r: _fmt(r.max_stall_ms, ".0f"), "Longest time the UI could not repaint"),
    ("Missed frames", lambda n, r: _fmt(r.missed_frames, "d"), "60 Hz frames the UI lost during the run"),
]

SPEEDUP_COLUMN = [c[0] for c in RUN_COLUMNS].index("Speed-up ×")


class RunsModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._runs: list[RunResult] = []
        self._speedups: list[float | None] = []

    # --- data access -------------------------------------------------------------------------------------
    def add_run(self, run: RunResult) -> int:
        row = len(self._runs)
        self.beginInsertRows(QModelIndex(), row, row)
        self._speedups.append(self._speedup(run))
        self._runs.append(run)
        self.endInsertRows()
        return row

    def _speedup(self, run: RunResult) -> float | None:
        """Against the last blocking run of the same work (same workload and size), if there is one."""
        size = run.params.get("size")
        if size is None or run.error or run.cancelled or run.wall_s <= 0:
            return None
        for prev in reversed(self._runs):
            if (
                prev.mode == "blocking"
                and prev.workload == run.workload
                and prev.params.get("size") == size
                and not prev.cancelled
                and not prev.error
            ):
                return prev.wall_s / run.wall_s
        return None

    def speedup_at(self, row: int) -> float | None:
        return self._speedups[row]

    def run_at(self, row: int) -> RunResult:
        return self._runs[row]

    def runs(self) -> list[RunResult]:
        return list(self._runs)

    def clear(self) -> None:
        self.beginResetModel()
        self._runs.clear()
        self._speedups.clear()
        self.endResetModel()

    # --- Qt model interface ------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(RUN_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(RUN_COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return RUN_COLUMNS[section][0]
            if role == Qt.ItemDataRole.ToolTipRole:
                return RUN_COLUMNS[section][2]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._runs)):
            return None
        run = self._runs[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == SPEEDUP_COLUMN:
                return _fmt(self._speedups[index.row()], ".2f")
            return RUN_COLUMNS[index.column()][1](index.row() + 1, run)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if index.column() >= 3 and index.column() != 6:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 6:
            return QColor(_STATUS_COLOUR.get(run.status, "#000000"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return run.error or run.blocked_in
        return None


ITEM_COLUMNS: list[tuple[str, Callable[[ItemResult], str]]] = [
    ("Item", lambda i: i.label),
    ("Outcome", lambda i: i.outcome),
    ("Seconds", lambda i: f"{i.seconds:.3f}"),
    ("Start s", lambda i: f"{i.started:.3f}"),
    ("End s", lambda i: f"{i.ended:.3f}"),
    ("Error / detail", lambda i: i.error or _detail_text(i)),
]

_DETAIL_SKIP = {"first_rows", "columns", "url", "result", "truncated"}


def _detail_text(item: ItemResult) -> str:
    return ", ".join(f"{k} {v}" for k, v in item.detail.items() if k not in _DETAIL_SKIP)


class ItemsModel(QAbstractTableModel):
    """The per-item results of one run (the one selected in the runs table)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._items: tuple[ItemResult, ...] = ()

    def set_run(self, run: RunResult | None) -> None:
        self.beginResetModel()
        self._items = run.items if run is not None else ()
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(ITEM_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DisplayRole and horizontal and 0 <= section < len(ITEM_COLUMNS):
            return ITEM_COLUMNS[section][0]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._items)):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return ITEM_COLUMNS[index.column()][1](item)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 1:
            return QColor(
                _STATUS_COLOUR[
                    "ok" if item.ok else ("cancelled" if item.outcome == "cancelled" else "failed")
                ]
            )
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 5:
            return item.error or _detail_text(item)
        return None


class ResultsModel(QAbstractTableModel):
    """The first rows a query returned (capped), under its column names."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._columns: list[str] = []
        self._rows: list[tuple[Any, ...]] = []

    def set_rows(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.beginResetModel()
        self._columns, self._rows = list(columns), list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._columns[section] if 0 <= section < len(self._columns) else None
        return str(section + 1)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        if not (0 <= index.row() < len(self._rows)):
            return None
        row = self._rows[index.row()]
        value = row[index.column()] if index.column() < len(row) else None
        return "NULL" if value is None else str(value)
