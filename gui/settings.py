"""Remembered settings (QSettings in an INI file in the data directory) and the classroom zoom.

Reading is forgiving: a value that is missing, of the wrong type or out of range is ignored and the widget
keeps its default - a corrupt settings file never stops the app from starting.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QSpinBox,
    QWidget,
)

log = logging.getLogger(__name__)

ZOOM_STEPS = (0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0, 2.5, 3.0)


class AppSettings:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.q = QSettings(str(path), QSettings.Format.IniFormat)
        if self.q.status() != QSettings.Status.NoError:
            log.warning("settings file %s could not be read; using defaults", path)

    def get_float(self, key: str, default: float, lo: float, hi: float) -> float:
        try:
            value = float(self.q.value(key, default))
        except (TypeError, ValueError):
            return default
        return value if lo <= value <= hi else default

    def get_str(self, key: str, default: str = "") -> str:
        value = self.q.value(key, default)
        return value if isinstance(value, str) else default

    def get_bytes(self, key: str) -> QByteArray | None:
        value = self.q.value(key)
        return value if isinstance(value, QByteArray) else None

    def set(self, key: str, value) -> None:
        self.q.setValue(key, value)

    def sync(self) -> None:
        self.q.sync()

    # --- widget values, by name ------------------------------------------------------------------------
    def save_widgets(self, group: str, widgets: dict[str, QWidget]) -> None:
        for name, w in widgets.items():
            key = f"{group}/{name}"
            if isinstance(w, QAbstractSpinBox):
                self.q.setValue(key, w.value())
            elif isinstance(w, QComboBox):
                self.q.setValue(key, w.currentText())
            elif isinstance(w, QCheckBox):
                self.q.setValue(key, "true" if w.isChecked() else "false")

    def restore_widgets(self, group: str, widgets: dict[str, QWidget]) -> None:
        for name, w in widgets.items():
            value = self.q.value(f"{group}/{name}")
            if value is None:
                continue
            try:
                if isinstance(w, QDoubleSpinBox):
                    w.setValue(float(value))  # setValue clamps to the widget's range
                elif isinstance(w, QSpinBox):
                    w.setValue(int(float(value)))
                elif isinstance(w, QComboBox):
                    index = w.findText(str(value))
                    if index >= 0:
                        w.setCurrentIndex(index)
                elif isinstance(w, QCheckBox):
                    w.setChecked(str(value).lower() == "true")
            except (TypeError, ValueError, OverflowError):
                log.info("ignored a bad saved value for %s/%s: %r", group, name, value)


class Zoom:
    """Scales the whole UI by scaling the application font; every layout follows."""

    _base: QFont | None = None  # the app's font before any zoom (one per process)

    def __init__(self, app: QApplication) -> None:
        self.app = app
        if Zoom._base is None:
            Zoom._base = QFont(app.font())
        self.base = QFont(Zoom._base)
        self.factor = 1.0

    def set(self, factor: float) -> float:
        self.factor = min(ZOOM_STEPS, key=lambda step: abs(step - factor))
        font = QFont(self.base)
        size = self.base.pointSizeF()
        if size > 0:
            font.setPointSizeF(size * self.factor)
        else:  # a pixel-sized base font
            font.setPixelSize(max(6, round(self.base.pixelSize() * self.factor)))
        self.app.setFont(font)
        return self.factor

    def step(self, direction: int) -> float:
        i = ZOOM_STEPS.index(self.factor) if self.factor in ZOOM_STEPS else ZOOM_STEPS.index(1.0)
        return self.set(ZOOM_STEPS[max(0, min(len(ZOOM_STEPS) - 1, i + direction))])
