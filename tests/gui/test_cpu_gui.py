"""The CPU panel through its buttons: which modes freeze the UI, where the jobs ran, cancel, crash."""

import asyncio
import os

import psutil
import pytest

from gui.asyncutil import next_emit
from services import cpu
from tests.helpers import click_and_wait, overlapping, run


def cpu_panel(window, mode, jobs=4, size_m=2):
    panel = window.panels["cpu"]
    window.tabs.setCurrentWidget(panel)
    panel.select_mode(mode)
    panel.jobs.setValue(jobs)
    panel.size.setValue(size_m)
    return panel


@pytest.mark.parametrize(
    ("mode", "freezes"), [("blocking", True), ("loop", True), ("thread", False), ("process", False)]
)
def test_which_cpu_modes_freeze_the_ui(loop, window, mode, freezes):
    panel = cpu_panel(window, mode)
    assert panel.effective_mode(window.ctx.mode()) == mode
    if mode == "process":
        run(loop, window.ctx.pool.wait_ready())
    result = run(loop, click_and_wait(panel))
    assert result.mode == mode and result.ok_count == 4
    if freezes:
        assert panel.last_stats.ticks == 0
    else:
        assert panel.last_stats.ticks > 0


def test_process_jobs_ran_in_other_processes_and_show_their_pids(loop, window):
    panel = cpu_panel(window, "process")
    run(loop, window.ctx.pool.wait_ready())
    result = run(loop, click_and_wait(panel))
    pids = {i.detail["pid"] for i in result.items}
    assert os.getpid() not in pids and len(pids) >= 2
    window.runs_view.selectRow(0)
    shown = window.insights.items_model.data(window.insights.items_model.index(0, 5))
    assert f"pid {result.items[0].detail['pid']}" in shown
    assert overlapping(result.items)


def test_speedup_column_compares_with_the_last_blocking_run(loop, window):
    panel = cpu_panel(window, "blocking")
    run(loop, click_and_wait(panel))
    panel.select_mode("process")
    run(loop, window.ctx.pool.wait_ready())
    run(loop, click_and_wait(panel))
    assert window.runs_model.speedup_at(1) is not None


def test_cancel_a_process_run_stops_its_workers(loop, window, ctx):
    panel = cpu_panel(window, "process", jobs=2, size_m=400)  # ~10 s a job if left alone
    run(loop, ctx.pool.wait_ready())
    before = set(ctx.pool.worker_pids())

    async def scenario():
        pending = asyncio.ensure_future(next_emit(panel.run_finished, 60))
        await asyncio.sleep(0)
        panel.run_button.click()
        await next_emit(ctx.heartbeat.ticked)
        await next_emit(ctx.heartbeat.ticked)
        assert not panel.workers.isEnabled()  # resizing the pool mid-run is not offered
        panel.cancel_button.click()
        (result,) = await pending
        return result

    result = run(loop, scenario())
    assert result.cancelled
    _, alive = psutil.wait_procs([psutil.Process(p) for p in before if psutil.pid_exists(p)], timeout=10)
    assert not alive, "the workers running the cancelled jobs are still alive"
    run(loop, ctx.pool.wait_ready())
    again = cpu_panel(window, "process", jobs=2, size_m=1)
    assert run(loop, click_and_wait(again)).ok_count == 2


def test_crashed_worker_is_reported_and_the_next_run_works(loop, window, ctx):
    panel = cpu_panel(window, "process", jobs=2, size_m=1)
    run(loop, ctx.pool.wait_ready())

    async def crash():
        pending = asyncio.ensure_future(next_emit(ctx.status, 30))
        await asyncio.sleep(0)
        panel.crash_button.click()
        return await pending

    (message,) = run(loop, crash())
    assert cpu.WORKER_DIED in message
    assert cpu.WORKER_DIED in panel.progress.text()
    run(loop, ctx.pool.wait_ready())
    assert run(loop, click_and_wait(panel)).ok_count == 2
