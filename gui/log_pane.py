"""The log pane: Python logging in the window, with a level filter and a switch for asyncio's debug mode.

Records can come from any thread (the demo server, pool callbacks, the watchdog), so the handler only
formats the record and emits a Qt signal; the signal is queued to the GUI thread, which appends the line.

asyncio's debug mode times every callback the event loop runs and warns about the slow ones
("Executing <Task ...> took 0.150 seconds"). It sees a coroutine that hogs the loop - but not a blocking
Qt slot, which never goes through the loop: that is what the heartbeat meter and the watchdog are for.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAX_LINES = 2000
SLOW_CALLBACK_S = 0.1  # asyncio's default is 0.1 s too; set it explicitly, the lesson depends on it
FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"


class _Bridge(QObject):
    """Carries records from any thread to the GUI thread (a signal emitted elsewhere is queued)."""

    record = Signal(int, str)  # level number, formatted text


class PaneHandler(logging.Handler):
    def __init__(self, bridge: _Bridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)  # on the logging thread: the record is complete here
            self.bridge.record.emit(record.levelno, text)
        except RuntimeError:
            pass  # the pane is already destroyed (quitting): drop the line
        except Exception:
            self.handleError(record)


class LogPane(QWidget):
    """``pane.install()`` at start (root logger by default), ``pane.uninstall()`` at quit."""

    line_added = Signal(int, str)  # after a record reached the pane (shown or filtered out)

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loop = loop
        self.lines: deque[tuple[int, str]] = deque(maxlen=MAX_LINES)  # kept to re-filter
        self._bridge = _Bridge(self)
        self._bridge.record.connect(self._on_record, Qt.ConnectionType.QueuedConnection)
        self.handler = PaneHandler(self._bridge)
        self._logger: logging.Logger | None = None
        self._install_level = logging.INFO
        self._saved_levels: dict[object, int] = {}

        self.level = QComboBox()
        self.level.addItems(LEVELS)
        self.level.setCurrentText("INFO")
        self.level.setToolTip("Show records of this level and above")
        self.debug_mode = QCheckBox("asyncio debug mode")
        self.debug_mode.setToolTip(
            "loop.set_debug(True): the event loop warns about every callback or coroutine step that "
            f'holds it for more than {SLOW_CALLBACK_S * 1000:.0f} ms ("Executing … took").'
        )
        self.clear_button = QPushButton("Clear")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setUndoRedoEnabled(False)
        self.text.setPlaceholderText("Log records appear here")

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Level"))
        bar.addWidget(self.level)
        bar.addWidget(self.debug_mode)
        bar.addStretch(1)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.text, 1)

        self.level.currentTextChanged.connect(self._on_level)
        self.debug_mode.toggled.connect(self.set_asyncio_debug)
        self.clear_button.clicked.connect(self.clear)
        self._apply_font()

    # --- installing the handler --------------------------------------------------------------------------
    def install(self, logger: logging.Logger | None = None, level: int = logging.INFO) -> None:
        """Attach to ``logger`` (the root logger by default) and let records of ``level`` and up through.

        If the logger's level has to be lowered for that, the logger's other handlers keep their old
        threshold (so the console does not start printing INFO lines); ``uninstall()`` puts all back.
        """
        self.uninstall()
        self._logger = logger if logger is not None else logging.getLogger()
        self._install_level = level
        self._logger.addHandler(self.handler)
        self._sync_logger_level()
        # If the widget goes first, take the handler off the logger with it.
        handler, target = self.handler, self._logger
        self.destroyed.connect(lambda *_: target.removeHandler(handler))

    def uninstall(self) -> None:
        """Detach and restore every level install() changed. Safe to call twice."""
        if self._logger is None:
            return
        self._logger.removeHandler(self.handler)
        self._restore_levels()
        self._logger = None

    def _sync_logger_level(self) -> None:
        logger = self._logger
        if logger is None:
            return
        self._restore_levels()
        wanted = min(self._install_level, self.filter_level())
        old = logger.getEffectiveLevel()
        if wanted >= old:
            return
        self._saved_levels[logger] = logger.level
        for h in logger.handlers:
            if h is not self.handler and h.level == logging.NOTSET:
                self._saved_levels[h] = h.level
                h.setLevel(old)  # this handler saw only `old` and up before: keep it so
        logger.setLevel(wanted)

    def _restore_levels(self) -> None:
        for obj, level in self._saved_levels.items():
            obj.setLevel(level)
        self._saved_levels.clear()

    # --- the filter and the lines ------------------------------------------------------------------------
    def filter_level(self) -> int:
        return logging.getLevelName(self.level.currentText())

    def set_level(self, name: str) -> None:
        self.level.setCurrentText(name)

    def _on_level(self, _name: str) -> None:
        self._sync_logger_level()
        shown = self.filter_level()
        self.text.setPlainText("\n".join(text for level, text in self.lines if level >= shown))
        self._scroll_to_end()

    def _on_record(self, level: int, text: str) -> None:
        self.lines.append((level, text))
        if level >= self.filter_level():
            self.text.appendPlainText(text)
        self.line_added.emit(level, text)

    def clear(self) -> None:
        self.lines.clear()
        self.text.clear()

    def visible_text(self) -> str:
        return self.text.toPlainText()

    def _scroll_to_end(self) -> None:
        bar = self.text.verticalScrollBar()
        bar.setValue(bar.maximum())

    # --- asyncio debug mode ------------------------------------------------------------------------------
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop if self._loop is not None else asyncio.get_event_loop()

    def set_asyncio_debug(self, on: bool) -> None:
        loop = self.loop()
        loop.slow_callback_duration = SLOW_CALLBACK_S
        loop.set_debug(on)
        if self.debug_mode.isChecked() != on:
            self.debug_mode.setChecked(on)  # called from code: keep the box in step

    # --- zoom: a monospace font the size of the application font ----------------------------------------
    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._apply_font()
        super().changeEvent(event)

    def _apply_font(self) -> None:
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        if self.font().pointSizeF() > 0:
            mono.setPointSizeF(self.font().pointSizeF())
        self.text.setFont(mono)
