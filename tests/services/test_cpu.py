"""services.cpu: the four runners give the same results; only the thread and process ones free the loop."""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.cpu import (
    MAX_JOBS,
    MAX_N,
    CpuOptions,
    crash_job,
    job,
    run_blocking,
    run_in_pool,
    run_in_thread,
    run_on_loop,
    sum_of_squares,
    thread_executor,
)
from services.pool import WorkerPool
from services.runs import CANCELLED, ItemResult, RunResult
from services.stalls import AsyncTicker

# ~60 ms a job here: spans several 10 ms heartbeat ticks and 5 ms GIL switches, yet stays quick.
SMALL = CpuOptions(jobs=4, n=2_000_000)


def squares_up_to(n: int) -> int:
    """0² + … + (n-1)² by the closed form, to check the loop against."""
    return (n - 1) * n * (2 * n - 1) // 6


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(workers=2)
    pool.start()
    yield pool
    pool.shutdown()


async def run_with_ticker(run: Callable[[], Awaitable[RunResult]]) -> tuple[RunResult, int]:
    """Await a run while a 10 ms heartbeat ticks on the same loop; return the run and the ticks inside it."""
    ticker = AsyncTicker(0.01)
    ticker.start()
    try:
        start = time.perf_counter()
        result = await run()
        end = time.perf_counter()
    finally:
        ticker.stop()
    return result, ticker.count_between(start, end)


def check_results(result: RunResult, opts: CpuOptions) -> None:
    assert result.workload == "cpu"
    assert result.error is None and not result.cancelled
    assert [i.label for i in result.items] == [f"job {k + 1}" for k in range(opts.jobs)]
    assert all(i.ok for i in result.items)
    assert [i.detail["result"] for i in result.items] == [squares_up_to(opts.n)] * opts.jobs
    for item in result.items:
        assert 0 <= item.started <= item.ended <= result.wall_s
    assert dict(result.params)["jobs"] == opts.jobs
    assert dict(result.params)["n"] == opts.n


@pytest.mark.parametrize("n", [1, 2, 3, 10, 12_345])
def test_sum_of_squares_matches_the_closed_form(n):
    assert sum_of_squares(n) == squares_up_to(n)


def test_job_reports_who_ran_it_and_when():
    before = time.perf_counter()
    out = job(1000)
    after = time.perf_counter()
    assert out.result == squares_up_to(1000)
    assert out.pid == os.getpid()
    assert out.thread == threading.current_thread().name
    assert before <= out.start <= out.end <= after


def test_blocking_run_does_the_jobs_one_after_another_on_the_callers_thread():
    seen: list[tuple[int, ItemResult]] = []
    result = run_blocking(SMALL, on_item=lambda i, item: seen.append((i, item)))
    check_results(result, SMALL)
    assert result.mode == "blocking"
    assert {i.detail["pid"] for i in result.items} == {os.getpid()}
    assert {i.detail["thread"] for i in result.items} == {threading.current_thread().name}
    for earlier, later in zip(result.items, result.items[1:], strict=False):
        assert later.started >= earlier.ended
    assert seen == list(enumerate(result.items))


@pytest.mark.parametrize("mode", ["blocking", "loop"])
def test_blocking_and_never_awaiting_runs_stop_the_heartbeat(mode):
    async def run() -> RunResult:
        if mode == "blocking":
            return run_blocking(SMALL)
        return await run_on_loop(SMALL)

    result, ticks = asyncio.run(run_with_ticker(run))
    check_results(result, SMALL)
    assert result.mode == mode
    assert ticks == 0  # the loop never got control back while the jobs ran


def test_the_loop_runner_really_is_a_coroutine():
    # ...so the heartbeat test above shows `async def` alone doesn't free the loop.
    assert inspect.iscoroutinefunction(run_on_loop)


def test_thread_run_keeps_the_heartbeat_but_the_jobs_take_turns():
    async def main():
        with thread_executor() as executor:
            return await run_with_ticker(lambda: run_in_thread(executor, SMALL))

    result, ticks = asyncio.run(main())
    check_results(result, SMALL)
    assert result.mode == "thread"
    assert ticks > 0
    assert {i.detail["pid"] for i in result.items} == {os.getpid()}
    threads = {i.detail["thread"] for i in result.items}
    assert len(threads) == SMALL.jobs and threading.main_thread().name not in threads
    # All four ran at once, interleaved by the GIL: every job started before any job ended.
    assert max(i.started for i in result.items) < min(i.ended for i in result.items)


class SpyExecutor(ThreadPoolExecutor):
    """Counts the jobs that really began in a thread, and flags the first one."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers)
        self.began = 0
        self.first_began = threading.Event()

    def submit(self, fn, /, *args, **kwargs):
        def spied():
            self.began += 1
            self.first_began.set()
            return fn(*args, **kwargs)

        return super().submit(spied)


def test_cancelling_a_thread_run_cancels_queued_jobs_and_reports_the_running_one():
    executor = SpyExecutor(max_workers=1)  # one thread: job 1 runs, jobs 2 and 3 wait in the queue
    opts = CpuOptions(jobs=3, n=10_000_000)
    reported: dict[int, ItemResult] = {}

    async def main():
        task = asyncio.create_task(run_in_thread(executor, opts, on_item=reported.__setitem__))
        for _ in range(500):
            if executor.first_began.is_set():
                break
            await asyncio.sleep(0.01)
        assert executor.first_began.is_set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(main())
    finally:
        executor.shutdown(wait=True)  # the running job can't be stopped: it finishes here
    assert list(reported) == [0]
    assert reported[0].error == CANCELLED and not reported[0].ok
    assert 0 <= reported[0].started <= reported[0].ended
    assert executor.began == 1  # the queued jobs never ran


def test_process_run_spreads_the_jobs_over_worker_processes(pool):
    seen: list[int] = []

    async def main():
        assert await pool.wait_ready()
        return await run_with_ticker(lambda: run_in_pool(pool, SMALL, on_item=lambda i, _: seen.append(i)))

    result, ticks = asyncio.run(main())
    check_results(result, SMALL)
    assert result.mode == "process"
    assert dict(result.params)["workers"] == 2
    assert ticks > 0
    pids = {i.detail["pid"] for i in result.items}
    assert os.getpid() not in pids
    assert len(pids) > 1
    assert pids <= set(pool.worker_pids())
    assert sorted(seen) == list(range(SMALL.jobs))


BAD_OPTIONS = [
    (CpuOptions(jobs=0), "jobs must be at least 1, got 0"),
    (CpuOptions(jobs=-3), "jobs must be at least 1, got -3"),
    (CpuOptions(jobs=MAX_JOBS + 1), f"jobs must be at most {MAX_JOBS}, got {MAX_JOBS + 1}"),
    (CpuOptions(jobs="4"), "jobs must be a whole number, got '4'"),
    (CpuOptions(jobs=True), "jobs must be a whole number, got True"),
    (CpuOptions(n=0), "n must be at least 1, got 0"),
    (CpuOptions(n=-1), "n must be at least 1, got -1"),
    (CpuOptions(n=MAX_N + 1), f"n must be at most {MAX_N:,}, got {MAX_N + 1:,}"),
    (CpuOptions(n=2.5), "n must be a whole number, got 2.5"),
    (CpuOptions(n=None), "n must be a whole number, got None"),
]


@pytest.mark.parametrize(("opts", "message"), BAD_OPTIONS)
@pytest.mark.parametrize("mode", ["blocking", "loop", "thread", "process"])
def test_invalid_options_fail_the_run_with_a_specific_message(mode, opts, message):
    stopped_pool = WorkerPool(workers=1)  # never started: bad options must be caught before the pool is used

    async def run() -> RunResult:
        if mode == "blocking":
            return run_blocking(opts)
        if mode == "loop":
            return await run_on_loop(opts)
        if mode == "thread":
            with ThreadPoolExecutor(1) as executor:
                return await run_in_thread(executor, opts)
        return await run_in_pool(stopped_pool, opts)

    result = asyncio.run(run())
    assert (result.workload, result.mode) == ("cpu", mode)
    assert result.error == message
    assert result.status == "failed" and result.items == ()


def test_a_pool_that_is_not_running_fails_the_run():
    result = asyncio.run(run_in_pool(WorkerPool(workers=1), SMALL))
    assert result.error == "the worker pool is not running"


def test_a_shut_down_thread_pool_fails_the_run():
    executor = ThreadPoolExecutor(1)
    executor.shutdown()
    result = asyncio.run(run_in_thread(executor, SMALL))
    assert result.error == "the thread pool is shut down"


def test_crash_job_refuses_to_kill_the_app_process():
    with pytest.raises(RuntimeError, match="pool worker"):
        crash_job()
