"""The task inspector lists the loop's asyncio tasks: what they await, then done / cancelled / failed."""

from __future__ import annotations

import asyncio
import time

import pytest
from PySide6.QtCore import Qt

from gui.asyncutil import next_emit
from gui.task_inspector import CANCELLED, DONE, FAILED, PENDING, TaskInspector, TasksModel
from tests.helpers import run


@pytest.fixture
def inspector(loop, qtbot):
    w = TaskInspector(loop=loop)
    qtbot.addWidget(w)
    w.resize(900, 400)
    w.show()
    return w


def rows_by_name(model: TasksModel) -> dict[str, object]:
    return {row.name: row for row in model.rows}


def test_states_and_what_each_task_awaits(loop, qtmodeltester):
    model = TasksModel(keep_s=3.0)
    qtmodeltester.check(model)  # empty, and stays attached: every later change is checked too

    async def scenario():
        sem, ev = asyncio.Semaphore(0), asyncio.Event()

        async def needs_slot():
            async with sem:
                pass

        async def fails():
            await ev.wait()
            raise ValueError("bad thing")

        tasks = {
            "sleeper": asyncio.create_task(asyncio.sleep(60), name="sleeper"),
            "slot": asyncio.create_task(needs_slot(), name="slot"),
            "event": asyncio.create_task(ev.wait(), name="event"),
            "fails": asyncio.create_task(fails(), name="fails"),
        }
        await asyncio.sleep(0)  # let each start and reach its await
        model.refresh(asyncio.all_tasks())
        rows = rows_by_name(model)
        assert {n: rows[n].state for n in tasks} == dict.fromkeys(tasks, PENDING)
        assert rows["sleeper"].awaiting == "Future"  # asyncio.sleep itself is the task's coroutine
        assert rows["sleeper"].coroutine == "sleep"
        assert rows["slot"].awaiting == "Semaphore.acquire"
        assert rows["slot"].coroutine.endswith("needs_slot")
        assert rows["fails"].awaiting == "Event.wait"
        qtmodeltester.check(model)

        tasks["sleeper"].cancel()
        ev.set()  # "event" finishes, "fails" raises
        sem.release()  # "slot" gets its slot
        await asyncio.gather(*tasks.values(), return_exceptions=True)  # (also: nothing left unretrieved)
        now = time.monotonic()
        model.refresh(asyncio.all_tasks(), now=now)
        return now

    now = run(loop, scenario())
    rows = rows_by_name(model)
    assert rows["sleeper"].state == CANCELLED
    assert rows["event"].state == DONE and rows["slot"].state == DONE
    assert rows["fails"].state == FAILED and rows["fails"].awaiting == "ValueError: bad thing"
    # Finished rows are greyed, and still listed until keep_s has passed.
    i = model.rows.index(rows["fails"])
    assert model.data(model.index(i, 0), Qt.ItemDataRole.ForegroundRole) is not None
    model.refresh(set(), now=now + 2.9)
    assert {"sleeper", "event", "fails", "slot"} <= set(rows_by_name(model))
    model.refresh(set(), now=now + 3.1)
    assert not {"sleeper", "event", "fails", "slot"} & set(rows_by_name(model))
    qtmodeltester.check(model)


def fetch_setup(window, count, delay):
    panel = window.panels["fetch"]
    window.toggle.set_mode("async")
    panel.select_preset("demo")
    panel.count.setValue(count)
    panel.delay.setValue(delay)
    return panel


def url_rows(inspector):
    # fetch_async starts min(concurrency, URLs) worker tasks; with 5 URLs and the default limit, one per URL.
    return [r for r in inspector.model.rows if r.coroutine == "fetch_async.worker"]


async def wait_for_pending_url_tasks(inspector, finished, n):
    while not finished.done():
        await next_emit(inspector.refreshed, 10)
        if sum(r.state == PENDING for r in url_rows(inspector)) >= n:
            return
    raise AssertionError("the run finished before the inspector saw its tasks pending")


def test_an_async_fetch_shows_its_url_tasks_pending_then_done(loop, window, inspector, qtmodeltester):
    qtmodeltester.check(inspector.model)
    panel = fetch_setup(window, count=5, delay=1.0)

    async def scenario():
        finished = asyncio.ensure_future(next_emit(panel.run_finished, 60))
        await asyncio.sleep(0)
        panel.run_button.click()
        await wait_for_pending_url_tasks(inspector, finished, 5)
        pending = [r for r in url_rows(inspector) if r.state == PENDING]
        awaiting = {r.awaiting for r in pending}
        (result,) = await finished
        await next_emit(inspector.refreshed, 10)
        return result, pending, awaiting

    result, pending, awaiting = run(loop, scenario())
    assert result.ok_count == 5
    assert len(pending) >= 5
    assert all(a for a in awaiting), awaiting  # each says what it waits for (the network, or a slot)
    assert all(r.state == DONE for r in pending)  # the same rows, now done (and greyed for a while)
    assert inspector.model.counts()[DONE] >= 5
    assert f"{inspector.model.counts()[DONE]} done" in inspector.summary.text()


def test_a_cancelled_fetch_shows_its_url_tasks_cancelled(loop, window, inspector):
    panel = fetch_setup(window, count=5, delay=20)

    async def scenario():
        finished = asyncio.ensure_future(next_emit(panel.run_finished, 60))
        await asyncio.sleep(0)
        panel.run_button.click()
        await wait_for_pending_url_tasks(inspector, finished, 5)
        pending = [r for r in url_rows(inspector) if r.state == PENDING]
        panel.cancel_button.click()
        (result,) = await finished
        await next_emit(inspector.refreshed, 10)
        return result, pending

    result, pending = run(loop, scenario())
    assert result.cancelled
    assert len(pending) >= 5 and all(r.state == CANCELLED for r in pending)
    assert "cancelled" in inspector.summary.text()


def test_refreshes_only_while_visible(loop, inspector):
    assert inspector.timer.isActive()
    inspector.hide()
    assert not inspector.timer.isActive()
    inspector.show()
    assert inspector.timer.isActive()
