"""Whole-process measures for freezelab-bench: start-up time, idle CPU, memory, and the soak."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import psutil

from services.targets import TargetResult, median

APP = [sys.executable, "-m", "gui.app"]
PAINTED = "freezelab: painted"


def _env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}


async def _until_painted(proc: subprocess.Popen) -> bool:
    while True:
        line = await asyncio.to_thread(proc.stdout.readline)
        if not line:
            return False
        if line.startswith(PAINTED):
            return True


async def startup(repeat: int = 5) -> TargetResult:
    """Process start → main window painted, median of ``repeat`` cold-ish starts of an installed venv."""
    times = []
    with tempfile.TemporaryDirectory(prefix="freezelab-startup-") as data:
        for _ in range(repeat):
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [*APP, "--quit-after-paint", "--data-dir", data],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=_env(),
            )
            if await _until_painted(proc):
                times.append(time.perf_counter() - t0)
            await asyncio.to_thread(proc.wait, 30)
    note = "runs: " + ", ".join(f"{t:.2f}" for t in times) if times else "the window never painted"
    return TargetResult(
        "startup: process start → window painted (median)", median(times), 1.0, "s", note=note
    )


def _tree_cpu_seconds(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def idle(seconds: float) -> TargetResult:
    """CPU use of the app and its pool workers, window open and nothing running, in % of one core."""
    with tempfile.TemporaryDirectory(prefix="freezelab-idle-") as data:
        proc = subprocess.Popen(
            [*APP, "--report-paint", "--data-dir", data],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_env(),
        )
        try:
            if not await _until_painted(proc):
                return TargetResult(
                    "idle: CPU with the window open", None, 3.0, "%", note="the app did not start"
                )
            await asyncio.sleep(2.0)  # let the pool warm up and start-up work settle
            ps = psutil.Process(proc.pid)
            c0, t0 = _tree_cpu_seconds(ps), time.perf_counter()
            await asyncio.sleep(seconds)
            c1, t1 = _tree_cpu_seconds(ps), time.perf_counter()
        finally:
            proc.send_signal(signal.SIGINT if os.name != "nt" else signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 30)
    pct = (c1 - c0) / (t1 - t0) * 100
    return TargetResult(
        "idle: CPU with the window open",
        pct,
        3.0,
        "%",
        note=f"over {seconds:g} s, app + workers, {os.environ.get('QT_QPA_PLATFORM')} platform",
    )


async def memory(extra: dict[str, Any]) -> list[TargetResult]:
    with tempfile.TemporaryDirectory(prefix="freezelab-memory-") as data:
        proc = await asyncio.to_thread(
            subprocess.run,
            [*APP, "--self-test", "--data-dir", data],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=600,
        )
    found = re.search(r"self-test: RSS (\d+(?:\.\d+)?) MB", proc.stdout)
    rss = float(found.group(1)) if found else None
    tail = proc.stdout.strip().splitlines()[-1:] or ["no output"]
    first = TargetResult("memory: RSS after a full self-test", rss, 250, "MB", note=tail[0])
    # The soak runs in a fresh process: growth measured here would include the heap churn of the benchmark
    # scenarios that ran before it, which the app never does.
    with tempfile.TemporaryDirectory(prefix="freezelab-soak-") as tmp:
        out = os.path.join(tmp, "soak.json")
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "gui.bench", "--soak", "50", "--json", out],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=900,
        )
        try:
            with open(out, encoding="utf-8") as f:
                soak = json.load(f)["soak"][0]
        except (OSError, ValueError, KeyError, IndexError):
            soak = None
    if soak is None:
        return [
            first,
            TargetResult("memory: RSS growth over 50 runs", None, 10, "MB", note="the soak did not run"),
        ]
    extra.setdefault("soak", []).append(soak)
    growth = soak["growth"]["rss_mb"]
    start, end = soak["start"]["rss_mb"], soak["end"]["rss_mb"]
    note = f"in a fresh process after two warm-up rounds; RSS {start:.0f} → {end:.0f} MB"
    return [first, TargetResult("memory: RSS growth over 50 runs", growth, 10, "MB", note=note)]


async def soak_report(n: int, extra: dict[str, Any]):
    from gui.soak import soak

    report = await soak(n)
    extra.setdefault("soak", []).append(report.to_dict())
    extra.setdefault("_text", []).append(report.table())
    return report


def judge_soak(report) -> list[TargetResult]:
    g = report.growth()
    rss_limit = 20.0 if report.runs >= 100 else 10.0
    results = [TargetResult(f"soak {report.runs}: RSS growth", g["rss_mb"], rss_limit, "MB")]
    for key in ("threads", "fds", "tasks", "children"):
        results.append(TargetResult(f"soak {report.runs}: {key} growth", g[key], 0, ""))
    return results
