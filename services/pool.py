"""The app's one pool of worker processes for CPU jobs (see services/cpu.py for what runs in it).

Decisions, and why:
- Start method "forkserver" on Linux (else "spawn"), never "fork": forking a process that already runs Qt
  (and its threads) copies locks held by threads that don't exist in the child - a classic deadlock.
  forkserver forks workers from a small, clean server process that only preloaded services.cpu.
- Workers must not import Qt. They unpickle `services.cpu.job`, so they import services.cpu (Qt-free).
  But spawn and forkserver workers also re-import the app's __main__ module (multiprocessing does that so
  functions defined there can be found): the entry module must not import Qt at import time - keep those
  imports inside main(). The entry point calls multiprocessing.freeze_support() first thing: a no-op,
  except in a frozen (PyInstaller) app, where a worker re-runs the app's executable and freeze_support
  turns it into a worker before any window is made.
- Starting a spawned worker costs ~0.2 s. start() pays that in the background at app start, so the
  first run is as fast as the rest.
- A running job can't be cancelled, and a worker that dies breaks a ProcessPoolExecutor for good
  (BrokenProcessPool). Both are handled the same way: terminate the workers, make a fresh pool.

Call the methods from one thread (the GUI thread); only the warm-up runs on a helper thread of its own.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import multiprocessing.process
import os
import sys
import threading
import time
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from multiprocessing.context import BaseContext

from services.cpu import MAX_JOBS, warm_up

JOIN_TIMEOUT_S = 5.0  # how long to wait for terminated workers before killing them outright


def pool_context() -> BaseContext:
    """forkserver on Linux when available, else spawn - never fork (see the module docstring)."""
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # The server imports only what workers need. The default preload is ['__main__'], i.e. the app.
        ctx.set_forkserver_preload(["services.cpu"])
        return ctx
    return multiprocessing.get_context("spawn")


class WorkerPool:
    """One per app: start() at app start, shutdown() at quit; run jobs on `executor`."""

    def __init__(self, workers: int | None = None) -> None:
        self._workers = _check_workers(min(os.cpu_count() or 1, MAX_JOBS) if workers is None else workers)
        self._ctx = pool_context()
        self._executor: ProcessPoolExecutor | None = None
        self._warmer: threading.Thread | None = None
        self._ready: Future[bool] = _new_ready()
        self._closed = False
        self._own_forkserver = False  # did our start() launch multiprocessing's fork server?

    # --- state -------------------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def start_method(self) -> str:
        return self._ctx.get_start_method()

    @property
    def is_running(self) -> bool:
        """Started and not shut down (it may still be warming up)."""
        return self._executor is not None

    @property
    def is_ready(self) -> bool:
        """Every worker process has started and answered once."""
        return self._ready.done() and self._ready.result()

    @property
    def is_broken(self) -> bool:
        # ProcessPoolExecutor has no public flag; `_broken` is set the moment a worker dies (3.8 - 3.14).
        return self._executor is not None and bool(getattr(self._executor, "_broken", False))

    @property
    def executor(self) -> ProcessPoolExecutor:
        """The executor to submit jobs to - recreated first if a dead worker broke the old one."""
        if self._executor is None:
            raise RuntimeError("the worker pool is not running")
        self.recover()
        return self._executor

    def worker_pids(self) -> list[int]:
        """Pids of the live worker processes (empty before the first one starts)."""
        # `_processes` ({pid: Process}) is the executor's own bookkeeping; there is no public accessor.
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(pid for pid, proc in list(processes.items()) if _alive(proc))

    async def wait_ready(self) -> bool:
        """Wait (without blocking the loop) until the current pool is warm; False if it failed to start."""
        while True:
            ready = self._ready
            ok = await asyncio.wrap_future(ready)
            if ready is self._ready:  # no restart() replaced the pool while we waited
                return ok

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the pool and warm it up in the background; returns at once. Idempotent."""
        if self._closed:
            raise RuntimeError("the worker pool was shut down; make a new one")
        if self._executor is None:
            if self.start_method == "forkserver":
                self._own_forkserver = _forkserver_pid() is None
            self._launch()

    def restart(self) -> None:
        """Terminate the workers - jobs running in them stop at once - and start a fresh, warming pool."""
        if self._executor is None:
            return
        self._stop()
        self._launch()

    def recover(self) -> bool:
        """If a dead worker broke the pool, replace it. True when it did."""
        if not self.is_broken:
            return False
        self.restart()
        return True

    def set_workers(self, workers: int) -> None:
        """Change the number of worker processes (restarts a running pool)."""
        workers = _check_workers(workers)
        if workers != self._workers:
            self._workers = workers
            self.restart()

    def shutdown(self) -> None:
        """Terminate and join every worker and helper thread. Idempotent; the pool can't be restarted."""
        if self._closed:
            return
        self._closed = True
        self._stop()
        if self._own_forkserver:
            # The fork server outlives pools (multiprocessing keeps one per app). We launched it, so we
            # stop it too, leaving no child process behind. Safe now: every worker it forked has exited.
            # `_stop` is multiprocessing's own (private) way to do this, used by CPython's tests.
            stop = getattr(multiprocessing.forkserver._forkserver, "_stop", None)
            if stop is not None:
                stop()
            self._own_forkserver = False

    # --- internals ---------------------------------------------------------------------------------

    def _launch(self) -> None:
        executor = ProcessPoolExecutor(max_workers=self._workers, mp_context=self._ctx)
        ready = _new_ready()
        self._executor, self._ready = executor, ready
        self._warmer = threading.Thread(
            target=_warm, args=(executor, self._workers, ready), name="cpu-pool-warm-up", daemon=True
        )
        self._warmer.start()

    def _stop(self) -> None:
        """Terminate the current executor's workers and join them, its threads and our warm-up thread."""
        executor, warmer = self._executor, self._warmer
        self._executor = self._warmer = None
        if executor is None:
            return
        # Keep references: shutdown() drops the executor's own. `_processes` is the same dict the executor's
        # manager thread keeps up to date, so workers started by a warm-up in progress show up in it too.
        processes = getattr(executor, "_processes", None) or {}
        manager = getattr(executor, "_executor_manager_thread", None)
        if hasattr(executor, "terminate_workers"):  # Python 3.14+: the public way
            executor.terminate_workers()
        else:  # older: stop accepting work, drop queued jobs, then SIGTERM each worker ourselves
            executor.shutdown(wait=False, cancel_futures=True)
            for proc in list(processes.values()):
                if _alive(proc):
                    proc.terminate()
        # Wait for the workers to exit. Anything that ignored SIGTERM gets SIGKILL.
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        alive = [proc for proc in list(processes.values()) if _alive(proc)]
        while alive and (left := deadline - time.monotonic()) > 0:
            multiprocessing.connection.wait([proc.sentinel for proc in alive], timeout=left)  # any one exits
            alive = [proc for proc in alive if _alive(proc)]
        for proc in alive:
            proc.kill()
        # The manager thread notices the dead workers, fails their futures (BrokenProcessPool), joins the
        # workers and the call queue's feeder thread, and exits.
        if manager is not None:
            manager.join(JOIN_TIMEOUT_S)
        if warmer is not None:
            warmer.join(JOIN_TIMEOUT_S)  # its warm-up jobs just failed or were cancelled: it ends now


def _warm(executor: ProcessPoolExecutor, workers: int, ready: Future[bool]) -> None:
    """On a helper thread: make every worker start by giving each a no-op job, then report ready.

    The submits themselves can block (the first one launches the fork server), which is why this isn't
    done on the caller's thread.
    """
    try:
        pending = [executor.submit(warm_up) for _ in range(workers)]
        for future in pending:
            future.result()
        ready.set_result(True)
    except (Exception, CancelledError):  # shut down or broken while warming: not ready, nothing to raise
        ready.set_result(False)


def _alive(proc: multiprocessing.process.BaseProcess) -> bool:
    # Look at the process's sentinel instead of calling is_alive(): is_alive() reaps a dead child, and the
    # executor's manager thread reaps (joins) its workers too - two threads reaping one child race.
    return not multiprocessing.connection.wait([proc.sentinel], timeout=0)


def _new_ready() -> Future[bool]:
    ready: Future[bool] = Future()
    # Mark it running: a waiter that gets cancelled then can't cancel this shared future (cancel() only
    # succeeds on a pending future), and set_result() from the warm-up thread always works.
    ready.set_running_or_notify_cancel()
    return ready


def _forkserver_pid() -> int | None:
    return getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None)


def _check_workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_JOBS:
        raise ValueError(f"workers must be a whole number from 1 to {MAX_JOBS}, got {workers!r}")
    return workers
