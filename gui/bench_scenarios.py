"""The benchmark's scenarios: how each workload is run and measured, and the targets each is judged by.

Blocking modes are called on the GUI thread exactly as the app's handlers call them; async modes are awaited
on the qasync loop; `asyncio-plain` runs the same async code on a plain asyncio loop in a thread with no Qt
(the overhead baseline), measured by an asyncio heartbeat. Every ratio is computed from figures measured in
the same invocation; targets are judged on medians over --repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.runs import RunResult
from services.stalls import AsyncTicker
from services.targets import TargetResult, median, ratio

MODES = {
    "fetch": ("blocking", "async", "asyncio-plain"),
    "sqlite": ("blocking", "async"),
    "cpu": ("blocking", "loop", "thread", "process"),
}


@dataclass
class BenchContext:
    args: argparse.Namespace
    heartbeat: Any  # gui.heartbeat.Heartbeat
    server: Any  # services.demo_server.DemoServer
    session: Any  # aiohttp.ClientSession
    pool: Any  # services.pool.WorkerPool
    threads: Any  # concurrent.futures.ThreadPoolExecutor


# --- measuring one run -----------------------------------------------------------------------------------
async def measure_qt(bc: BenchContext, call: Callable[[], Any], scenario: str) -> RunResult:
    """Run one blocking call or one coroutine on the qasync loop; stall figures from the Qt heartbeat."""
    t0 = time.perf_counter()
    out = call()
    result = await out if asyncio.iscoroutine(out) else out
    t1 = time.perf_counter()
    stats = bc.heartbeat.stats(t0, t1)
    return result.with_stalls(
        scenario=scenario,
        max_stall_ms=stats.max_stall_ms,
        p99_stall_ms=stats.p99_stall_ms,
        missed_frames=stats.missed_frames,
    )


def measure_plain(make: Callable[[], Awaitable[RunResult]], scenario: str) -> RunResult:
    """Run a coroutine on a fresh plain asyncio loop in a thread (no Qt at all).

    Stall figures come from an asyncio ticker on that loop."""
    box: dict[str, Any] = {}

    async def main() -> None:
        ticker = AsyncTicker(0.016)
        ticker.start()
        t0 = time.perf_counter()
        try:
            box["result"] = await make()
        finally:
            t1 = time.perf_counter()
            ticker.stop()
        box["stats"] = ticker.stats(t0, t1)

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="bench-plain-asyncio")
    thread.start()
    thread.join()
    s = box["stats"]
    return box["result"].with_stalls(
        mode="asyncio-plain",
        scenario=scenario,
        max_stall_ms=s.max_stall_ms,
        p99_stall_ms=s.p99_stall_ms,
        missed_frames=s.missed_frames,
    )


async def fetch_modes(
    bc: BenchContext, scenario: str, urls: list[str], modes: list[str], opts
) -> list[RunResult]:
    from services import fetch

    results = []
    for mode in modes:
        if mode == "blocking":
            results.append(await measure_qt(bc, lambda: fetch.fetch_blocking(urls, opts), scenario))
        elif mode == "async":
            results.append(await measure_qt(bc, lambda: fetch.fetch_async(bc.session, urls, opts), scenario))
        elif mode == "asyncio-plain":  # the same coroutine, its own session, on a loop with no Qt

            async def plain():
                async with fetch.make_session() as session:
                    return await fetch.fetch_async(session, urls, opts)

            results.append(measure_plain(plain, scenario))
    return results


# --- workload scenarios: (run it, then judge it) ---------------------------------------------------------
async def run_fetch_delay(bc: BenchContext, modes: list[str]) -> list[RunResult]:
    from services import fetch

    if bc.args.urls:
        urls = fetch.parse_url_list(bc.args.urls.read_text(encoding="utf-8", errors="replace"))
        name = "urls-file"
    else:
        n, delay = (6, 0.2) if bc.args.quick else (20, 0.5)
        urls = [bc.server.url(f"/delay/{delay}?i={i}") for i in range(n)]
        name = f"{n}x/delay/{delay}"
    opts = fetch.FetchOptions(timeout_s=bc.args.timeout, concurrency=bc.args.concurrency)
    return await fetch_modes(bc, name, urls, modes, opts)


def judge_fetch_delay(bc: BenchContext, runs: list[RunResult]) -> list[TargetResult]:
    if bc.args.urls:
        return []
    n, delay = (6, 0.2) if bc.args.quick else (20, 0.5)
    return [
        TargetResult(
            "fetch-delay: async wall",
            _med(runs, "async", "wall_s"),
            delay * 1.1,
            "s",
            note=f"the physical limit is one delay, {delay} s",
        ),
        TargetResult("fetch-delay: async max stall", _med(runs, "async", "max_stall_ms"), 50, "ms"),
        TargetResult(
            "fetch-delay: blocking wall / (n × delay)",
            ratio(_med(runs, "blocking", "wall_s"), n * delay),
            1.2,
            "×",
            note="blocking waits for each URL in turn: ≈ 1 means n × delay",
        ),
    ]


async def run_fetch_burst(bc: BenchContext, modes: list[str]) -> list[RunResult]:
    from services import fetch

    n = 200 if bc.args.quick else 1000
    urls = [bc.server.url(f"/instant?i={i}") for i in range(n)]
    opts = fetch.FetchOptions(timeout_s=max(bc.args.timeout, 30.0), concurrency=max(bc.args.concurrency, 100))
    wanted = [m for m in modes if m != "blocking"]  # 1000 blocking requests teach nothing new
    return await fetch_modes(bc, f"{n}x/instant c{opts.concurrency}", urls, wanted, opts)


def judge_fetch_burst(bc: BenchContext, runs: list[RunResult]) -> list[TargetResult]:
    return [
        TargetResult(
            "fetch-burst: async wall / asyncio-plain wall",
            ratio(_med(runs, "async", "wall_s"), _med(runs, "asyncio-plain", "wall_s")),
            1.5,
            "×",
            note="aim 1.25; plain asyncio with no Qt is the floor",
        ),
        TargetResult("fetch-burst: async max stall", _med(runs, "async", "max_stall_ms"), 50, "ms"),
        TargetResult("fetch-burst: async p99 stall", _med(runs, "async", "p99_stall_ms"), 17, "ms"),
    ]


async def run_sqlite_copies(bc: BenchContext, modes: list[str]) -> list[RunResult]:
    from services import demo_db, sqlite

    args = bc.args
    copies = 2 if args.quick else 4
    if args.db:
        db = args.db
    else:  # the demo database, built once into the user's cache (a small one for --quick)
        scale = 0.05 if args.quick else 1.0
        db = demo_db.default_demo_db_path()
        if scale != 1.0:
            db = db.with_name(f"demo-scale-{scale:g}.sqlite3")
        if demo_db.demo_db_status(db, scale=scale) != "ok":
            print(f"building the demo database at {db} (once)…", file=sys.stderr)
            await asyncio.to_thread(demo_db.ensure_demo_db, db, scale=scale)
    queries = args.query or [sqlite.sqlite_presets()[0].sql]
    opts = sqlite.QueryOptions(copies=copies, row_cap=100)
    results = []
    for q_index, sql in enumerate(queries):
        scenario = f"{copies}x query {q_index + 1}"
        for mode in modes:
            call = sqlite.query_blocking if mode == "blocking" else sqlite.query_async
            results.append(await measure_qt(bc, lambda c=call, q=sql: c(db, q, opts), scenario))
    return results


def judge_sqlite_copies(bc: BenchContext, runs: list[RunResult]) -> list[TargetResult]:
    return [
        TargetResult(
            "sqlite-copies: async wall / blocking wall",
            ratio(_med(runs, "async", "wall_s"), _med(runs, "blocking", "wall_s")),
            0.75,
            "×",
            note="2 cores: the floor is 0.5",
        ),
        TargetResult("sqlite-copies: async max stall", _med(runs, "async", "max_stall_ms"), 50, "ms"),
    ]


async def run_cpu_jobs(bc: BenchContext, modes: list[str]) -> list[RunResult]:
    from services import cpu

    opts = cpu.CpuOptions(jobs=4, n=cpu.DEFAULT_N // (5 if bc.args.quick else 1))
    scenario = f"{opts.jobs}x{opts.n // 1_000_000}M"
    if "process" in modes:
        await bc.pool.wait_ready()  # the app warms its pool at start; measure it warm
    calls = {
        "blocking": lambda: cpu.run_blocking(opts),
        "loop": lambda: cpu.run_on_loop(opts),
        "thread": lambda: cpu.run_in_thread(bc.threads, opts),
        "process": lambda: cpu.run_in_pool(bc.pool, opts),
    }
    return [await measure_qt(bc, calls[mode], scenario) for mode in modes]


def judge_cpu_jobs(bc: BenchContext, runs: list[RunResult]) -> list[TargetResult]:
    thread_vs_blocking = ratio(_med(runs, "thread", "wall_s"), _med(runs, "blocking", "wall_s"))
    note = (
        "" if thread_vs_blocking is None else f"thread / blocking = {thread_vs_blocking:.2f} (the GIL: ≈ 1)"
    )
    return [
        TargetResult(
            "cpu-jobs: process wall / blocking wall",
            ratio(_med(runs, "process", "wall_s"), _med(runs, "blocking", "wall_s")),
            0.6,
            "×",
            note=note,
        ),
        TargetResult("cpu-jobs: process max stall", _med(runs, "process", "max_stall_ms"), 50, "ms"),
    ]


@dataclass(frozen=True)
class Scenario:
    workload: str
    run: Callable[[BenchContext, list[str]], Awaitable[list[RunResult]]]
    judge: Callable[[BenchContext, list[RunResult]], list[TargetResult]]


SCENARIOS: dict[str, Scenario] = {
    "fetch-delay": Scenario("fetch", run_fetch_delay, judge_fetch_delay),
    "fetch-burst": Scenario("fetch", run_fetch_burst, judge_fetch_burst),
    "sqlite-copies": Scenario("sqlite", run_sqlite_copies, judge_sqlite_copies),
    "cpu-jobs": Scenario("cpu", run_cpu_jobs, judge_cpu_jobs),
}


def _med(runs: list[RunResult], mode: str, field: str) -> float | None:
    return median([getattr(r, field) for r in runs if r.mode == mode and not r.error])
