"""Many runs in one app, through the same window and handlers a user clicks, watching for leaks.

Used by `freezelab-bench --soak N` (issue: nothing may grow without bound) and by the memory target.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import psutil

from gui.asyncutil import next_emit


@dataclass(frozen=True)
class Snapshot:
    rss_mb: float
    threads: int
    fds: int
    tasks: int
    children: int

    @classmethod
    def take(cls) -> Snapshot:
        gc.collect()
        me = psutil.Process()
        fds = me.num_fds() if hasattr(me, "num_fds") else me.num_handles()
        tasks = len(asyncio.all_tasks()) - 1  # not the soak's own task
        children = [c for c in me.children(recursive=True) if _counts(c)]
        return cls(me.memory_info().rss / 2**20, threading.active_count(), fds, tasks, len(children))


def _counts(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass(frozen=True)
class SoakReport:
    runs: int
    failed_runs: int
    start: Snapshot
    end: Snapshot

    def growth(self) -> dict[str, float]:
        return {
            k: getattr(self.end, k) - getattr(self.start, k)
            for k in ("rss_mb", "threads", "fds", "tasks", "children")
        }

    def table(self) -> str:
        lines = [
            f"soak: {self.runs} runs ({self.failed_runs} with errors)",
            "metric      start      end   growth",
        ]
        for key, grew in self.growth().items():
            a, b = getattr(self.start, key), getattr(self.end, key)
            lines.append(f"{key:<9} {a:>8.1f} {b:>8.1f} {grew:>+8.1f}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "failed_runs": self.failed_runs,
            "start": self.start.__dict__,
            "end": self.end.__dict__,
            "growth": self.growth(),
        }


def configure_fast(window) -> None:
    """Small, quick inputs: a soak is about many runs, not long ones."""
    fetch = window.panels["fetch"]
    fetch.select_preset("demo")
    fetch.count.setValue(4)
    fetch.delay.setValue(0.05)
    window.panels["sqlite"].configure_small()
    cpu = window.panels["cpu"]
    cpu.jobs.setValue(2)
    cpu.size.setValue(1)


async def soak(n: int, data_dir: Path | None = None, warmup_rounds: int = 2) -> SoakReport:
    from gui.context import AppContext
    from gui.main_window import MainWindow

    with tempfile.TemporaryDirectory(prefix="freezelab-soak-") as tmp:
        ctx = AppContext(data_dir=data_dir or Path(tmp))
        await ctx.start()
        window = MainWindow(ctx)
        window.show()
        try:
            configure_fast(window)
            plan = [(p, m) for p in window.panels.values() for m in p.modes]
            for p in window.panels.values():
                await p.prepare_self_test()
            # Warm up first: the first runs of each kind grow the heap once (allocator arenas for new
            # threads, import and query caches). Growth is measured from the steady state after that.
            for panel, mode in plan * warmup_rounds:
                await _one(window, panel, mode)
            start = Snapshot.take()
            failed = 0
            for i in range(n):
                panel, mode = plan[i % len(plan)]
                run = await _one(window, panel, mode)
                failed += bool(run.error or run.failed_count)
            end = Snapshot.take()
        finally:
            window.hide()
            await ctx.aclose()
            window.deleteLater()
    return SoakReport(n, failed, start, end)


async def _one(window, panel, mode):
    window.tabs.setCurrentWidget(panel)
    panel.select_mode(mode)
    if mode == "process":
        await window.ctx.pool.wait_ready()
    pending = asyncio.ensure_future(next_emit(panel.run_finished, 120))
    await asyncio.sleep(0)
    panel.run_button.click()
    (run,) = await pending
    return run
