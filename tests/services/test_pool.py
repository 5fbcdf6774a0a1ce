"""services.pool: one warm pool of worker processes; survives cancels and crashes, leaves nothing behind."""

from __future__ import annotations

import asyncio
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import signal
import sys
import threading
from collections.abc import Callable

import psutil
import pytest

from services.cpu import (
    MAX_N,
    WORKER_DIED,
    CpuOptions,
    crash_job,
    crash_worker,
    gui_modules_loaded,
    run_in_pool,
)
from services.pool import WorkerPool
from services.runs import CANCELLED, ItemResult

QUICK = CpuOptions(jobs=2, n=100_000)
ENDLESS = CpuOptions(jobs=2, n=MAX_N)  # ~15 s a job: only stopping the workers ends it in time


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll a condition without blocking the loop; True as soon as it holds, False if it never did."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


def mp_helpers() -> set[int]:
    """multiprocessing's own per-interpreter helper processes (the resource tracker, the fork server)."""
    pids = {
        getattr(multiprocessing.resource_tracker._resource_tracker, "_pid", None),
        getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None),
    }
    return {pid for pid in pids if pid is not None}


def children() -> set[int]:
    """Our live descendants (a forkserver's workers are our grandchildren)."""
    alive = set()
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.add(proc.pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def strays(pool: WorkerPool, baseline: set[int]) -> set[int]:
    """Descendants that are neither pre-existing, multiprocessing helpers, nor the pool's current workers."""
    return children() - baseline - mp_helpers() - set(pool.worker_pids())


async def until_workers_compute(pool: WorkerPool) -> None:
    """Wait until every worker is burning CPU, i.e. the run's jobs are really executing."""
    procs = [psutil.Process(pid) for pid in pool.worker_pids()]
    before = [p.cpu_times().user for p in procs]
    pairs = list(zip(procs, before, strict=True))
    assert await eventually(lambda: all(p.cpu_times().user - b > 0.05 for p, b in pairs))


@pytest.fixture
def baseline() -> set[int]:
    return children()


@pytest.fixture
def pool():
    pool = WorkerPool(workers=2)
    pool.start()
    yield pool
    pool.shutdown()


def test_start_method_is_never_fork():
    method = WorkerPool(workers=1).start_method
    expected = "forkserver" if sys.platform.startswith("linux") else "spawn"
    assert method == expected


def test_workers_default_to_the_cpu_count_and_are_validated():
    assert WorkerPool().workers == (os.cpu_count() or 1)
    for bad in (0, -1, 65, 2.0, "2", True):
        with pytest.raises(ValueError, match="workers must be"):
            WorkerPool(workers=bad)


def test_start_warms_every_worker_in_the_background(pool):
    async def main():
        assert pool.is_running
        assert await pool.wait_ready()

    asyncio.run(main())
    assert pool.is_ready
    pids = pool.worker_pids()
    assert len(pids) == 2 and os.getpid() not in pids
    assert set(pids) <= children()


def test_workers_do_not_import_qt_even_when_the_app_has(pool):
    pytest.importorskip("PySide6.QtCore")  # the app process has Qt loaded; a forked worker would inherit it

    async def main():
        assert await pool.wait_ready()
        loop = asyncio.get_running_loop()
        calls = [loop.run_in_executor(pool.executor, gui_modules_loaded) for _ in range(pool.workers)]
        return await asyncio.gather(*calls)

    assert "PySide6" in sys.modules
    assert asyncio.run(main()) == [[]] * pool.workers


def test_restart_replaces_the_workers_and_the_next_run_works(pool, baseline):
    async def main():
        assert await pool.wait_ready()
        old = set(pool.worker_pids())
        pool.restart()
        assert await pool.wait_ready()
        assert not old & set(pool.worker_pids())
        assert await eventually(lambda: not old & children())
        result = await run_in_pool(pool, QUICK)
        assert result.ok_count == QUICK.jobs
        assert await eventually(lambda: not strays(pool, baseline))

    asyncio.run(main())


def test_set_workers_resizes_the_pool():
    pool = WorkerPool(workers=1)
    pool.start()
    try:

        async def main():
            assert await pool.wait_ready()
            assert len(pool.worker_pids()) == 1
            pool.set_workers(2)
            assert await pool.wait_ready()
            assert len(pool.worker_pids()) == 2
            with pytest.raises(ValueError):
                pool.set_workers(0)

        asyncio.run(main())
    finally:
        pool.shutdown()


def test_cancelling_a_process_run_stops_the_running_jobs_at_once(pool, baseline):
    reported: dict[int, ItemResult] = {}

    async def main():
        assert await pool.wait_ready()
        old = set(pool.worker_pids())
        task = asyncio.create_task(run_in_pool(pool, ENDLESS, on_item=reported.__setitem__))
        await until_workers_compute(pool)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The workers running the jobs were terminated (a job left alone would run ~15 s more) ...
        assert await eventually(lambda: not old & children(), timeout=5)
        assert await eventually(lambda: not strays(pool, baseline))
        # ... and a fresh pool took over.
        result = await run_in_pool(pool, QUICK)
        assert result.ok_count == QUICK.jobs
        assert not old & {i.detail["pid"] for i in result.items}

    asyncio.run(main())
    assert sorted(reported) == [0, 1]
    for item in reported.values():
        assert item.error == CANCELLED and not item.ok
        assert 0 <= item.started <= item.ended


def test_a_killed_worker_fails_the_runs_items_and_the_next_run_works(pool, baseline):
    reported: dict[int, ItemResult] = {}

    async def main():
        assert await pool.wait_ready()
        old = set(pool.worker_pids())
        task = asyncio.create_task(run_in_pool(pool, ENDLESS, on_item=reported.__setitem__))
        await until_workers_compute(pool)
        os.kill(min(old), signal.SIGKILL)
        result = await asyncio.wait_for(task, 10)  # a result, not an exception out of the run
        assert result.error is None and not result.cancelled
        # One worker died, but a dead worker breaks the whole pool: both jobs are lost.
        assert [(i.ok, i.error) for i in result.items] == [(False, WORKER_DIED)] * ENDLESS.jobs
        assert dict(reported) == dict(enumerate(result.items))
        assert not pool.is_broken
        again = await run_in_pool(pool, QUICK)
        assert again.ok_count == QUICK.jobs
        assert not old & {i.detail["pid"] for i in again.items}
        assert await eventually(lambda: not strays(pool, baseline))

    asyncio.run(main())


def test_crash_worker_reports_the_death_and_recovers_the_pool(pool, baseline):
    async def main():
        assert await pool.wait_ready()
        old = set(pool.worker_pids())
        item = await crash_worker(pool)
        assert (item.ok, item.error) == (False, WORKER_DIED)
        assert not pool.is_broken
        result = await run_in_pool(pool, QUICK)
        assert result.ok_count == QUICK.jobs
        assert not old & set(pool.worker_pids())
        assert await eventually(lambda: not strays(pool, baseline))

    asyncio.run(main())


def test_a_broken_executor_is_replaced_on_next_use(pool):
    async def main():
        assert await pool.wait_ready()
        broken = pool.executor
        loop = asyncio.get_running_loop()
        with pytest.raises(Exception, match="terminated abruptly"):
            await loop.run_in_executor(broken, crash_job)
        assert pool.is_broken
        assert pool.executor is not broken  # asking for it recreated it
        assert not pool.is_broken
        assert (await run_in_pool(pool, QUICK)).ok_count == QUICK.jobs

    asyncio.run(main())


def test_shutdown_leaves_no_processes_and_no_threads(baseline):
    threads = set(threading.enumerate())
    pool = WorkerPool(workers=2)
    pool.start()

    async def main():
        assert await pool.wait_ready()
        assert (await run_in_pool(pool, QUICK)).ok_count == QUICK.jobs
        pool.shutdown()
        pool.shutdown()  # idempotent
        tracker = getattr(multiprocessing.resource_tracker._resource_tracker, "_pid", None)
        # Workers and the fork server we launched are gone; the resource tracker stays (one per
        # interpreter, shared by everything multiprocessing, exits with us).
        assert await eventually(lambda: children() - {tracker} <= baseline)

    try:
        asyncio.run(main())
    finally:
        pool.shutdown()
    assert set(threading.enumerate()) == threads
    assert not pool.is_running and pool.worker_pids() == []
    assert asyncio.run(run_in_pool(pool, QUICK)).error == "the worker pool is not running"
    with pytest.raises(RuntimeError, match="shut down"):
        pool.start()
