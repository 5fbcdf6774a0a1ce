"""The SQLite panel: the demo database (built in the background) or any file, opened read-only."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.panel import InputError, Job, WorkloadPanel
from gui.runs_model import ResultsModel
from services import demo_db, sqlite


class SqlitePanel(WorkloadPanel):
    workload = "sqlite"
    title = "Query SQLite"
    explanations: ClassVar[dict[str, str]] = {
        "blocking": "Blocking: sqlite3 runs each copy of the query on the UI thread, one after another. "
        "Until the last row arrives, nothing else happens: the dot stops.",
        "async": "Async: aiosqlite runs each copy on its own connection thread and the loop awaits the "
        "rows. SQLite releases the GIL while it works, so the copies overlap and the window stays alive.",
    }

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.demo_scale = 1.0
        self.db_path: Path | None = None  # None: the demo database
        self._build: asyncio.Future | None = None
        self._build_cancel: threading.Event | None = None
        self.presets = sqlite.sqlite_presets()

        self.db_label = QLabel()
        self.db_label.setWordWrap(True)
        self.open_button = QPushButton("Open database…")
        self.open_button.setToolTip("Query any SQLite file - it is opened read-only and never modified")
        self.open_button.clicked.connect(self.choose_file)
        self.demo_button = QPushButton("Use demo database")
        self.demo_button.clicked.connect(lambda: self.use_database(None))
        self.build_bar = QProgressBar()
        self.build_bar.setVisible(False)
        self.build_cancel = QPushButton("Stop building")
        self.build_cancel.setVisible(False)
        self.build_cancel.clicked.connect(self.cancel_build)

        self.preset = QComboBox()
        for p in self.presets:
            self.preset.addItem(p.name)
            self.preset.setItemData(self.preset.count() - 1, p.description, 3)  # tooltip
        self.preset.currentIndexChanged.connect(self._fill_sql)
        self.copies = QSpinBox()
        self.copies.setRange(1, sqlite.MAX_COPIES)
        self.copies.setValue(4)
        self.copies.setSuffix(" copies")
        self.copies.setToolTip("How many times to run the query: one after another, or at once (async)")
        self.row_cap = QSpinBox()
        self.row_cap.setRange(0, 100_000)
        self.row_cap.setValue(500)
        self.row_cap.setSuffix(" rows shown")
        self.row_cap.setToolTip(
            "Rows past this are counted, not shown. "
            f"A query still running after {sqlite.QueryOptions().time_limit_s:g} s is stopped."
        )
        self.sql = QPlainTextEdit()
        self.sql.setPlaceholderText("SELECT …  (one read-only statement)")
        self.sql.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.sql.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.results_model = ResultsModel(self)
        self.results = QTableView()
        self.results.setModel(self.results_model)
        self.results.setAlternatingRowColors(True)
        self.results_label = QLabel("Results appear here")

        db_row = QHBoxLayout()
        db_row.addWidget(self.db_label, 1)
        db_row.addWidget(self.build_bar)
        db_row.addWidget(self.build_cancel)
        db_row.addWidget(self.demo_button)
        db_row.addWidget(self.open_button)
        controls = QHBoxLayout()
        for label, widget, stretch in (
            ("Preset", self.preset, 3),
            ("Copies", self.copies, 1),
            ("Show", self.row_cap, 1),
        ):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget, stretch)
        results_box = QWidget()
        results_layout = QVBoxLayout(results_box)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.results_label)
        results_layout.addWidget(self.results, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.sql)
        split.addWidget(results_box)
        split.setSizes([200, 260])
        outer = QVBoxLayout(self.form)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(db_row)
        outer.addLayout(controls)
        outer.addWidget(split, 1)

        self.run_finished.connect(self._show_results)
        self._fill_sql()
        self._show_db()

    # --- database choice and the demo build --------------------------------------------------------------
    def demo_path(self) -> Path:
        name = "demo.sqlite3" if self.demo_scale == 1.0 else f"demo-scale-{self.demo_scale:g}.sqlite3"
        return self.ctx.data_dir / name

    def current_db(self) -> Path:
        return self.db_path or self.demo_path()

    def use_database(self, path: Path | None) -> None:
        self.db_path = Path(path) if path else None
        self._show_db()

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self,
            "Open an SQLite database (read-only)",
            "",
            "SQLite databases (*.sqlite *.sqlite3 *.db);;All files (*)",
        )
        if name:
            self.use_database(Path(name))

    def _show_db(self) -> None:
        if self.db_path is not None:
            self.db_label.setText(f"Database: {self.db_path} (read-only)")
            return
        status = demo_db.demo_db_status(self.demo_path(), scale=self.demo_scale)
        words = {
            "ok": "ready",
            "missing": "not built yet: it is built on the first run (about 10 s)",
            "outdated": "from an older version: it is rebuilt on the next run",
            "corrupt": "damaged: it is rebuilt on the next run",
        }
        self.db_label.setText(f"Demo database: {words[status]}  —  {self.demo_path()}")

    async def before_run(self) -> None:
        if self.db_path is None:
            await self.ensure_demo(force=False)

    async def prepare_self_test(self) -> None:
        await self.ensure_demo(force=False)

    def configure_small(self) -> None:
        self.demo_scale = 0.02
        self.use_database(None)
        self.copies.setValue(2)

    def rebuild_demo(self) -> None:
        self.ctx.tasks.spawn(self._rebuild(), name="sqlite-demo-rebuild")

    async def _rebuild(self) -> None:
        try:
            await self.ensure_demo(force=True)
        except InputError as exc:  # stopped, disk full...: a message, not an "unexpected error"
            self.progress.setText(f"Failed: {exc}")
            self.ctx.status.emit(f"Rebuilding the demo database failed: {exc}")

    async def ensure_demo(self, force: bool) -> Path:
        """Build the demo database if needed, in a worker thread, with progress; the UI stays live."""
        if self._build is not None:
            return await asyncio.shield(self._build)
        path, scale = self.demo_path(), self.demo_scale
        if not force and demo_db.demo_db_status(path, scale=scale) == "ok":
            return path
        loop = asyncio.get_running_loop()
        cancel = self._build_cancel = threading.Event()

        def progress(done: int, total: int, stage: str) -> None:  # called on the build thread
            loop.call_soon_threadsafe(self._on_progress, done, total, stage)

        def build() -> Path:
            maker = demo_db.build_demo_db if force else demo_db.ensure_demo_db
            return maker(path, scale=scale, progress=progress, cancel=cancel)

        self._build = loop.run_in_executor(self.ctx.threads, build)
        self._set_building(True)
        try:
            return await asyncio.shield(self._build)
        except asyncio.CancelledError:
            cancel.set()  # the build stops at its next batch and removes its temporary file
            await asyncio.wait([self._build])
            raise
        except demo_db.BuildCancelled:
            raise InputError("the demo database build was stopped; press Run to build it again") from None
        except OSError as exc:
            raise InputError(f"could not build the demo database in {path.parent}: {exc}") from None
        finally:
            self._build = self._build_cancel = None
            self._set_building(False)
            self._show_db()

    def cancel_build(self) -> None:
        if self._build_cancel is not None:
            self._build_cancel.set()

    def _on_progress(self, done: int, total: int, stage: str) -> None:
        self.build_bar.setMaximum(max(total, 1))
        self.build_bar.setValue(min(done, total))
        self.build_bar.setFormat(f"{stage}: {done:,} / {total:,} rows")
        self.db_label.setText("Building the demo database (once)…")

    def _set_building(self, building: bool) -> None:
        self.build_bar.setVisible(building)
        self.build_cancel.setVisible(building)
        self.demo_button.setEnabled(not building)
        if building:
            self.build_bar.setValue(0)
            self.db_label.setText("Building the demo database (once)…")

    # --- running -----------------------------------------------------------------------------------------
    def _fill_sql(self) -> None:
        if self.presets:
            p = self.presets[max(0, self.preset.currentIndex())]
            self.sql.setPlainText(p.sql)
            self.sql.setToolTip(p.description)

    def select_preset(self, name: str) -> None:
        self.preset.setCurrentIndex(max(0, self.preset.findText(name)))

    def prepare(self, mode: str) -> Job:
        sql_text = self.sql.toPlainText().strip()
        if not sql_text:
            raise InputError("the query is empty: pick a preset or type a SELECT")
        db = self.current_db()
        opts = sqlite.QueryOptions(copies=self.copies.value(), row_cap=self.row_cap.value())
        return Job(
            labels=[f"copy {i + 1}" for i in range(opts.copies)],
            blocking=lambda on_item: sqlite.query_blocking(db, sql_text, opts, on_item),
            run_async=lambda on_item: sqlite.query_async(db, sql_text, opts, on_item),
            params={
                "db": str(db),
                "sql": sql_text,
                "copies": opts.copies,
                "size": f"{db}|{sql_text}|{opts.copies}",
            },
        )

    def _show_results(self, run) -> None:
        first = next((i for i in run.items if i.ok), None)
        if first is None:
            errors = {i.error for i in run.items if i.error}
            self.results_model.set_rows([], [])
            self.results_label.setText(
                "No results: " + ("; ".join(sorted(errors)) or run.error or "nothing ran")
            )
            return
        d = first.detail
        self.results_model.set_rows(list(d.get("columns", [])), list(d.get("first_rows", [])))
        shown, total = len(d.get("first_rows", [])), d.get("rows", 0)
        more = f" (first {shown:,} shown)" if total > shown else ""
        columns = len(d.get("columns", []))
        self.results_label.setText(f"{_plural(total, 'row')}{more} — {_plural(columns, 'column')}")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
