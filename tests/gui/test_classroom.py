"""Classroom ergonomics and the integrated "why" views, through the real window."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow
from services import cpu, fetch
from tests.helpers import click_and_wait, run


@pytest.fixture
def reset_zoom():
    base = QApplication.font()
    yield
    QApplication.setFont(base)


def test_zoom_changes_the_font_and_is_remembered(loop, window, ctx, qtbot, reset_zoom):
    before = QApplication.font().pointSizeF()
    toggle_before = window.toggle.buttons["async"].font().pointSizeF()
    window.zoom_in_action.trigger()
    window.zoom_in_action.trigger()
    assert QApplication.font().pointSizeF() > before
    assert window.toggle.buttons["async"].font().pointSizeF() > toggle_before  # the big toggle follows
    factor = window.zoom.factor
    window.close()  # saves the settings
    QApplication.setFont(window.zoom.base)
    again = MainWindow(ctx)
    qtbot.addWidget(again)
    assert again.zoom.factor == factor
    assert QApplication.font().pointSizeF() == pytest.approx(before * factor)
    again.zoom_reset_action.trigger()
    assert QApplication.font().pointSizeF() == pytest.approx(before)


def test_shortcuts_trigger_their_actions(loop, window, qtbot):
    assert window.mode_action.shortcut().toString() == "Ctrl+M"
    assert window.run_action.shortcut().toString() == "F5"
    assert window.cancel_action.shortcut().toString() == "Esc"
    assert window.fullscreen_action.shortcut().toString() == "F11"
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    mode = window.ctx.mode()
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert window.ctx.mode() != mode
    started = []
    window.panels["fetch"].run_started.connect(started.append)
    window.panels["fetch"].urls.setPlainText("")  # an empty list fails at once: no network needed
    qtbot.keyClick(window, Qt.Key.Key_F5)
    run(loop, _settle())
    assert started  # F5 pressed Run


async def _settle():
    import asyncio

    for _ in range(5):
        await asyncio.sleep(0.01)


def test_the_row_names_what_blocked_the_ui(loop, window):
    panel = window.panels["fetch"]
    panel.select_preset("demo")
    panel.count.setValue(2)
    panel.delay.setValue(0.4)
    window.toggle.set_mode("blocking")
    blocking = run(loop, click_and_wait(panel))
    assert blocking.blocked_in and "fetch_blocking" in blocking.blocked_in
    assert "fetch_blocking" in window.banner.text()
    window.toggle.set_mode("async")
    assert run(loop, click_and_wait(panel)).blocked_in is None


def test_code_view_follows_the_panel_and_the_mode(loop, window):
    code = window.insights.code
    window.toggle.set_mode("blocking")
    assert code.blocking.function is fetch.fetch_blocking
    window.toggle.set_mode("async")
    assert code.async_.function is fetch.fetch_async
    window.tabs.setCurrentWidget(window.panels["cpu"])
    window.panels["cpu"].select_mode("thread")
    assert code.async_.function is cpu.run_in_thread
    assert "thread" in window.explain.text().lower()


def test_lag_graph_and_resource_meter_are_fed(loop, window, ctx):
    import asyncio

    async def wait_ticks():
        for _ in range(10):
            await asyncio.sleep(0.02)

    run(loop, wait_ticks())
    assert window.insights.lag_graph.samples()
    run(loop, ctx.pool.wait_ready())
    snap = window.insights.resources.refresh()
    assert {p.pid for p in snap.workers()} == set(ctx.pool.worker_pids())
