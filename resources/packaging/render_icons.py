"""Render resources/icons/freezelab.svg to the PNG, ICO and ICNS files the packaging uses.

    .venv/bin/python resources/packaging/render_icons.py      (or: make package-icons)

The rendered files are committed, so a build never needs this script; run it after editing the SVG.
It uses Qt's own SVG renderer (already a dependency) - no Pillow or ImageMagick needed:
- freezelab-{256,128,64,48}.png: Linux launcher icons (hicolor theme) and the window icon;
- freezelab.ico: Windows (PNG-compressed entries, understood since Windows Vista);
- freezelab.icns: macOS (PNG-compressed entries, understood since OS X 10.7).
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "icons"
SVG = ICONS / "freezelab.svg"
PNG_SIZES = (256, 128, 64, 48)
ICO_SIZES = (256, 64, 48, 32, 16)
# ICNS types holding PNG data, by pixel size (Apple's icns format: 'ic07' 128, 'ic08' 256, 'ic09' 512 ...)
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09"}


def render_png(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {SVG} is not a valid SVG for Qt")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)


def ico(pngs: dict[int, bytes]) -> bytes:
    """An ICO file whose entries are PNG images (ICONDIR, then one ICONDIRENTRY per image, then the data)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, png in pngs.items():
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    return header + entries + blobs


def icns(pngs: dict[int, bytes]) -> bytes:
    """An ICNS file: 'icns' + total length, then (type, length including this 8-byte header, PNG data)."""
    body = b"".join(ICNS_TYPES[s] + struct.pack(">I", 8 + len(p)) + p for s, p in pngs.items())
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - QImage/QPainter need one
    for size in PNG_SIZES:
        (ICONS / f"freezelab-{size}.png").write_bytes(render_png(size))
    (ICONS / "freezelab.ico").write_bytes(ico({s: render_png(s) for s in ICO_SIZES}))
    (ICONS / "freezelab.icns").write_bytes(icns({s: render_png(s) for s in (512, 256, 128, 64, 32, 16)}))
    print(f"render_icons: wrote PNG {', '.join(map(str, PNG_SIZES))} px, ICO and ICNS to {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
