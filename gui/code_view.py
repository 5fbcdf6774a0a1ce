"""The code view: the blocking and the async version of the current workload side by side, from the real code.

The text comes from ``inspect.getsource`` on the very function objects the panels call (``SOURCES`` below),
so what the class reads is what runs. Pygments colours it (inline styles, a light theme that survives a
projector); each line keeps its real line number in the file, so "services/fetch.py:83" in the freeze
report can be found on screen.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from PySide6.QtCore import QEvent
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QLabel, QSplitter, QTextBrowser, QVBoxLayout, QWidget

from services import cpu, fetch, sqlite

# workload -> mode -> the function that mode runs. The panels call exactly these (tests/gui/test_code_view.py
# checks it by patching them), so keep this table in step with gui/*_panel.py.
SOURCES: dict[str, dict[str, Callable[..., Any]]] = {
    "fetch": {"blocking": fetch.fetch_blocking, "async": fetch.fetch_async},
    "sqlite": {"blocking": sqlite.query_blocking, "async": sqlite.query_async},
    "cpu": {
        "blocking": cpu.run_blocking,
        "loop": cpu.run_on_loop,
        "thread": cpu.run_in_thread,
        "process": cpu.run_in_pool,
    },
}
# What the right-hand pane shows while the toggle is on Blocking (the async version a class compares with).
DEFAULT_ASYNC = {"fetch": "async", "sqlite": "async", "cpu": "process"}
ASYNC_LABEL = {
    "async": "Async",
    "loop": "Async (never awaits)",
    "thread": "Async (thread)",
    "process": "Async (processes)",
}
STYLE = "default"  # Pygments' default: dark text on white, strong keyword colours - readable when projected
PROJECT_ROOT = Path(fetch.__file__).absolute().parent.parent


def source_of(fn: Callable[..., Any]) -> tuple[str, str, int]:
    """(source text, project-relative path, first line number) of a function."""
    fn = inspect.unwrap(fn)
    lines, first = inspect.getsourcelines(fn)
    path = Path(inspect.getsourcefile(fn) or "?").absolute()
    shown = path.relative_to(PROJECT_ROOT).as_posix() if path.is_relative_to(PROJECT_ROOT) else path.name
    return "".join(lines), shown, first


def to_html(source: str, first_line: int) -> str:
    """Highlighted HTML, each line prefixed with its real line number in the file."""
    formatter = HtmlFormatter(noclasses=True, style=STYLE, nowrap=True)
    lines = highlight(source, PythonLexer(), formatter).rstrip("\n").split("\n")  # Pygments: one line each
    width = len(str(first_line + len(lines) - 1))
    grey = '<span style="color: #8a8a8a;">'
    numbered = (f"{grey}{first_line + i:>{width}}  </span>{line}" for i, line in enumerate(lines))
    return '<pre style="background: #ffffff; color: #1a1a1a;">' + "\n".join(numbered) + "</pre>"


class CodePane(QWidget):
    """A title ("Blocking: fetch_blocking", "services/fetch.py line 73") over the highlighted source."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setLineWrapMode(QTextBrowser.LineWrapMode.NoWrap)  # code keeps its shape; scroll sideways
        self.function: Callable[..., Any] | None = None
        self.source = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)

    def set_function(self, kind: str, fn: Callable[..., Any] | None, runs: bool) -> None:
        self.function = fn
        if fn is None:
            self.source = ""
            self.title.setText(f"<b>{kind}</b><br>")
            self.text.setPlainText("(no source for this mode)")
            return
        try:
            self.source, path, first = source_of(fn)
        except (OSError, TypeError) as exc:  # e.g. a build that shipped no .py files
            self.source = ""
            self.title.setText(f"<b>{kind}: {fn.__name__}</b><br>")
            self.text.setPlainText(f"(the source of {fn.__qualname__} is not available in this build: {exc})")
            return
        marker = "  ◀ runs now" if runs else ""
        # Two lines in both panes, so the two listings start at the same height.
        self.title.setText(f"<b>{kind}: {fn.__name__}</b><br>{path} line {first}{marker}")
        self.title.setToolTip(
            f"{fn.__module__}.{fn.__qualname__}, from inspect.getsource: the code that runs"
        )
        self.title.setStyleSheet("color: #1b5e20;" if runs else "")
        self.text.setHtml(to_html(self.source, first))

    def set_code_font(self, font: QFont) -> None:
        self.text.setFont(font)
        self.text.document().setDefaultFont(font)


class CodeView(QWidget):
    """Call ``show_source(workload, mode)`` whenever the tab, the toggle or the CPU sub-mode changes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.blocking = CodePane()
        self.async_ = CodePane()
        self.workload: str | None = None
        self.mode: str | None = None
        split = QSplitter()
        split.addWidget(self.blocking)
        split.addWidget(self.async_)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self._apply_font()

    def show(self, workload: str | None = None, mode: str | None = None) -> None:  # type: ignore[override]
        """``show()`` is QWidget.show; ``show(workload, mode)`` shows that workload's code."""
        if workload is None:
            super().show()
        else:
            self.show_source(workload, mode or "blocking")

    def show_source(self, workload: str, mode: str) -> None:
        """Blocking version on the left; on the right the async version ``mode`` runs (or the usual one)."""
        if (workload, mode) == (self.workload, self.mode):
            return  # nothing changed: skip re-highlighting
        self.workload, self.mode = workload, mode
        table = SOURCES.get(workload, {})
        right = mode if mode != "blocking" else DEFAULT_ASYNC.get(workload, "async")
        self.blocking.set_function("Blocking", table.get("blocking"), runs=mode == "blocking")
        self.async_.set_function(ASYNC_LABEL.get(right, right), table.get(right), runs=mode != "blocking")

    # Follow the application font (the classroom zoom) with a monospace font of the same size.
    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._apply_font()
        super().changeEvent(event)

    def _apply_font(self) -> None:
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        size = self.font().pointSizeF()
        if size > 0:
            mono.setPointSizeF(size)
        for pane in (self.blocking, self.async_):
            pane.set_code_font(mono)
