"""Offscreen Qt, a qasync loop per test, and the app's context and window built on it."""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

import asyncio
import threading

import pytest


@pytest.fixture(scope="session")
def _session_loop(qapp):
    # One qasync loop for the whole session. A fresh loop per test crashed now and then (a segfault inside
    # Qt's exec): each closed loop leaves its _SimpleTimer's Qt timers and deferred deletes behind, and they
    # fire inside the next test's loop.
    import qasync

    loop = qasync.QEventLoop(qapp)
    yield loop
    loop.close()


@pytest.fixture
def loop(_session_loop):
    asyncio.set_event_loop(_session_loop)
    yield _session_loop
    leftover = [t for t in asyncio.all_tasks(_session_loop) if not t.done()]
    for t in leftover:
        t.cancel()
    if leftover:
        _session_loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
    asyncio.set_event_loop(None)
    assert not leftover, f"a test left tasks running: {leftover}"


@pytest.fixture
def ctx(loop, tmp_path):
    from gui.context import AppContext

    threads_before = set(threading.enumerate())
    c = AppContext(data_dir=tmp_path / "data")
    loop.run_until_complete(c.start())
    yield c
    loop.run_until_complete(c.aclose())
    c.deleteLater()
    leftover = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    for t in leftover:  # give a finishing thread a moment, then insist
        t.join(timeout=5)
    assert not [t for t in leftover if t.is_alive()], f"threads left running: {leftover}"


@pytest.fixture
def window(ctx, qtbot):
    from gui.main_window import MainWindow

    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    return w
