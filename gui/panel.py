"""What every workload panel shares: Run/Cancel, the one handler that runs blocking or async, the row.

A subclass only says how to read its inputs (``prepare``) and which service functions to call. The handler
below is the whole lesson in a few lines: in blocking mode it *calls* the work on the UI thread; in async
mode it *awaits* it, so the event loop keeps repainting while the work waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from services.runs import ItemResult, OnItem, RunResult, cancelled_run, failed_run
from services.stalls import stall_spans

if TYPE_CHECKING:
    from gui.context import AppContext


class InputError(ValueError):
    """Bad input in a panel: becomes a failed row with this message, never a crash."""


@dataclass
class Job:
    """One run, ready to go: labels of its items and the two ways to do it."""

    labels: Sequence[str]
    blocking: Callable[[OnItem], RunResult] | None = None
    run_async: Callable[[OnItem], Awaitable[RunResult]] | None = None
    params: dict[str, Any] = field(default_factory=dict)


class WorkloadPanel(QWidget):
    workload = "?"
    title = "?"
    run_started = Signal(str)  # mode
    run_finished = Signal(object)  # RunResult
    item_done = Signal(int, object)  # index, ItemResult
    submode_changed = Signal()  # the panel's own mode choice changed (the CPU panel's "Async means")

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.busy = False
        self._work: asyncio.Task[RunResult] | None = None
        self._total = 0
        self._done = 0

        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("runButton")
        self.run_button.setMinimumWidth(self.fontMetrics().horizontalAdvance("  Run (blocking)  ") + 24)
        self.run_button.setToolTip("Run the workload in the selected mode (F5)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel an async run (Esc). A blocking run cannot be cancelled.")
        self.cancel_button.setEnabled(False)
        self.progress = QLabel("Ready")
        self.progress.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button.clicked.connect(self.cancel_run)

        ctx.mode_changed.connect(self._style_run_button)
        self.submode_changed.connect(self._style_run_button)
        self.form = QWidget()  # subclasses fill this with their inputs
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        outer = QVBoxLayout(self)
        outer.addWidget(self.form, 1)
        outer.addLayout(buttons)

    # --- what subclasses provide -------------------------------------------------------------------------
    def prepare(self, mode: str) -> Job:
        raise NotImplementedError

    modes: tuple[str, ...] = ("blocking", "async")

    def effective_mode(self, global_mode: str) -> str:
        """The mode this panel runs in, given the Blocking/Async toggle (the CPU panel refines 'async')."""
        return global_mode

    def select_mode(self, mode: str) -> None:
        """Set the toggle (and any sub-mode) so that the next run uses ``mode``."""
        self.ctx.set_mode(mode)

    def freezes(self, mode: str) -> bool:
        """Whether ``mode`` is expected to block the UI thread for the whole run (the self-test checks it)."""
        return mode == "blocking"

    explanations: ClassVar[dict[str, str]] = {}

    def explain(self, mode: str) -> str:
        """A plain-language sentence: what this mode does with this work, and why it freezes or not."""
        return self.explanations.get(mode, "")

    def configure_small(self) -> None:
        """Small, quick inputs for the self-test."""

    async def before_run(self) -> None:
        """Awaited before every run, outside the measured window (e.g. make sure a database exists).
        Raise InputError to fail the run with a message."""

    async def prepare_self_test(self) -> None:
        """Anything the self-test must wait for before the first run (e.g. a database build)."""

    # --- the handler -------------------------------------------------------------------------------------
    def start_run(self) -> None:
        if self.busy:
            return
        mode = self.effective_mode(self.ctx.mode())
        self._set_busy(True, mode)
        self.ctx.tasks.spawn(self.run(mode), name=f"{self.workload}-{mode}-run")

    async def run(self, mode: str) -> RunResult:
        self.run_started.emit(mode)
        self._t_done: float | None = None
        finished: dict[int, ItemResult] = {}

        def on_item(index: int, item: ItemResult) -> None:
            finished[index] = item
            self._done += 1
            self.progress.setText(f"{self._done}/{self._total} done")
            self.item_done.emit(index, item)

        try:
            try:
                await self.before_run()
                t0 = self._t_work = time.perf_counter()
                job = self.prepare(mode)
            except InputError as exc:
                t0 = self._t_work = time.perf_counter()
                return self._finish(failed_run(self.workload, mode, str(exc)), t0)
            self._total, self._done = len(job.labels), 0
            self.progress.setText(f"0/{self._total} done")
            if mode == "blocking":
                assert job.blocking is not None
                # Called right here, on the UI thread: nothing repaints until it returns.
                result = job.blocking(on_item)
            else:
                assert job.run_async is not None
                # Awaited: while the work waits, the event loop keeps the window alive.
                self._work = asyncio.ensure_future(self._timed(job.run_async(on_item)))
                try:
                    result = await self._work
                except asyncio.CancelledError:
                    wall = time.perf_counter() - t0
                    self._finish(
                        cancelled_run(self.workload, mode, job.labels, finished, wall, **job.params), t0
                    )
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise  # the app is quitting: let the cancellation through
                    return self._last
            return self._finish(result.with_stalls(params={**job.params, **result.params}), t0)
        finally:
            self._work = None
            self._set_busy(False, mode)

    async def _timed(self, work: Awaitable[RunResult]) -> RunResult:
        # The responsiveness window starts when the work itself starts running.
        self._t_work = time.perf_counter()
        try:
            return await work
        finally:
            self._t_done = time.perf_counter()

    def _finish(self, result: RunResult, t0: float) -> RunResult:
        # The window ends when the work ends (a blocking call has just returned; an awaited one recorded it).
        end = self._t_done if self._t_done is not None else time.perf_counter()
        start = max(t0, self._t_work)
        hb = self.ctx.heartbeat
        stats = self.last_stats = hb.stats(start, end)
        result = result.with_stalls(
            max_stall_ms=stats.max_stall_ms,
            p99_stall_ms=stats.p99_stall_ms,
            missed_frames=stats.missed_frames,
            stalls=stall_spans(hb.ticks, start, end, hb.interval),
            blocked_in=self.ctx.watchdog.describe(start, end),
        )
        self._last = result
        self.progress.setText(self._summary(result))
        self.run_finished.emit(result)
        return result

    @staticmethod
    def _summary(r: RunResult) -> str:
        if r.error:
            return f"Failed: {r.error}"
        text = f"{r.status}: {r.ok_count}/{len(r.items)} ok in {r.wall_s:.2f} s"
        return text + (" (cancelled)" if r.cancelled and "cancelled" not in text else "")

    def _style_run_button(self, *_args) -> None:
        """The Run button says which mode it will use, in the toggle's colour."""
        mode = self.effective_mode(self.ctx.mode())
        colour = "#c62828" if self.freezes(mode) else "#2e7d32"
        self.run_button.setText(f"Run ({mode})")
        self.run_button.setStyleSheet(
            f"QPushButton#runButton {{ font-weight: bold; color: white; background: {colour};"
            " border-radius: 4px; padding: 4px 12px; }"
            " QPushButton#runButton:disabled { background: #9e9e9e; }"
        )

    def showEvent(self, event) -> None:
        self._style_run_button()
        super().showEvent(event)

    def cancel_run(self) -> None:
        if self._work is not None and not self._work.done():
            self._work.cancel()

    def _set_busy(self, busy: bool, mode: str) -> None:
        if busy != self.busy:  # the heartbeat measures every frame while any run is in flight
            (self.ctx.run_started if busy else self.ctx.run_ended)()
        self.busy = busy
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy and mode != "blocking")
        if busy:
            self.progress.setText(f"Running ({mode})…")
