"""CPU-bound work: the one kind of work that `async` alone cannot fix.

Waiting (a network reply, a database) leaves the CPU idle, so an event loop can do other things while it
waits. Computing keeps the CPU busy, and in CPython a thread that computes holds the GIL. So the same jobs
are run four ways, each returning the same RunResult:

  run_blocking  plain loop on the caller's (GUI) thread             -> the window freezes
  run_on_loop   the same loop inside `async def`, never awaiting    -> still freezes (the pitfall)
  run_in_thread jobs in threads, awaited                            -> UI smooth, but no speed-up (GIL)
  run_in_pool   jobs in worker processes, awaited                   -> UI smooth and truly parallel

This module must stay importable without Qt: the pool's worker processes import it to run `job`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.runs import CANCELLED, ItemClock, ItemResult, OnItem, RunResult, failed_run

if TYPE_CHECKING:  # only for the annotation: pool.py imports this module, not the other way round
    from services.pool import WorkerPool

WORKLOAD = "cpu"
MAX_JOBS = 64
# Measured on the 2-core dev machine (Python 3.11): ~29 ns per loop step, so 25 M steps take ~0.7 s.
DEFAULT_N = 25_000_000
# ~15 s for one job there: even a machine twice as slow stays under ~30 s, and a job cannot be
# interrupted once a thread runs it, so this cap is what bounds a cancel (or quit) in thread mode.
MAX_N = 500_000_000
WORKER_DIED = "worker process died"


@dataclass(frozen=True)
class CpuOptions:
    jobs: int = 4  # how many identical jobs one run does (1..MAX_JOBS)
    n: int = DEFAULT_N  # size of each job: the number of squares it sums (1..MAX_N)


def check_options(opts: CpuOptions) -> str | None:
    """The reason these options can't run, in words for the user; None when they are fine."""
    for name, value, top in (("jobs", opts.jobs, MAX_JOBS), ("n", opts.n, MAX_N)):
        if isinstance(value, bool) or not isinstance(value, int):  # bool is an int subclass: reject it too
            return f"{name} must be a whole number, got {value!r}"
        if value < 1:
            return f"{name} must be at least 1, got {value}"
        if value > top:
            return f"{name} must be at most {top:,}, got {value:,}"
    return None


# --- the work ------------------------------------------------------------------------------------------


def sum_of_squares(n: int) -> int:
    """0² + 1² + … + (n-1)², one Python step at a time.

    Deliberately naive: there is a closed form, n(n-1)(2n-1)/6 (the tests use it to check us), but the point
    is a pure-Python loop that keeps the CPU - and the GIL - busy for a while.
    """
    total = 0
    for i in range(n):
        total += i * i
    return total


@dataclass(frozen=True)
class JobOutput:
    """What one job reports back. Module-level and plain data, so it pickles across processes."""

    result: int
    pid: int  # which process ran it
    thread: str  # and which thread in that process
    start: float  # time.perf_counter() when the job began, in whatever process ran it
    end: float


def job(n: int) -> JobOutput:
    """One unit of CPU work, plus who ran it and when.

    perf_counter() is CLOCK_MONOTONIC on Linux: one clock for the whole machine, so a start/end taken in a
    worker process can be compared with the ItemClock.t0 taken in the app process.
    """
    start = time.perf_counter()
    result = sum_of_squares(n)
    end = time.perf_counter()
    return JobOutput(result, os.getpid(), threading.current_thread().name, start, end)


# --- four ways to run the same jobs ----------------------------------------------------------------------


def run_blocking(opts: CpuOptions, on_item: OnItem | None = None) -> RunResult:
    """Run every job right here, one after another, on the caller's (GUI) thread."""
    if problem := check_options(opts):
        return failed_run(WORKLOAD, "blocking", problem, **_params(opts))
    clock = ItemClock()
    items = []
    for i in range(opts.jobs):
        item = _item(i, job(opts.n), clock)  # nothing else on this thread runs until job() returns
        items.append(item)
        _report(on_item, i, item)  # a GUI gets this callback, but can't repaint until the whole run ends
    return _finish("blocking", items, clock, opts)


async def run_on_loop(opts: CpuOptions, on_item: OnItem | None = None) -> RunResult:
    """THE PITFALL: the same loop as run_blocking, just declared `async def`.

    `async def` does not make code run in the background. A coroutine only gives control back to the event
    loop at an `await` that actually waits, and there is none here: once the loop steps into this
    coroutine it runs every job to the end, and no timer, repaint or key press is handled meanwhile.
    (Sprinkling `await asyncio.sleep(0)` between jobs would only shorten the freeze to one job.)
    """
    if problem := check_options(opts):
        return failed_run(WORKLOAD, "loop", problem, **_params(opts))
    clock = ItemClock()
    items = []
    for i in range(opts.jobs):
        item = _item(i, job(opts.n), clock)  # computing, not waiting: the loop is stuck right here
        items.append(item)
        _report(on_item, i, item)
    return _finish("loop", items, clock, opts)


async def run_in_thread(executor: Executor, opts: CpuOptions, on_item: OnItem | None = None) -> RunResult:
    """Run the jobs in threads of an app-owned ThreadPoolExecutor and await them.

    The loop stays free (it is only awaiting futures), but the jobs gain nothing from running side by
    side: pure-Python code needs the GIL, and only one thread holds it at a time, so they take turns.
    The loop's thread must win the GIL back too, every few ms, so the UI stays alive but can stutter.
    We use the app's own executor, not asyncio.to_thread (the loop's default executor): qasync waits for
    the default executor when the loop closes, so a long job there would hang quit.

    Cancelling: a thread can't be stopped from outside. Jobs that haven't started are cancelled; jobs
    already running are reported cancelled but keep computing in the background until they finish.
    """
    if problem := check_options(opts):
        return failed_run(WORKLOAD, "thread", problem, **_params(opts))
    loop = asyncio.get_running_loop()
    clock = ItemClock()
    began: dict[int, float] = {}  # threads share our memory, so each can tell us when it really started
    try:
        futures = [loop.run_in_executor(executor, _job_in_thread, began, i, opts.n) for i in range(opts.jobs)]
    except RuntimeError:  # "cannot schedule new futures after shutdown": the app is quitting
        return failed_run(WORKLOAD, "thread", "the thread pool is shut down", **_params(opts))
    items = await _collect(futures, clock, on_item, started=lambda i: _since(began.get(i), clock))
    return _finish("thread", items, clock, opts)


async def run_in_pool(pool: WorkerPool, opts: CpuOptions, on_item: OnItem | None = None) -> RunResult:
    """Run the jobs in the app's worker processes and await them.

    Each worker is a separate Python process with its own GIL, so the jobs really run in parallel (one
    per core) and the loop stays free. The price: arguments and results are pickled across processes,
    and workers cost time to start (WorkerPool starts and warms them when the app starts).

    Cancelling: the pool restarts - its workers are terminated, so running jobs stop at once.
    A worker that dies breaks the whole pool: every job still in it is reported "worker process died",
    and the pool is recreated so the next run works.
    """
    if problem := check_options(opts) or _pool_problem(pool):
        return failed_run(WORKLOAD, "process", problem, **_params(opts))
    loop = asyncio.get_running_loop()
    clock = ItemClock()
    futures = [loop.run_in_executor(pool.executor, job, opts.n) for _ in range(opts.jobs)]
    # A job's real start happens in another process and we can't see it until the job reports back, so
    # a job still in the pool when the run is cancelled or crashes counts as started when we handed it over.
    handed_over = clock.now()
    items = await _collect(futures, clock, on_item, started=lambda i: handed_over, on_cancel=pool.restart)
    if any(item.error == WORKER_DIED for item in items):
        pool.recover()  # a broken pool stays broken: start a fresh one now, so it is warm for the next run
    return _finish("process", items, clock, opts, workers=pool.workers)


# --- the "crash a worker" action ---------------------------------------------------------------------------


def crash_job() -> None:
    """Kill the worker process that runs this: os._exit skips all cleanup, like a segfault would."""
    if multiprocessing.parent_process() is None:  # never take the app itself down by mistake
        raise RuntimeError("crash_job only runs in a pool worker process")
    os._exit(70)


async def crash_worker(pool: WorkerPool) -> ItemResult:
    """Send crash_job to the pool; report the death and recover the pool so the next run works.

    If a run is in progress, the crash job waits for a free worker, then takes the pool down with it:
    that run's remaining jobs fail with "worker process died" too.
    """
    clock = ItemClock()
    if problem := _pool_problem(pool):
        return clock.item("crash a worker", 0.0, ok=False, error=problem)
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(pool.executor, crash_job)
    except BrokenProcessPool:
        pool.recover()
        return clock.item("crash a worker", 0.0, ok=False, error=WORKER_DIED, workers=pool.worker_pids())
    return clock.item("crash a worker", 0.0, ok=True)  # not expected: the worker survived os._exit


# --- small jobs the pool uses ------------------------------------------------------------------------------


def warm_up() -> int:
    """A no-op job that makes a worker process start (and import this module) before the first run."""
    return os.getpid()


GUI_MODULES = ("PySide6", "qasync", "pyqtgraph", "gui")


def gui_modules_loaded() -> list[str]:
    """Which GUI packages this process has imported. Run it in a worker: the answer must be [] -
    a worker that imported Qt paid for it at start-up and is one stray call away from touching it."""
    return sorted(name for name in GUI_MODULES if name in sys.modules)


def thread_executor(max_workers: int = MAX_JOBS) -> ThreadPoolExecutor:
    """The app-owned executor for run_in_thread. Enough threads that every job of a run gets its own;
    shut it down at quit (jobs already running still finish first: threads can't be killed)."""
    return ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cpu-thread")


# --- plumbing shared by the runners ------------------------------------------------------------------------


def _label(i: int) -> str:
    return f"job {i + 1}"


def _params(opts: CpuOptions) -> dict[str, Any]:
    return {"jobs": opts.jobs, "n": opts.n}


def _item(i: int, out: JobOutput, clock: ItemClock) -> ItemResult:
    """A finished job as an ItemResult, timed by the job itself, on the run's time axis."""
    started, ended = out.start - clock.t0, out.end - clock.t0
    detail = {"pid": out.pid, "thread": out.thread, "result": out.result}
    return ItemResult(_label(i), True, ended - started, started, ended, detail=detail)


def _report(on_item: OnItem | None, i: int, item: ItemResult) -> None:
    if on_item is not None:
        on_item(i, item)


def _finish(
    mode: str, items: Sequence[ItemResult], clock: ItemClock, opts: CpuOptions, **params: Any
) -> RunResult:
    return RunResult(WORKLOAD, mode, tuple(items), clock.now(), params={**_params(opts), **params})


def _job_in_thread(began: dict[int, float], i: int, n: int) -> JobOutput:
    began[i] = time.perf_counter()  # runs in the worker thread: plain dict writes are safe under the GIL
    return job(n)


def _since(perf: float | None, clock: ItemClock) -> float | None:
    return None if perf is None else perf - clock.t0


def _pool_problem(pool: WorkerPool) -> str | None:
    return None if pool.is_running else "the worker pool is not running"


def _failure(exc: BaseException) -> str:
    """A job's exception as a specific, human message."""
    if isinstance(exc, BrokenProcessPool):
        return WORKER_DIED
    if isinstance(exc, MemoryError):
        return "out of memory"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _collect(
    futures: Sequence[asyncio.Future[JobOutput]],
    clock: ItemClock,
    on_item: OnItem | None,
    started: Callable[[int], float | None],
    on_cancel: Callable[[], object] | None = None,
) -> list[ItemResult]:
    """Await the jobs' futures, reporting each item as it finishes; a failed job becomes an error item.

    started(i) says when job i began (run-relative), or None if it hasn't. If the run is cancelled:
    on_cancel() stops what it can, every job that had begun and not finished is reported cancelled, and
    CancelledError goes on up (the jobs' futures were already cancelled by gather).
    """
    done: dict[int, ItemResult] = {}

    async def one(i: int, future: asyncio.Future[JobOutput]) -> None:
        try:
            item = _item(i, await future, clock)
        except Exception as exc:  # not CancelledError: that one must propagate
            item = clock.item(_label(i), started(i) or 0.0, ok=False, error=_failure(exc))
        done[i] = item
        _report(on_item, i, item)

    try:
        await asyncio.gather(*(one(i, f) for i, f in enumerate(futures)))
    except asyncio.CancelledError:
        if on_cancel is not None:
            on_cancel()
        for i in range(len(futures)):
            if i not in done and (since := started(i)) is not None:
                _report(on_item, i, clock.item(_label(i), since, ok=False, error=CANCELLED))
        raise
    return [done[i] for i in range(len(futures))]
