import asyncio
import itertools

from gui.asyncutil import next_emit


def run(loop, coro, timeout=90):
    """Run a test coroutine inside the qasync loop, with a generous guard timeout (not a measurement)."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


async def click_and_wait(panel, timeout=60):
    """Click Run the way a user does, then wait for the run's row."""
    pending = asyncio.ensure_future(next_emit(panel.run_finished, timeout))
    await asyncio.sleep(0)  # let the waiter connect before the click
    panel.run_button.click()
    (result,) = await pending
    return result


def overlapping(items) -> bool:
    """True if some two items were in flight at the same time."""
    spans = sorted((i.started, i.ended) for i in items)
    return any(b_start < a_end for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def sqlite_panel(window, mode, db, sql, copies=1):
    """Show the SQLite tab set to run ``sql`` on ``db`` in ``mode``, ``copies`` times."""
    panel = window.panels["sqlite"]
    window.tabs.setCurrentWidget(panel)
    window.toggle.set_mode(mode)
    panel.use_database(db)
    panel.sql.setPlainText(sql)
    panel.copies.setValue(copies)
    return panel
