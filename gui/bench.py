"""`freezelab-bench`: the workloads headless, on offscreen Qt + qasync, measured with the app's own meter.

It lives in gui/ (not services/) because it measures the Qt event loop: services/ stays Qt-free.
Blocking modes are called on the GUI thread exactly as the app's handlers call them; async modes are awaited
on the qasync loop; `asyncio-plain` runs the same async code on a plain asyncio loop in a thread with no Qt
(the overhead baseline), measured by an asyncio heartbeat. Every ratio is computed from figures measured in
the same invocation. A failing item is data, not a crash: the command exits 0 whenever the benchmark ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
from pathlib import Path
from typing import Any

from gui.bench_scenarios import MODES, SCENARIOS, BenchContext
from services.runs import RunResult
from services.targets import TargetResult, format_targets, median

WORKLOADS = ("fetch", "sqlite", "cpu")
DEFAULT_SCENARIO = {"fetch": "fetch-delay", "sqlite": "sqlite-copies", "cpu": "cpu-jobs"}
PROCESS_SCENARIOS = ("startup", "idle", "memory")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="freezelab-bench", description=__doc__.split("\n")[0])
    p.add_argument("--workload", choices=(*WORKLOADS, "all"), default="all")
    p.add_argument("--mode", action="append", help="repeatable; default: every mode of the workload")
    p.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help=f"repeatable: {', '.join([*SCENARIOS, *PROCESS_SCENARIOS])} or all (with targets)",
    )
    p.add_argument(
        "--repeat", type=int, default=1, help="run each workload scenario N times; medians are reported"
    )
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    p.add_argument("--urls", type=Path, help="file with one URL a line; replaces the embedded-server URLs")
    p.add_argument("--db", type=Path, help="SQLite file; replaces the demo database")
    p.add_argument("--query", action="append", help="SQL, repeatable; replaces the preset queries")
    p.add_argument("--timeout", type=float, default=10.0, help="per-URL timeout, seconds")
    p.add_argument("--concurrency", type=int, default=100, help="async fetch concurrency limit")
    p.add_argument(
        "--startup", action="store_true", help="also time process start → window painted (median of 5)"
    )
    p.add_argument("--idle", type=float, metavar="SECONDS", help="also measure the CPU use of an idle window")
    p.add_argument("--soak", type=int, metavar="N", help="also run N runs in one app and report growth")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    names = args.scenario or []
    if "all" in names:
        names = [*SCENARIOS, *PROCESS_SCENARIOS]
    unknown = [n for n in names if n not in SCENARIOS and n not in PROCESS_SCENARIOS]
    if unknown:
        p.error(f"unknown scenario {unknown[0]!r}")
    if not names:  # the plain workload benchmark (DESIGN.md contract)
        names = [DEFAULT_SCENARIO[w] for w in (WORKLOADS if args.workload == "all" else (args.workload,))]
    args.scenarios = names
    return args


# --- output ---------------------------------------------------------------------------------------------
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


def table(runs: list[RunResult], repeat: int = 1) -> str:
    """One row per run, or with repeats one row per (scenario, mode) holding the medians."""
    rows = [(*COLUMNS, "runs") if repeat > 1 else COLUMNS]
    if repeat > 1:
        groups: dict[tuple[str, str, str], list[RunResult]] = {}
        for r in runs:
            groups.setdefault((r.workload, r.scenario, r.mode), []).append(r)
        for group in groups.values():
            d = group[0].to_dict()
            for key in ("wall_s", "items_sum_s", "max_stall_ms", "p99_stall_ms", "ok", "failed"):
                d[key] = median([g.to_dict()[key] for g in group])
            rows.append((*(_cell(d[c]) for c in COLUMNS), str(len(group))))
    else:
        rows += [tuple(_cell(r.to_dict()[c]) for c in COLUMNS) for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
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
    from importlib.metadata import PackageNotFoundError, version

    pkgs: dict[str, str | None] = {}
    for name in ("PySide6-Essentials", "qasync", "aiohttp", "aiosqlite", "requests"):
        try:
            pkgs[name] = version(name)
        except PackageNotFoundError:
            pkgs[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": pkgs,
    }


def to_json(
    runs: list[RunResult], targets: list[TargetResult] = (), extra: dict | None = None
) -> dict[str, Any]:
    keys = (*COLUMNS, "results")
    data: dict[str, Any] = {
        "runs": [{k: r.to_dict()[k] for k in keys} for r in runs],
        "environment": environment(),
    }
    if targets:
        data["targets"] = [t.to_dict() for t in targets]
    if extra:
        data.update(extra)
    return data


# --- entry point ----------------------------------------------------------------------------------------
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
        runs, targets, extra = loop.run_until_complete(run_bench(args))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    if runs:
        print(table(runs, args.repeat))
    for text in extra.pop("_text", []):
        print(text)
    if targets:
        print()
        print(format_targets(targets))
    if args.json:
        args.json.write_text(json.dumps(to_json(runs, targets, extra), indent=2), encoding="utf-8")
        print(f"JSON written to {args.json}")
    return 0


async def run_bench(args: argparse.Namespace) -> tuple[list[RunResult], list[TargetResult], dict[str, Any]]:
    from gui import bench_process
    from gui.heartbeat import Heartbeat
    from services import cpu
    from services.demo_server import DemoServer
    from services.fetch import make_session
    from services.pool import WorkerPool

    heartbeat = Heartbeat()
    heartbeat.start()
    server = DemoServer()
    server.start()
    session = make_session()
    pool = WorkerPool()
    if "cpu-jobs" in args.scenarios:
        pool.start()  # warms up in the background while the other scenarios run
    bc = BenchContext(args, heartbeat, server, session, pool, cpu.thread_executor())
    runs: list[RunResult] = []
    targets: list[TargetResult] = []
    extra: dict[str, Any] = {"_text": []}
    judge = bool(args.scenario)  # targets only when scenarios were named
    try:
        for name in args.scenarios:
            if name in SCENARIOS:
                sc = SCENARIOS[name]
                modes = [m for m in (args.mode or MODES[sc.workload]) if m in MODES[sc.workload]]
                mine: list[RunResult] = []
                for _ in range(args.repeat):
                    mine += await sc.run(bc, modes)
                runs += mine
                if judge:
                    targets += sc.judge(bc, mine)
    finally:
        heartbeat.stop()
        await session.close()
        server.stop()
        pool.shutdown()
        bc.threads.shutdown(wait=True)
    # Whole-process measures run after the in-process ones, on a quiet machine.
    if "startup" in args.scenarios or args.startup:
        targets.append(await bench_process.startup(repeat=5))
    if "idle" in args.scenarios or args.idle:
        targets.append(await bench_process.idle(args.idle or 10.0))
    if "memory" in args.scenarios:
        targets += await bench_process.memory(extra)
    if args.soak:
        report = await bench_process.soak_report(args.soak, extra)
        targets += bench_process.judge_soak(report)
    return runs, targets, extra


if __name__ == "__main__":
    sys.exit(main())
