"""`freezelab-bench`: the workloads headless, on offscreen Qt + qasync, measured with the app's own meter.

It lives in gui/ (not services/) because it measures the Qt event loop: services/ stays Qt-free.
Blocking modes are called on the GUI thread exactly as the app's handlers call them; async modes are awaited
on the qasync loop; `asyncio-plain` runs the same async code on a plain asyncio loop in a thread with no Qt
(the overhead baseline), measured by an asyncio heartbeat. A failing item is data, not a crash: the command
exits 0 whenever the benchmark itself ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.runs import RunResult
from services.stalls import AsyncTicker

WORKLOADS = ("fetch", "sqlite", "cpu")
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="freezelab-bench", description=__doc__.split("\n")[0])
    p.add_argument("--workload", choices=(*WORKLOADS, "all"), default="all")
    p.add_argument("--mode", action="append", help="repeatable; default: every mode of the workload")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    p.add_argument("--urls", type=Path, help="file with one URL a line; replaces the embedded-server URLs")
    p.add_argument("--db", type=Path, help="SQLite file; replaces the demo database")
    p.add_argument("--query", action="append", help="SQL, repeatable; replaces the preset queries")
    p.add_argument("--timeout", type=float, default=10.0, help="per-URL timeout, seconds")
    p.add_argument("--concurrency", type=int, default=100, help="async fetch concurrency limit")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    return p.parse_args(argv)


# --- measuring one run ---------------------------------------------------------------------------------
async def measure_qt(
    bc: BenchContext, call: Callable[[], RunResult | Awaitable[RunResult]], scenario: str
) -> RunResult:
    """Run one blocking call or one coroutine on the qasync loop; stall figures from the Qt heartbeat."""
    t0 = time.perf_counter()
    out = call()
    result = await out if asyncio.iscoroutine(out) else out
    stats = bc.heartbeat.stats(t0, time.perf_counter())
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
    stats = box["stats"]
    return box["result"].with_stalls(
        mode="asyncio-plain",
        scenario=scenario,
        max_stall_ms=stats.max_stall_ms,
        p99_stall_ms=stats.p99_stall_ms,
        missed_frames=stats.missed_frames,
    )


# --- workloads ----------------------------------------------------------------------------------------
async def bench_fetch(bc: BenchContext, modes: list[str]) -> list[RunResult]:
    from services import fetch

    args = bc.args
    if args.urls:
        urls = fetch.parse_url_list(args.urls.read_text(encoding="utf-8", errors="replace"))
        scenarios = [("urls-file", urls)]
    else:
        n, delay = (6, 0.2) if args.quick else (20, 0.5)
        scenarios = [(f"{n}x/delay/{delay}", [bc.server.url(f"/delay/{delay}?i={i}") for i in range(n)])]
    opts = fetch.FetchOptions(timeout_s=args.timeout, concurrency=args.concurrency)
    results = []
    for scenario, urls in scenarios:
        for mode in modes:
            if mode == "blocking":
                r = await measure_qt(bc, lambda u=urls: fetch.fetch_blocking(u, opts), scenario)
            elif mode == "async":
                r = await measure_qt(bc, lambda u=urls: fetch.fetch_async(bc.session, u, opts), scenario)
            else:  # asyncio-plain: the same coroutine, its own session, a loop with no Qt

                async def plain(u=urls):
                    async with fetch.make_session() as session:
                        return await fetch.fetch_async(session, u, opts)

                r = measure_plain(plain, scenario)  # fetch_async labels it; measure_plain says asyncio-plain
            results.append(r)
    return results


async def bench_sqlite(bc: BenchContext, modes: list[str]) -> list[RunResult]:
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
            if mode == "blocking":
                r = await measure_qt(bc, lambda q=sql: sqlite.query_blocking(db, q, opts), scenario)
            else:
                r = await measure_qt(bc, lambda q=sql: sqlite.query_async(db, q, opts), scenario)
            results.append(r)
    return results


async def bench_cpu(bc: BenchContext, modes: list[str]) -> list[RunResult]:
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


BENCHES: dict[str, Callable[[BenchContext, list[str]], Awaitable[list[RunResult]]]] = {
    "fetch": bench_fetch,
    "sqlite": bench_sqlite,
    "cpu": bench_cpu,
}


# --- output ----------------------------------------------------------------------------------------
COLUMNS = (
    "workload",
    "mode",
    "scenario",
    "items",
    "ok",
    "failed",
    "wall_s",
    "items_sum_s",
    "max_stall_ms",
    "p99_stall_ms",
)


def table(runs: list[RunResult]) -> str:
    rows = [COLUMNS]
    for r in runs:
        d = r.to_dict()
        rows.append(tuple(_cell(d[c]) for c in COLUMNS))
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(
            cell.rjust(w) if i >= 3 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return "—" if v is None else str(v)


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    pkgs = {}
    for name in ("PySide6-Essentials", "qasync", "aiohttp", "aiosqlite", "requests"):
        try:
            pkgs[name] = version(name)
        except Exception:  # pragma: no cover - a missing optional package
            pkgs[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": pkgs,
    }


def to_json(runs: list[RunResult]) -> dict[str, Any]:
    keys = (*COLUMNS, "results")
    return {"runs": [{k: r.to_dict()[k] for k in keys} for r in runs], "environment": environment()}


# --- entry point ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gui.app import install_qt_message_filter, raise_open_file_limit

    raise_open_file_limit()
    install_qt_message_filter()
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        runs = loop.run_until_complete(run_bench(args))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    print(table(runs))
    if args.json:
        args.json.write_text(json.dumps(to_json(runs), indent=2), encoding="utf-8")
        print(f"JSON written to {args.json}")
    return 0


async def run_bench(args: argparse.Namespace) -> list[RunResult]:
    from gui.heartbeat import Heartbeat
    from services import cpu
    from services.demo_server import DemoServer
    from services.fetch import make_session
    from services.pool import WorkerPool

    workloads = WORKLOADS if args.workload == "all" else (args.workload,)
    heartbeat = Heartbeat()
    heartbeat.start()
    server = DemoServer()
    server.start()
    session = make_session()
    pool = WorkerPool()
    if "cpu" in workloads:
        pool.start()  # warms up in the background while the other workloads run
    bc = BenchContext(args, heartbeat, server, session, pool, cpu.thread_executor())
    runs: list[RunResult] = []
    try:
        for w in workloads:
            modes = [m for m in (args.mode or MODES[w]) if m in MODES[w]]
            runs += await BENCHES[w](bc, modes)
    finally:
        heartbeat.stop()
        await session.close()
        server.stop()
        pool.shutdown()
        bc.threads.shutdown(wait=True)
    return runs


if __name__ == "__main__":
    sys.exit(main())
