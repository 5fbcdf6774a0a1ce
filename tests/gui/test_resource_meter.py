"""The resource meter: per-core CPU, the app and its pool workers, vanished pids, refresh only when shown."""

import asyncio
import os
import subprocess
import sys

import psutil

from gui.resource_meter import ROLE_APP, ROLE_WORKER, ResourceMeter
from services import cpu
from tests.helpers import run


def test_reports_every_core_the_app_and_the_pool_workers(loop, ctx, qtbot):
    run(loop, ctx.pool.wait_ready())
    meter = ResourceMeter(ctx.pool.worker_pids)
    qtbot.addWidget(meter)
    snap = meter.refresh()
    assert len(snap.per_core) == psutil.cpu_count()
    assert all(0.0 <= v <= 100.0 for v in snap.per_core)
    roles = {p.pid: p.role for p in snap.processes}
    assert roles[os.getpid()] == ROLE_APP
    workers = sorted(p.pid for p in snap.workers())
    assert workers == ctx.pool.worker_pids() and len(workers) == ctx.pool.workers
    assert all(roles[pid] == ROLE_WORKER for pid in workers)
    assert all(p.rss > 0 for p in snap.processes)
    assert meter.snapshot() is snap
    assert meter.table.rowCount() == 1 + len(workers)
    assert meter.table.item(1, 1).text() == str(workers[0])


def test_workers_running_jobs_show_cpu_use(loop, ctx, qtbot):
    """Process mode: the workers that ran the jobs read busy; the app process does not do the work."""
    run(loop, ctx.pool.wait_ready())
    meter = ResourceMeter(ctx.pool.worker_pids)
    qtbot.addWidget(meter)
    meter.refresh()  # first reading of each process: the baseline
    opts = cpu.CpuOptions(jobs=ctx.pool.workers, n=3_000_000)
    result = run(loop, cpu.run_in_pool(ctx.pool, opts))
    assert result.ok_count == opts.jobs
    snap = meter.refresh()
    busy = {p.pid: p.cpu for p in snap.workers()}
    for pid in {i.detail["pid"] for i in result.items}:
        assert busy[pid] > 0, f"worker {pid} ran a job but reads idle: {busy}"
    meter.resize(900, 300)
    meter.show()
    meter.grab().save("/tmp/resource_meter.png")


def test_a_vanished_pid_drops_out_quietly(qtbot):
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        pids = [child.pid, dead.pid]
        meter = ResourceMeter(lambda: pids)
        qtbot.addWidget(meter)
        snap = meter.refresh()
        assert [p.pid for p in snap.workers()] == [child.pid]  # the dead one was never there
        child.stdin.close()
        child.wait()
        snap = meter.refresh()  # the live one exited between readings
        assert snap.workers() == ()
        assert [p.role for p in snap.processes] == [ROLE_APP]
        assert meter.table.rowCount() == 1
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdin and not child.stdin.closed:
            child.stdin.close()


def test_a_failing_provider_shows_no_workers(qtbot):
    def broken():
        raise RuntimeError("the worker pool is not running")

    meter = ResourceMeter(broken)
    qtbot.addWidget(meter)
    assert [p.role for p in meter.refresh().processes] == [ROLE_APP]


def test_refreshes_only_while_shown(loop, qtbot):
    calls = []
    meter = ResourceMeter(lambda: calls.append(1) or [], refresh_ms=20)
    qtbot.addWidget(meter)
    assert not meter.is_refreshing() and calls == []
    meter.show()
    assert meter.is_refreshing() and len(calls) == 1  # shown: a baseline now, readings on the timer
    qtbot.waitUntil(lambda: len(calls) >= 3, timeout=5000)
    meter.hide()
    assert not meter.is_refreshing()
    seen = len(calls)
    loop.run_until_complete(asyncio.sleep(0.1))  # five timer periods
    assert len(calls) == seen
