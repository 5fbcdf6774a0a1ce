"""Offscreen Qt, a qasync loop per test, and the app's context and window built on it."""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

import asyncio
import threading

import pytest


@pytest.fixture
def loop(qapp):
    import qasync

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


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
