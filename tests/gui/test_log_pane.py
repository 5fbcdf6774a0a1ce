"""The log pane: records from any thread arrive on the GUI thread, the filter hides lower levels, and the
asyncio debug switch makes the loop's slow-callback warnings appear."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
import shiboken6

from gui.log_pane import LogPane, PaneHandler
from tests.helpers import run


@pytest.fixture
def pane(loop, qtbot):
    p = LogPane(loop=loop)
    qtbot.addWidget(p)
    p.show()
    yield p
    p.uninstall()


@pytest.fixture
def logger():
    lg = logging.getLogger("freezelab.test-log-pane")
    yield lg
    assert not [h for h in lg.handlers if isinstance(h, PaneHandler)], "a pane handler was left installed"


async def until_line(pane, needle, timeout=10):
    """Wait until a line containing ``needle`` has reached the pane (records can arrive in a burst)."""
    fut = asyncio.get_running_loop().create_future()

    def slot(_level, text):
        if needle in text and not fut.done():
            fut.set_result(text)

    pane.line_added.connect(slot)
    try:
        return await asyncio.wait_for(fut, timeout)
    finally:
        pane.line_added.disconnect(slot)


def test_a_record_from_another_thread_arrives_on_the_gui_thread(loop, logger, pane):
    pane.install(logger)
    appended_on: list[int] = []
    pane.line_added.connect(lambda *_: appended_on.append(threading.get_ident()))

    async def scenario():
        waiting = asyncio.ensure_future(until_line(pane, "hello from a worker"))
        await asyncio.sleep(0)
        worker = threading.Thread(target=lambda: logger.warning("hello from a worker"), name="worker")
        worker.start()
        await waiting
        worker.join()

    run(loop, scenario())
    assert "hello from a worker" in pane.visible_text()
    assert "WARNING" in pane.visible_text() and "freezelab.test-log-pane" in pane.visible_text()
    assert appended_on == [threading.get_ident()]  # the widget was touched on the GUI thread only
    pane.uninstall()
    assert pane.handler not in logger.handlers


def test_the_level_filter_hides_lower_records_and_brings_them_back(loop, logger, pane):
    pane.set_level("DEBUG")
    pane.install(logger, level=logging.DEBUG)

    async def scenario():
        waiting = asyncio.ensure_future(until_line(pane, "e-record"))
        await asyncio.sleep(0)
        logger.debug("d-record")
        logger.info("i-record")
        logger.warning("w-record")
        logger.error("e-record")
        await waiting

    run(loop, scenario())
    assert all(f"{c}-record" in pane.visible_text() for c in "diwe")
    pane.set_level("WARNING")
    text = pane.visible_text()
    assert "w-record" in text and "e-record" in text
    assert "d-record" not in text and "i-record" not in text
    pane.set_level("ERROR")
    assert pane.visible_text().strip().endswith("e-record") and "w-record" not in pane.visible_text()
    pane.set_level("DEBUG")  # kept, so lowering the filter shows them again
    assert all(f"{c}-record" in pane.visible_text() for c in "diwe")


def test_install_lowers_the_logger_level_and_uninstall_restores_it(pane):
    root = logging.getLogger()
    before = root.level
    console = logging.StreamHandler()  # stands for the app's console handler (level NOTSET)
    root.addHandler(console)
    try:
        root.setLevel(logging.WARNING)
        pane.install()  # INFO and up must reach the pane...
        assert root.getEffectiveLevel() == logging.INFO
        assert console.level == logging.WARNING  # ...but the console keeps printing WARNING and up only
        pane.uninstall()
        pane.uninstall()
        assert root.level == logging.WARNING and console.level == logging.NOTSET
        assert pane.handler not in root.handlers
    finally:
        root.removeHandler(console)
        root.setLevel(before)


def test_the_checkbox_toggles_asyncio_debug_mode(loop, pane):
    assert not loop.get_debug()
    pane.debug_mode.setChecked(True)
    assert loop.get_debug() and loop.slow_callback_duration == pytest.approx(0.1)
    pane.debug_mode.setChecked(False)
    assert not loop.get_debug()
    pane.set_asyncio_debug(True)  # from code: the box follows
    assert pane.debug_mode.isChecked() and loop.get_debug()
    pane.set_asyncio_debug(False)
    assert not pane.debug_mode.isChecked()


async def hogs_the_loop():
    """Deliberately blocking: a coroutine step that holds the event loop for 150 ms without awaiting."""
    time.sleep(0.15)


def test_with_debug_on_a_coroutine_hogging_the_loop_is_reported_in_the_pane(loop, pane):
    pane.install()  # the root logger: the warning comes from the event loop's own logger
    pane.debug_mode.setChecked(True)

    async def scenario():
        waiting = asyncio.ensure_future(until_line(pane, "took"))
        await asyncio.sleep(0)
        await asyncio.create_task(hogs_the_loop(), name="hog")
        return await waiting

    try:
        line = run(loop, scenario())
    finally:
        pane.debug_mode.setChecked(False)
    assert "Executing" in line and "hogs_the_loop" in line and "WARNING" in line
    assert line in pane.visible_text()


def test_destroying_the_pane_takes_its_handler_off_the_logger(loop, logger):
    p = LogPane(loop=loop)
    p.install(logger)
    handler = p.handler
    assert handler in logger.handlers
    shiboken6.delete(p)  # the window went away without uninstall()
    assert handler not in logger.handlers
    logger.warning("nobody listens")  # and nothing breaks
