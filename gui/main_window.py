"""The main window: mode toggle and heartbeat on top, workload panels beside the "why" tabs, runs below."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
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
from gui.insights import InsightTabs
from gui.panel import WorkloadPanel
from gui.runs_model import RunsModel
from gui.settings import AppSettings, Zoom
from gui.sqlite_panel import SqlitePanel
from gui.widgets import FreezeBanner, ModeToggle
from services import export
from services.runs import RunResult

HISTORY_ROWS = 1000  # runs loaded into the table at start (the file keeps them all)
LAG_LABEL_MS = 100  # refresh the lag readout at most 10 times a second


class MainWindow(QMainWindow):
    close_requested = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("Freeze Lab — blocking vs async")
        self.settings = AppSettings(ctx.data_dir / "settings.ini")
        self.zoom = Zoom(QApplication.instance())

        # --- header: toggle, explanation, the moving dot, a box to type in, the verdict ------------------
        self.toggle = ModeToggle()
        self.toggle.mode_changed.connect(ctx.set_mode)
        ctx.mode_changed.connect(self._on_mode_changed)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.pulse = PulseWidget(ctx.heartbeat)
        self.lag_label = QLabel("lag 0 ms")
        self.lag_label.setToolTip("How late the last heartbeat tick was (one frame is 16.7 ms)")
        self._lag_timer = QTimer(self, interval=LAG_LABEL_MS, timeout=self._show_lag)
        self._lag_timer.start()
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

        # --- workloads beside the "why" tabs --------------------------------------------------------------
        self.tabs = QTabWidget()
        self.panels: dict[str, WorkloadPanel] = {}
        for panel in (FetchPanel(ctx), SqlitePanel(ctx), CpuPanel(ctx)):
            self.add_panel(panel)
        self.insights = InsightTabs(ctx, _table)
        self.middle = QSplitter(Qt.Orientation.Horizontal)
        self.middle.addWidget(self.tabs)
        self.middle.addWidget(self.insights)
        self.middle.setStretchFactor(0, 5)
        self.middle.setStretchFactor(1, 6)

        # --- the runs table ------------------------------------------------------------------------------
        self.runs_model = RunsModel(self)
        self.runs_view = _table(self.runs_model)
        self.runs_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runs_view.setToolTip(
            "Select a run to see its timeline and items; Ctrl+click a second one to compare"
        )
        self.runs_view.selectionModel().selectionChanged.connect(self._on_selection)
        runs_box = QWidget()
        runs_layout = QVBoxLayout(runs_box)
        runs_layout.setContentsMargins(0, 0, 0, 0)
        runs_layout.addWidget(QLabel("Runs — select one to see why; Ctrl+click another to compare them"))
        runs_layout.addWidget(self.runs_view)

        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.middle)
        self.split.addWidget(runs_box)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(header)
        layout.addWidget(self.split, 1)
        self.setCentralWidget(central)
        self._build_menus()
        ctx.status.connect(self.statusBar().showMessage)
        self.tabs.currentChanged.connect(self.refresh_mode_views)
        self.insights.log.install()
        self.restore_settings()
        self._on_mode_changed(ctx.mode())
        self.load_history()

    # --- building ----------------------------------------------------------------------------------------
    def add_panel(self, panel: WorkloadPanel) -> None:
        self.panels[panel.workload] = panel
        self.tabs.addTab(panel, panel.title)
        panel.run_finished.connect(self.add_run)
        panel.submode_changed.connect(self.refresh_mode_views)

    def _build_menus(self) -> None:
        def action(menu, text, slot, shortcut=None, tip=None):
            a = QAction(text, self)
            a.triggered.connect(slot)
            if shortcut is not None:
                a.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
            if tip:
                a.setStatusTip(tip)
            menu.addAction(a)
            return a

        m = self.menuBar().addMenu("&File")
        action(m, "&Export all runs…", lambda: self.export_dialog(False))
        action(m, "Export &selected runs…", lambda: self.export_dialog(True))
        action(m, "&Clear history…", self.clear_history)
        m.addSeparator()
        action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        m = self.menuBar().addMenu("&Run")
        self.run_action = action(
            m, "&Run", self.run_current, "F5", "Run the current workload in the chosen mode"
        )
        self.cancel_action = action(m, "&Cancel", self.cancel_current, "Esc", "Cancel the running async run")
        self.mode_action = action(m, "Toggle &Blocking/Async", self.toggle.toggle, "Ctrl+M")
        m.addSeparator()
        sqlite_panel, cpu_panel = self.panels["sqlite"], self.panels["cpu"]
        action(m, "Open SQLite &database…", sqlite_panel.choose_file)
        action(m, "Rebuild &demo database", sqlite_panel.rebuild_demo)
        action(m, "Crash a pool &worker", cpu_panel.crash_worker)

        m = self.menuBar().addMenu("&View")
        zoom_in = [QKeySequence(QKeySequence.StandardKey.ZoomIn), QKeySequence("Ctrl+=")]
        self.zoom_in_action = action(m, "Zoom &in", lambda: self.set_zoom(self.zoom.step(+1)), zoom_in)
        self.zoom_out_action = action(
            m, "Zoom &out", lambda: self.set_zoom(self.zoom.step(-1)), QKeySequence.StandardKey.ZoomOut
        )
        self.zoom_reset_action = action(m, "&Actual size", lambda: self.set_zoom(1.0), "Ctrl+0")
        m.addSeparator()
        self.fullscreen_action = action(m, "&Full screen", self.toggle_full_screen, "F11")
        self.fullscreen_action.setCheckable(True)

        m = self.menuBar().addMenu("&Help")
        action(m, "&About Freeze Lab", self.about)

    # --- behaviour ---------------------------------------------------------------------------------------
    def current_panel(self) -> WorkloadPanel:
        return self.tabs.currentWidget()  # type: ignore[return-value]

    def run_current(self) -> None:
        self.current_panel().start_run()

    def cancel_current(self) -> None:
        self.current_panel().cancel_run()

    def refresh_mode_views(self, *_args) -> None:
        """The explanation and the code view follow the current panel and the mode it would run in."""
        panel = self.current_panel()
        mode = panel.effective_mode(self.ctx.mode())
        self.explain.setText(panel.explain(mode))
        self.insights.code.show_source(panel.workload, mode)

    def _on_mode_changed(self, mode: str) -> None:
        self.toggle.set_mode(mode)
        self.refresh_mode_views()

    def _show_lag(self) -> None:
        text = f"lag {self.ctx.heartbeat.last_lag * 1000:.0f} ms"
        if text != self.lag_label.text():
            self.lag_label.setText(text)

    # --- classroom view ----------------------------------------------------------------------------------
    def set_zoom(self, factor: float) -> None:
        factor = self.zoom.set(factor)
        self.toggle.refresh_font()
        self.banner.refresh_font()
        self.settings.set("view/zoom", factor)
        self.statusBar().showMessage(f"Zoom {factor:.0%}", 3000)

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()
        self.fullscreen_action.setChecked(self.isFullScreen())

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About Freeze Lab",
            "Freeze Lab runs the same work blocking (on the UI thread) and async (awaited on a qasync event "
            "loop), so you can see — and feel — the difference.\n\n"
            "F5 run · Esc cancel · Ctrl+M toggle mode · Ctrl+= / Ctrl+- / Ctrl+0 zoom · F11 full screen",
        )

    # --- settings ----------------------------------------------------------------------------------------
    def panel_widgets(self) -> dict[str, dict[str, QWidget]]:
        fetch, sqlite, cpu = self.panels["fetch"], self.panels["sqlite"], self.panels["cpu"]
        return {
            "fetch": {
                "preset": fetch.preset,
                "count": fetch.count,
                "delay": fetch.delay,
                "timeout": fetch.timeout,
                "concurrency": fetch.concurrency,
                "body_cap": fetch.max_mb,
            },
            "sqlite": {"preset": sqlite.preset, "copies": sqlite.copies, "row_cap": sqlite.row_cap},
            "cpu": {"async_mode": cpu.async_mode, "jobs": cpu.jobs, "size": cpu.size},
            "log": {"level": self.insights.log.level},
        }

    def restore_settings(self) -> None:
        s = self.settings
        zoom = s.get_float("view/zoom", 1.0, 0.5, 3.0)
        if zoom != 1.0:
            self.set_zoom(zoom)
        geometry = s.get_bytes("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize_to_screen()
        for key, splitter in (("window/middle", self.middle), ("window/split", self.split)):
            state = s.get_bytes(key)
            if state is not None:
                splitter.restoreState(state)
        for group, widgets in self.panel_widgets().items():
            s.restore_widgets(group, widgets)
        mode = s.get_str("run/mode", "blocking")
        self.ctx.set_mode(mode if mode in ("blocking", "async") else "blocking")
        for name, tabs in (("tab", self.tabs), ("insight", self.insights)):
            index = int(s.get_float(f"window/{name}", 0, 0, tabs.count() - 1))
            tabs.setCurrentIndex(index)

    def save_settings(self) -> None:
        s = self.settings
        s.set("window/geometry", self.saveGeometry())
        s.set("window/middle", self.middle.saveState())
        s.set("window/split", self.split.saveState())
        s.set("window/tab", self.tabs.currentIndex())
        s.set("window/insight", self.insights.currentIndex())
        s.set("run/mode", self.ctx.mode())
        for group, widgets in self.panel_widgets().items():
            s.save_widgets(group, widgets)
        s.sync()

    def resize_to_screen(self) -> None:
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is None:
            self.resize(1260, 780)
            return
        self.resize(min(1400, screen.width() - 20), min(900, screen.height() - 40))
        self.move(screen.center() - self.rect().center())

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
                out = export.export_json(runs, path)
            else:
                out = export.export_csv(runs, path, items=path.name.lower().endswith(".items.csv"))
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
        self.insights.show_runs([], [])
        self.statusBar().showMessage("History cleared", 6000)

    def add_run(self, run: RunResult) -> None:
        row = self.runs_model.add_run(run)
        self.banner.show_run(run)
        self.runs_view.scrollToBottom()
        self.runs_view.selectionModel().select(
            self.runs_model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.statusBar().showMessage(f"Run #{row + 1} finished: {run.status}", 8000)
        if self.ctx.history is not None:
            # Last, so a notice it raises (e.g. "the database is locked") is what the status bar shows.
            self.ctx.history.add(run)  # never raises: a locked file keeps the run pending and says so

    def _on_selection(self, *_args) -> None:
        rows = sorted({i.row() for i in self.runs_view.selectionModel().selectedRows()})
        runs = [self.runs_model.run_at(r) for r in rows]
        self.insights.show_runs(runs, [r + 1 for r in rows])

    def closeEvent(self, event: QCloseEvent) -> None:
        # The app's main coroutine owns shutdown: it cancels tasks and closes services, then exits.
        self.save_settings()
        self.insights.log.uninstall()
        event.accept()
        self.close_requested.emit()


def _table(model) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setStretchLastSection(True)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    # ResizeToContents does not follow inserted rows; fit the columns whenever rows arrive (users may still
    # drag them wider or narrower).
    model.rowsInserted.connect(view.resizeColumnsToContents)
    model.modelReset.connect(view.resizeColumnsToContents)
    return view
