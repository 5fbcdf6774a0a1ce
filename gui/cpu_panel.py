"""The CPU panel: the same jobs on the UI thread, in an `async def` that never awaits, in threads,
in processes."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.panel import Job, WorkloadPanel
from services import cpu

ASYNC_MODES = {
    "process": "Process pool — run_in_executor (parallel, UI smooth)",
    "thread": "Thread — run_in_executor on threads (UI smooth, no speed-up: GIL)",
    "loop": "async def that never awaits (the pitfall: still frozen)",
}
WHY = {
    "blocking": "The jobs run one after another on the UI thread: the window is frozen until the last ends.",
    "loop": "`async def` alone changes nothing: the coroutine never awaits, so the event loop never gets "
    "control back and the window freezes exactly as in blocking mode.",
    "thread": "Each job runs in a thread and the loop awaits it: the window breathes, but only one thread "
    "can run Python at a time (the GIL), so the jobs take as long as in blocking mode.",
    "process": "Each job runs in a worker process with its own interpreter and GIL: the jobs run in parallel "
    "on every core and the loop only waits for the results.",
}
MILLION = 1_000_000


class CpuPanel(WorkloadPanel):
    workload = "cpu"
    title = "CPU work"
    modes = ("blocking", "loop", "thread", "process")

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.async_mode = QComboBox()
        for mode, text in ASYNC_MODES.items():
            self.async_mode.addItem(text, mode)
        self.async_mode.setToolTip("What 'Async' means for CPU work (the global toggle must be on Async)")
        self.async_mode.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.async_mode.setMinimumContentsLength(16)
        self.jobs = QSpinBox()
        self.jobs.setRange(1, cpu.MAX_JOBS)
        self.jobs.setValue(4)
        self.jobs.setSuffix(" jobs")
        self.size = QSpinBox()
        self.size.setRange(1, cpu.MAX_N // MILLION)
        self.size.setValue(cpu.DEFAULT_N // MILLION)
        self.size.setSuffix(" M squares")
        self.size.setToolTip("Each job sums this many squares; about 0.7 s per 25 M on a typical core")
        self.workers = QSpinBox()
        self.workers.setRange(1, 64)
        self.workers.setValue(ctx.pool.workers)
        self.workers.setSuffix(" processes")
        self.workers.setToolTip("Worker processes in the pool (changing it restarts the pool)")
        self.workers.editingFinished.connect(lambda: ctx.pool.set_workers(self.workers.value()))
        self.pool_status = QLabel("Process pool: starting…")
        self.pool_status.setWordWrap(True)
        self.crash_button = QPushButton("Crash a worker")
        self.crash_button.setToolTip("Advanced: kill one pool worker to see the app recover")
        self.crash_button.clicked.connect(self.crash_worker)
        self.why = QLabel()
        self.why.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Async means", self.async_mode)
        form.addRow("Jobs", self.jobs)
        form.addRow("Job size", self.size)
        form.addRow("Pool", self.workers)
        pool_row = QHBoxLayout()
        pool_row.addWidget(self.pool_status, 1)
        pool_row.addWidget(self.crash_button)
        right = QVBoxLayout()
        right.addWidget(self.why)
        right.addLayout(pool_row)
        right.addStretch(1)
        row = QHBoxLayout(self.form)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(form)
        row.addLayout(right, 1)

        self.async_mode.currentIndexChanged.connect(self._explain)
        self.async_mode.currentIndexChanged.connect(self.submode_changed)
        ctx.mode_changed.connect(self._explain)
        ctx.pool_changed.connect(self._show_pool)
        self._explain()
        self._show_pool()

    # --- modes -------------------------------------------------------------------------------------------
    def effective_mode(self, global_mode: str) -> str:
        return "blocking" if global_mode == "blocking" else self.async_mode.currentData()

    def select_mode(self, mode: str) -> None:
        if mode == "blocking":
            self.ctx.set_mode("blocking")
        else:
            self.async_mode.setCurrentIndex(self.async_mode.findData(mode))
            self.ctx.set_mode("async")

    def freezes(self, mode: str) -> bool:
        return mode in ("blocking", "loop")

    def configure_small(self) -> None:
        self.jobs.setValue(4)
        self.size.setValue(3)

    async def prepare_self_test(self) -> None:
        await self.ctx.pool.wait_ready()

    def explain(self, mode: str) -> str:
        return WHY[mode]

    def _explain(self, *_args) -> None:
        mode = self.effective_mode(self.ctx.mode())
        self.async_mode.setEnabled(self.ctx.mode() == "async")
        extra = "" if mode == "process" else " Cancel cannot stop a job that is already running in this mode."
        self.why.setText(WHY[mode] + (extra if mode != "blocking" else ""))

    def _show_pool(self) -> None:
        pool = self.ctx.pool
        if pool.is_ready:
            self.pool_status.setText(f"Process pool ready: {pool.workers} workers ({pool.start_method})")
        else:
            self.pool_status.setText(
                f"Process pool warming up: {pool.workers} workers ({pool.start_method})…"
            )

    def _set_busy(self, busy: bool, mode: str) -> None:
        super()._set_busy(busy, mode)
        # Resizing the pool restarts it, which would kill the jobs of a run in flight.
        self.workers.setEnabled(not busy)
        self.crash_button.setEnabled(not busy)

    # --- running -----------------------------------------------------------------------------------------
    def prepare(self, mode: str) -> Job:
        opts = cpu.CpuOptions(jobs=self.jobs.value(), n=self.size.value() * MILLION)
        ctx = self.ctx
        runners = {
            "loop": lambda on_item: cpu.run_on_loop(opts, on_item),
            "thread": lambda on_item: cpu.run_in_thread(ctx.threads, opts, on_item),
            "process": lambda on_item: self._in_pool(opts, on_item),
        }
        return Job(
            labels=[f"job {i + 1}" for i in range(opts.jobs)],
            blocking=lambda on_item: cpu.run_blocking(opts, on_item),
            run_async=runners.get(mode),
            params={"jobs": opts.jobs, "n": opts.n, "size": f"{opts.jobs}x{opts.n}"},
        )

    async def _in_pool(self, opts, on_item):
        if not self.ctx.pool.is_ready:
            self.progress.setText("Waiting for the process pool to finish starting…")
            await self.ctx.pool.wait_ready()  # the run waits, not the UI
        result = await cpu.run_in_pool(self.ctx.pool, opts, on_item)
        self.ctx.watch_pool()
        return result

    def crash_worker(self) -> None:
        self.ctx.tasks.spawn(self._crash(), name="cpu-crash-worker")

    async def _crash(self) -> None:
        self.crash_button.setEnabled(False)
        try:
            item = await cpu.crash_worker(self.ctx.pool)
            self.ctx.watch_pool()
            text = (
                "a worker process died; the pool was restarted"
                if item.error == cpu.WORKER_DIED
                else (item.error or "the worker survived")
            )
            self.ctx.status.emit(f"Crash a worker: {text}")
            self.progress.setText(f"Crash a worker: {text}")
        finally:
            self.crash_button.setEnabled(True)
