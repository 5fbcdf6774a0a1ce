"""Concurrency rules (issue 8), made explicit and checked through the window:

1. Run is disabled for a panel while its run is in flight: a second click, or F5, starts nothing.
2. In Async mode the three workloads may run at once, and the heartbeat keeps ticking all the while.
3. Changing the mode during a run affects only the next run.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from gui.asyncutil import next_emit
from services import demo_db
from tests.helpers import click_and_wait, run, sqlite_panel
from tests.reliability import fetch_panel

SLOW_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000) SELECT count(*) FROM c"
)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    return demo_db.build_demo_db(tmp_path_factory.mktemp("db") / "small.sqlite3", scale=0.01)


def setup(window, workload: str, mode: str, small_db):
    """A run of that workload in that mode, long enough to be seen in flight (about a second)."""
    if workload == "fetch":
        panel = fetch_panel(window, mode, [window.ctx.server.url("/delay/0.5")] * 2)
    elif workload == "sqlite":
        panel = sqlite_panel(window, mode, small_db, SLOW_SQL, copies=2)
    else:
        panel = window.panels["cpu"]
        window.tabs.setCurrentWidget(panel)
        panel.select_mode(mode)
        panel.jobs.setValue(2)
        panel.size.setValue(40 if mode == "thread" else 10)  # threads share one GIL: they need longer
    assert panel.effective_mode(window.ctx.mode()) == mode
    return panel


def count(signal) -> list:
    seen: list = []
    signal.connect(lambda *args: seen.append(args))
    return seen


# --- 1. one run per panel at a time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workload", "mode"),
    [("fetch", "async"), ("sqlite", "async"), ("cpu", "thread"), ("cpu", "process")],
)
def test_run_is_disabled_while_an_awaited_run_is_in_flight(loop, window, small_db, workload, mode):
    panel = setup(window, workload, mode, small_db)
    if mode == "process":
        run(loop, window.ctx.pool.wait_ready())
    started = count(panel.run_started)

    async def scenario():
        finished = asyncio.ensure_future(next_emit(panel.run_finished, 60))
        await asyncio.sleep(0)
        panel.run_button.click()
        assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
        for _ in range(3):  # the UI is alive during the run: a user can click and press keys
            await next_emit(window.ctx.heartbeat.ticked)
            assert not finished.done()
            panel.run_button.click()  # a disabled button does nothing
            window.run_action.trigger()  # F5 goes through start_run, which refuses while busy
            assert not panel.run_button.isEnabled()
        return await finished

    (result,) = run(loop, scenario())
    assert result.status == "ok" and result.mode == mode
    assert len(started) == 1 and window.runs_model.rowCount() == 1  # one run, not four
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert len(window.ctx.tasks) == 0


@pytest.mark.parametrize("workload", ["fetch", "sqlite", "cpu"])
def test_run_is_disabled_during_a_blocking_run(loop, window, small_db, workload):
    # A frozen window cannot see a click at all; the only moments code runs mid-run are the item callbacks.
    panel = setup(window, workload, "blocking", small_db)
    started = count(panel.run_started)
    seen = []

    def on_item(index, _item):
        seen.append((panel.run_button.isEnabled(), panel.cancel_button.isEnabled()))
        window.run_action.trigger()  # F5, as if it had got through

    panel.item_done.connect(on_item)
    result = run(loop, click_and_wait(panel))
    assert result.status == "ok" and len(seen) == 2
    assert seen == [(False, False)] * 2  # Run off, and Cancel too: a blocking run cannot be cancelled
    assert len(started) == 1 and window.runs_model.rowCount() == 1
    assert panel.run_button.isEnabled()


# --- 2. the three workloads at once, in Async mode ----------------------------------------------------------


def test_three_workloads_at_once_in_async_mode_and_the_heartbeat_keeps_ticking(loop, window, ctx, small_db):
    window.toggle.set_mode("async")
    panels = {
        "fetch": fetch_panel(window, "async", [ctx.server.url("/delay/1")] * 4),
        "sqlite": sqlite_panel(window, "async", small_db, SLOW_SQL, copies=2),
        "cpu": window.panels["cpu"],
    }
    panels["cpu"].select_mode("process")
    panels["cpu"].jobs.setValue(2)
    panels["cpu"].size.setValue(25)
    run(loop, ctx.pool.wait_ready())
    spans: dict[str, list[float]] = {name: [] for name in panels}
    for name, panel in panels.items():
        panel.run_started.connect(lambda *_a, n=name: spans[n].append(time.perf_counter()))
        panel.run_finished.connect(lambda *_a, n=name: spans[n].append(time.perf_counter()))

    async def scenario():
        finished = [asyncio.ensure_future(next_emit(p.run_finished, 60)) for p in panels.values()]
        await asyncio.sleep(0)
        for panel in panels.values():
            panel.run_button.click()
        assert all(p.busy for p in panels.values()) and len(ctx.tasks) >= 3  # all three in flight
        return [r for (r,) in await asyncio.gather(*finished)]

    results = run(loop, scenario())
    assert [(r.workload, r.mode, r.status) for r in results] == [
        ("fetch", "async", "ok"),
        ("sqlite", "async", "ok"),
        ("cpu", "process", "ok"),
    ]
    overlap_start = max(start for start, _ in spans.values())
    overlap_end = min(end for _, end in spans.values())
    assert overlap_start < overlap_end  # the three really ran at the same time...
    assert ctx.heartbeat.count_between(overlap_start, overlap_end) > 0  # ...and the UI kept ticking
    for panel in panels.values():
        assert panel.last_stats.ticks > 0
    assert window.runs_model.rowCount() == 3


# --- 3. a mode change mid-run is for the next run -----------------------------------------------------------


def test_toggling_the_mode_during_a_run_changes_only_the_next_run(loop, window, ctx):
    panel = fetch_panel(window, "async", [ctx.server.url("/delay/0.5")] * 2)

    async def scenario():
        finished = asyncio.ensure_future(next_emit(panel.run_finished, 30))
        await asyncio.sleep(0)
        panel.run_button.click()
        await next_emit(ctx.heartbeat.ticked)
        window.mode_action.trigger()  # Ctrl+M, mid-run: now Blocking
        assert ctx.mode() == "blocking" and panel.run_button.text() == "Run (blocking)"  # says what's next
        assert panel.cancel_button.isEnabled()  # the running (async) run can still be cancelled
        await next_emit(ctx.heartbeat.ticked)  # still alive: the running run did not turn blocking
        assert not finished.done()
        (result,) = await finished
        return result

    first = run(loop, scenario())
    assert first.mode == "async" and first.status == "ok"
    second = run(loop, click_and_wait(panel))
    assert second.mode == "blocking" and panel.last_stats.ticks == 0
    assert [window.runs_model.run_at(i).mode for i in range(2)] == ["async", "blocking"]


def test_changing_what_async_means_for_cpu_during_a_run_changes_only_the_next_run(loop, window, ctx):
    panel = window.panels["cpu"]
    window.tabs.setCurrentWidget(panel)
    panel.select_mode("process")
    panel.jobs.setValue(2)
    panel.size.setValue(20)
    run(loop, ctx.pool.wait_ready())

    async def scenario():
        finished = asyncio.ensure_future(next_emit(panel.run_finished, 60))
        await asyncio.sleep(0)
        panel.run_button.click()
        await next_emit(ctx.heartbeat.ticked)
        panel.async_mode.setCurrentIndex(panel.async_mode.findData("thread"))  # mid-run
        assert panel.run_button.text() == "Run (thread)"
        (result,) = await finished
        return result

    first = run(loop, scenario())
    assert first.mode == "process" and all(i.detail["pid"] != os.getpid() for i in first.items)
    panel.size.setValue(1)
    second = run(loop, click_and_wait(panel))
    assert second.mode == "thread"
    assert all(
        i.detail["pid"] == os.getpid() and i.detail["thread"].startswith("cpu-thread") for i in second.items
    )
    assert [window.runs_model.run_at(i).mode for i in range(2)] == ["process", "thread"]
