"""The app's long-lived services, created once at start and closed once at quit.

One aiohttp session, one embedded demo server, one process pool, one thread pool - shared by every run.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QStandardPaths, Signal

from gui.heartbeat import IDLE_INTERVAL_MS, Heartbeat
from gui.tasks import TaskRegistry
from services import cpu
from services.demo_server import DemoServer
from services.history import History
from services.pool import WorkerPool
from services.watchdog import Watchdog

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

MODES = ("blocking", "async")


def default_data_dir() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


class AppContext(QObject):
    mode_changed = Signal(str)
    status = Signal(str)  # a line for the status bar
    pool_changed = Signal()  # the process pool became ready, or was restarted

    def __init__(self, data_dir: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mode = "blocking"
        self.heartbeat = Heartbeat(parent=self, idle_interval_ms=IDLE_INTERVAL_MS)
        self.heartbeat.set_fast(False)
        self._runs_in_flight = 0
        self.tasks = TaskRegistry()
        self.server = DemoServer()
        self.session: aiohttp.ClientSession | None = None
        self.data_dir = data_dir or default_data_dir()
        self.threads: ThreadPoolExecutor = cpu.thread_executor()
        self.pool = WorkerPool()
        self.history: History | None = None
        # Samples the UI thread's stack when it stops ticking for > 200 ms: "what blocked the UI".
        self.watchdog = Watchdog()
        self._closed = False

    # --- mode --------------------------------------------------------------------------------------------
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if mode != self._mode:
            self._mode = mode
            self.mode_changed.emit(mode)

    def run_started(self) -> None:
        self._runs_in_flight += 1
        self.heartbeat.set_fast(True)

    def run_ended(self) -> None:
        self._runs_in_flight = max(0, self._runs_in_flight - 1)
        self.heartbeat.set_fast(self._runs_in_flight > 0)

    # --- life cycle --------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Call inside the running event loop (aiohttp sessions belong to a loop)."""
        from services.fetch import make_session

        self.heartbeat.ticked.connect(self._beat)
        self.heartbeat.start()
        self.watchdog.start()
        # Never raises: a corrupt, newer or unwritable history becomes a notice and a fresh/in-memory one.
        # A short busy timeout: add() runs on the UI thread, and a locked file must not freeze the window.
        self.history = History.open(self.data_dir, busy_timeout_s=0.3)
        self.history.on_notice = self.status.emit
        self.server.start()
        self.session = make_session()
        log.info("demo server on %s", self.server.base_url)
        self.pool.start()  # returns at once; the workers start and warm up in the background
        self.watch_pool()

    def _beat(self, _lag: float) -> None:
        self.watchdog.beat()

    def watch_pool(self) -> None:
        """Tell the UI when the (possibly restarted) pool is warm."""
        self.pool_changed.emit()
        if not self.pool.is_ready:
            self.tasks.spawn(self._pool_ready(), name="pool-warm-up")

    async def _pool_ready(self) -> None:
        ok = await self.pool.wait_ready()
        self.pool_changed.emit()
        self.status.emit("Process pool ready" if ok else "The process pool failed to start")

    async def aclose(self) -> None:
        """Cancel and await every task, then close what start() opened. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self.tasks.cancel_all()  # runs in flight end as "cancelled" rows, saved to history
        self.watchdog.stop()  # before the heartbeat, or its silence would look like a freeze
        self.heartbeat.stop()
        if self.history is not None:
            self.history.close()
        if self.session is not None:
            await self.session.close()
            self.session = None
        self.server.stop()
        self.pool.shutdown()  # terminates running jobs: a process can be stopped, a thread cannot
        # Queued thread jobs are dropped. A thread job already running cannot be interrupted: Python joins
        # it at interpreter exit, so quitting mid-run in thread mode waits for the running jobs to finish.
        self.threads.shutdown(wait=False, cancel_futures=True)
