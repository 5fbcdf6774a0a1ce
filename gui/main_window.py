"""The main window: mode toggle, responsiveness meter, one panel per workload, the runs table."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.context import AppContext
from gui.cpu_panel import CpuPanel
from gui.fetch_panel import FetchPanel
from gui.heartbeat import PulseWidget
from gui.panel import WorkloadPanel
from gui.runs_model import ItemsModel, RunsModel
from gui.sqlite_panel import SqlitePanel
from gui.widgets import FreezeBanner, ModeToggle
from services import history as history_mod
from services.runs import RunResult

HISTORY_ROWS = 1000  # runs loaded into the table at start (the file keeps them all)

EXPLAIN = {
    "blocking": "Blocking: the Run handler calls the work directly on the UI thread. Until it returns, "
    "Qt cannot repaint, react to clicks or take keys — the dot stops.",
    "async": "Async: the Run handler awaits the work. Whenever the work waits (network, disk, a worker), "
    "control goes back to the event loop, which keeps the window alive — the dot keeps moving.",
}


class MainWindow(QMainWindow):
    close_requested = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("Freeze Lab — blocking vs async")
        self.resize(1240, 780)

        # --- header: toggle, explanation, the moving dot, a box to type in -------------------------------
        self.toggle = ModeToggle()
        self.toggle.mode_changed.connect(ctx.set_mode)
        ctx.mode_changed.connect(self._on_mode_changed)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.pulse = PulseWidget(ctx.heartbeat)
        self.lag_label = QLabel("lag 0 ms")
        self.lag_label.setMinimumWidth(90)
        self.lag_label.setToolTip("How late the last heartbeat tick was (one frame is 16.7 ms)")
        ctx.heartbeat.ticked.connect(self._on_tick)
        self.type_here = QLineEdit()
        self.type_here.setPlaceholderText("Type here during a run — does it keep up?")
        self.banner = FreezeBanner()

        header = QGridLayout()
        header.addWidget(self.toggle, 0, 0, 2, 1, Qt.AlignmentFlag.AlignVCenter)
        header.addWidget(self.explain, 0, 1, 1, 2)
        header.addWidget(self.pulse, 1, 1)
        header.addWidget(self.lag_label, 1, 2)
        header.addWidget(self.type_here, 2, 0)
        header.addWidget(self.banner, 2, 1, 1, 2)
        header.setColumnStretch(1, 1)

        # --- workloads -----------------------------------------------------------------------------------
        self.tabs = QTabWidget()
        self.panels: dict[str, WorkloadPanel] = {}
        self.add_panel(FetchPanel(ctx))
        self.add_panel(SqlitePanel(ctx))
        self.add_panel(CpuPanel(ctx))

        # --- runs table and the selected run's items -----------------------------------------------------
        self.runs_model = RunsModel(self)
        self.runs_view = _table(self.runs_model)
        self.runs_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runs_view.selectionModel().selectionChanged.connect(self._on_selection)
        self.items_model = ItemsModel(self)
        self.items_view = _table(self.items_model)
        self.items_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.items_view.horizontalHeader().setStretchLastSection(True)
        self.items_title = QLabel("Select a run to see its items")
        items_box = QWidget()
        items_layout = QVBoxLayout(items_box)
        items_layout.setContentsMargins(0, 0, 0, 0)
        items_layout.addWidget(self.items_title)
        items_layout.addWidget(self.items_view)
        runs_box = QWidget()
        runs_layout = QVBoxLayout(runs_box)
        runs_layout.setContentsMargins(0, 0, 0, 0)
        runs_layout.addWidget(QLabel("Runs"))
        runs_layout.addWidget(self.runs_view)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(runs_box)
        bottom.addWidget(items_box)
        bottom.setSizes([760, 480])

        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.tabs)
        self.split.addWidget(bottom)
        self.split.setSizes([330, 300])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(header)
        layout.addWidget(self.split, 1)
        self.setCentralWidget(central)
        self._build_menus()
        ctx.status.connect(self.statusBar().showMessage)
        self._on_mode_changed(ctx.mode())
        self.toggle.set_mode(ctx.mode())
        self.load_history()

    # --- building ----------------------------------------------------------------------------------------
    def add_panel(self, panel: WorkloadPanel) -> None:
        self.panels[panel.workload] = panel
        self.tabs.addTab(panel, panel.title)
        panel.run_finished.connect(self.add_run)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(QAction("&Export all runs…", self, triggered=lambda: self.export_dialog(False)))
        file_menu.addAction(
            QAction("Export &selected runs…", self, triggered=lambda: self.export_dialog(True))
        )
        file_menu.addAction(QAction("&Clear history…", self, triggered=self.clear_history))
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close)
        file_menu.addAction(quit_action)
        run_menu = self.menuBar().addMenu("&Run")
        self.run_action = QAction("&Run", self, shortcut=QKeySequence("F5"), triggered=self.run_current)
        self.cancel_action = QAction(
            "&Cancel", self, shortcut=QKeySequence("Esc"), triggered=self.cancel_current
        )
        self.mode_action = QAction(
            "Toggle &Blocking/Async", self, shortcut=QKeySequence("Ctrl+M"), triggered=self.toggle.toggle
        )
        for a in (self.run_action, self.cancel_action, self.mode_action):
            run_menu.addAction(a)
        tools = self.menuBar().addMenu("&Tools")
        sqlite_panel = self.panels["sqlite"]
        tools.addAction(QAction("Open SQLite &database…", self, triggered=sqlite_panel.choose_file))
        tools.addAction(QAction("&Rebuild demo database", self, triggered=sqlite_panel.rebuild_demo))
        tools.addAction(QAction("&Crash a pool worker", self, triggered=self.panels["cpu"].crash_worker))

    # --- behaviour ---------------------------------------------------------------------------------------
    def current_panel(self) -> WorkloadPanel:
        return self.tabs.currentWidget()  # type: ignore[return-value]

    def run_current(self) -> None:
        self.current_panel().start_run()

    def cancel_current(self) -> None:
        self.current_panel().cancel_run()

    # --- history -----------------------------------------------------------------------------------------
    def load_history(self) -> None:
        history = self.ctx.history
        if history is None:
            return
        for run in history.load(limit=HISTORY_ROWS):
            self.runs_model.add_run(run)
        if history.notice:
            self.banner.show_text(history.notice, False)
        if self.runs_model.rowCount():
            self.runs_view.scrollToBottom()
            self.statusBar().showMessage(f"{self.runs_model.rowCount()} runs loaded from history", 6000)

    def selected_runs(self) -> list[RunResult]:
        rows = sorted({i.row() for i in self.runs_view.selectionModel().selectedRows()})
        return [self.runs_model.run_at(r) for r in rows]

    def export_dialog(self, selected_only: bool) -> None:
        runs = self.selected_runs() if selected_only else self.runs_model.runs()
        if not runs:
            self.statusBar().showMessage(
                "No runs to export" + (" (select some rows first)" if selected_only else "")
            )
            return
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Export runs",
            "freezelab-runs.csv",
            "CSV, one row per run (*.csv);;CSV, one row per item (*.items.csv);;JSON (*.json)",
        )
        if name:
            self.export_runs(runs, Path(name))

    def export_runs(self, runs: list[RunResult], path: Path) -> Path | None:
        try:
            if path.suffix.lower() == ".json":
                out = history_mod.export_json(runs, path)
            else:
                out = history_mod.export_csv(runs, path, items=path.name.lower().endswith(".items.csv"))
        except OSError as exc:
            self.banner.show_text(f"Could not export to {path}: {exc.strerror or exc}", False)
            return None
        self.statusBar().showMessage(f"Exported {len(runs)} runs to {out}", 10000)
        return out

    def clear_history(self, confirm: bool = True) -> None:
        if confirm:
            answer = QMessageBox.question(
                self,
                "Clear history",
                f"Delete all {self.runs_model.rowCount()} runs from the table and the history?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        if self.ctx.history is not None and not self.ctx.history.delete_all():
            self.banner.show_text(self.ctx.history.notice or "The history could not be cleared", False)
            return
        self.runs_model.clear()
        self.items_model.set_run(None)
        self.statusBar().showMessage("History cleared", 6000)

    def add_run(self, run: RunResult) -> None:
        if self.ctx.history is not None:
            self.ctx.history.add(run)  # never raises: a locked file keeps the run pending and says so
        row = self.runs_model.add_run(run)
        self.banner.show_run(run)
        self.runs_view.scrollToBottom()
        self.runs_view.selectionModel().select(
            self.runs_model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.statusBar().showMessage(f"Run #{row + 1} finished: {run.status}", 8000)

    def _on_selection(self, *_args) -> None:
        rows = sorted({i.row() for i in self.runs_view.selectionModel().selectedRows()})
        run = self.runs_model.run_at(rows[-1]) if rows else None
        self.items_model.set_run(run)
        if run is None:
            self.items_title.setText("Select a run to see its items")
        else:
            extra = f" — {run.error}" if run.error else ""
            self.items_title.setText(f"Items of run #{rows[-1] + 1} ({run.mode} {run.workload}){extra}")

    def _on_mode_changed(self, mode: str) -> None:
        self.toggle.set_mode(mode)
        self.explain.setText(EXPLAIN[mode])

    def _on_tick(self, lag: float) -> None:
        self.lag_label.setText(f"lag {lag * 1000:.0f} ms")

    def closeEvent(self, event: QCloseEvent) -> None:
        # The app's main coroutine owns shutdown: it cancels tasks and closes services, then exits.
        event.accept()
        self.close_requested.emit()


def _table(model) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(24)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    return view
