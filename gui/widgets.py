"""Small reusable widgets: the Blocking/Async toggle and the freeze banner."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from services.runs import RunResult

_TOGGLE_STYLE = """
QPushButton {{ padding: 0.3em 1.1em; border: 2px solid #888; color: #555; background: #eee; }}
QPushButton#blocking {{ border-top-left-radius: 10px; border-bottom-left-radius: 10px; }}
QPushButton#async {{ border-top-right-radius: 10px; border-bottom-right-radius: 10px; }}
QPushButton#blocking:checked {{ background: {red}; color: white; border-color: {red}; }}
QPushButton#async:checked {{ background: {green}; color: white; border-color: {green}; }}
"""
RED, GREEN = "#c62828", "#2e7d32"


class ModeToggle(QWidget):
    """Two big segments; the chosen one is filled red (Blocking) or green (Async) - readable across a room."""

    mode_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons: dict[str, QPushButton] = {}
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for mode, text, tip in (
            ("blocking", "■ Blocking", "Run the work on the UI thread: the window freezes until it ends"),
            ("async", "▶ Async", "Await the work on the event loop: the window stays alive"),
        ):
            b = QPushButton(text)
            b.setObjectName(mode)
            b.setCheckable(True)
            b.setToolTip(tip + " (Ctrl+M toggles)")
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            self._group.addButton(b)
            layout.addWidget(b)
            self.buttons[mode] = b
            b.toggled.connect(lambda checked, m=mode: checked and self.mode_changed.emit(m))
        self.setStyleSheet(_TOGGLE_STYLE.format(red=RED, green=GREEN))
        self.buttons["blocking"].setChecked(True)
        self.refresh_font()

    def refresh_font(self) -> None:
        """Big and bold, relative to the (possibly zoomed) application font."""
        font = QFont(QApplication.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        for b in self.buttons.values():
            b.setFont(font)

    def mode(self) -> str:
        return "blocking" if self.buttons["blocking"].isChecked() else "async"

    def set_mode(self, mode: str) -> None:
        self.buttons[mode].setChecked(True)

    def toggle(self) -> None:
        self.set_mode("async" if self.mode() == "blocking" else "blocking")


FROZEN_MS = 250  # a stall this long is a freeze anyone notices


class FreezeBanner(QLabel):
    """Says plainly, after each run, whether the UI froze and for how long."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.refresh_font()
        self.show_text(
            "Pick a mode and press Run. Watch the moving dot, and try typing in the box while it runs.", None
        )

    def refresh_font(self) -> None:
        font = QFont(QApplication.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.setFont(font)

    def show_text(self, text: str, ok: bool | None) -> None:
        colour = {True: GREEN, False: RED, None: "#455a64"}[ok]
        self.setStyleSheet(
            f"QLabel {{ color: white; background: {colour}; border-radius: 6px; padding: 4px 10px; }}"
        )
        self.refresh_font()
        self.setText(text)
        self.setToolTip(text)

    def show_run(self, run: RunResult) -> None:
        what = f"{run.mode} {run.workload} run"
        if run.error:
            self.show_text(f"The {what} could not start: {run.error}", False)
            return
        stall = run.max_stall_ms or 0.0
        if stall >= FROZEN_MS:
            where = f" — stuck in {run.blocked_in}" if run.blocked_in else ""
            self.show_text(f"UI frozen for {stall / 1000:.1f} s during the {what}{where}.", False)
        else:
            self.show_text(
                f"UI stayed responsive during the {what}: longest stall {stall:.0f} ms "
                f"({run.wall_s:.2f} s of work).",
                True,
            )
