"""What the pyqtgraph plots share: axis fonts that follow the (zoomable) widget font."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics


def apply_axis_fonts(plot, font, left_axis_sample: str) -> QFontMetrics:
    """Set the tick and label font of the left and bottom axes, and size the left axis for
    ``left_axis_sample`` (its widest tick text). Returns the font's metrics for further sizing."""
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setTickFont(font)
        axis.label.setFont(font)
        axis.resizeEvent()
    fm = QFontMetrics(font)
    plot.getAxis("left").setWidth(fm.horizontalAdvance(left_axis_sample) + fm.height() + 8)
    return fm
