"""The URL-fetch panel: presets, parameters and an editable URL list; the handler calls services.fetch."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.panel import InputError, Job, WorkloadPanel
from services import fetch, presets

MB = 1024 * 1024


class FetchPanel(WorkloadPanel):
    workload = "fetch"
    title = "Fetch URLs"
    explanations: ClassVar[dict[str, str]] = {
        "blocking": "Blocking: requests fetches one URL, waits for the whole reply, then the next — on the "
        "UI thread. While it waits, Qt cannot repaint or take a click: the dot stops.",
        "async": "Async: aiohttp sends every request (up to the concurrency limit) and awaits the replies. "
        "While they travel, the event loop is free, so the window stays alive and the waits overlap.",
    }

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.presets = presets.fetch_presets()
        self.preset = QComboBox()
        for p in self.presets:
            self.preset.addItem(p.name, p.id)
            self.preset.setItemData(self.preset.count() - 1, p.description, 3)  # Qt.ToolTipRole
        self.count = _spin(QSpinBox(), 1, 1000, 10, " URLs", "How many URLs the preset generates")
        self.delay = _spin(QDoubleSpinBox(), 0.0, 10.0, 1.0, " s", "How long the demo server waits per URL")
        self.timeout = _spin(QDoubleSpinBox(), 0.1, 120.0, 5.0, " s", "Give up on a URL after this long")
        self.concurrency = _spin(QSpinBox(), 1, 1000, 10, "", "Async: at most this many requests at once")
        self.max_mb = _spin(QDoubleSpinBox(), 0.1, 100.0, 5.0, " MiB", "Stop reading a body past this size")
        self.urls = QPlainTextEdit()
        self.urls.setPlaceholderText("One URL per line (http or https)")
        self.urls.setToolTip("Edit freely: this list is exactly what Run fetches")
        self.description = QLabel()
        self.description.setWordWrap(True)
        italic = QFont()  # only "italic" is set, so size and family still follow the (zoomed) app font
        italic.setItalic(True)
        self.description.setFont(italic)
        self.note = QLabel("Blocking runs cannot be cancelled: the frozen window cannot even see the click.")
        self.note.setWordWrap(True)

        params = QFormLayout()
        params.addRow("Preset", self.preset)
        params.addRow("Count", self.count)
        params.addRow("Delay", self.delay)
        params.addRow("Timeout", self.timeout)
        params.addRow("Concurrency", self.concurrency)
        params.addRow("Body cap", self.max_mb)
        side = QVBoxLayout()
        side.addWidget(self.description)
        side.addWidget(self.note)
        side.addStretch(1)
        top = QHBoxLayout()
        top.addLayout(params, 3)
        top.addLayout(side, 2)
        outer = QVBoxLayout(self.form)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(top)
        outer.addWidget(QLabel("URLs (edit freely; one per line):"))
        outer.addWidget(self.urls, 1)

        self.preset.currentIndexChanged.connect(self.fill_urls)
        self.count.valueChanged.connect(self.fill_urls)
        self.delay.valueChanged.connect(self.fill_urls)
        self.fill_urls()

    def configure_small(self) -> None:
        self.select_preset("demo")
        self.count.setValue(4)
        self.delay.setValue(0.5)

    async def before_run(self) -> None:
        server = self.ctx.server
        if not server.is_running:  # it died or was stopped: bring it back so the demo keeps working
            try:
                old = server.base_url
            except RuntimeError:  # it never got a port
                old = None
            server.start()
            if server.base_url != old:
                self.fill_urls()
            self.ctx.status.emit("The demo server had stopped; it was restarted")

    def current_preset(self) -> presets.FetchPreset:
        return self.presets[max(0, self.preset.currentIndex())]

    def select_preset(self, preset_id: str) -> None:
        self.preset.setCurrentIndex(max(0, self.preset.findData(preset_id)))

    def fill_urls(self) -> None:
        p = self.current_preset()
        self.description.setText(p.description)
        urls = presets.expand(
            p, self.ctx.server.base_url, self.ctx.server.refused_url(), self.count.value(), self.delay.value()
        )
        self.urls.setPlainText("\n".join(urls))

    def options(self) -> fetch.FetchOptions:
        return fetch.FetchOptions(
            timeout_s=self.timeout.value(),
            concurrency=self.concurrency.value(),
            max_bytes=int(self.max_mb.value() * MB),
        )

    def prepare(self, mode: str) -> Job:
        urls = fetch.parse_url_list(self.urls.toPlainText())
        if not urls:
            raise InputError("the URL list is empty: pick a preset or type one URL per line")
        opts = self.options()
        params = {
            "preset": self.current_preset().id,
            "timeout_s": opts.timeout_s,
            "concurrency": opts.concurrency,
            "max_bytes": opts.max_bytes,
            "size": "\n".join(urls),
        }
        return Job(
            labels=urls,
            blocking=lambda on_item: fetch.fetch_blocking(urls, opts, on_item=on_item),
            run_async=lambda on_item: fetch.fetch_async(self.ctx.session, urls, opts, on_item=on_item),
            params=params,
        )


def _spin(box, lo, hi, value, suffix: str, tip: str):
    box.setRange(lo, hi)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    if isinstance(box, QDoubleSpinBox):
        box.setDecimals(1)
        box.setSingleStep(0.5 if hi <= 10 else 1.0)
    return box
