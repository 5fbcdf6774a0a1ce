"""The fetch panel driven like a user: click Run inside the qasync loop, then await the run's row."""

import asyncio

from gui.asyncutil import next_emit
from tests.helpers import click_and_wait, overlapping, run


def setup_demo(window, mode, count=4, delay=0.4):
    panel = window.panels["fetch"]
    window.toggle.set_mode(mode)
    panel.select_preset("demo")
    panel.count.setValue(count)
    panel.delay.setValue(delay)
    return panel


def test_blocking_fetch_freezes_the_ui(loop, window):
    panel = setup_demo(window, "blocking")
    result = run(loop, click_and_wait(panel))
    assert result.mode == "blocking" and result.ok_count == 4
    assert panel.last_stats.ticks == 0  # the heartbeat never fired while the handler ran
    assert not overlapping(result.items)  # one after another
    assert result.max_stall_ms > 0.9 * result.wall_s * 1000
    assert window.runs_model.rowCount() == 1
    assert "frozen" in window.banner.text()


def test_async_fetch_keeps_the_ui_alive_and_overlaps(loop, window):
    panel = setup_demo(window, "async")
    result = run(loop, click_and_wait(panel))
    assert result.mode == "async" and result.ok_count == 4
    assert panel.last_stats.ticks > 0
    assert overlapping(result.items)
    assert "responsive" in window.banner.text()


def test_errors_preset_gives_specific_errors_and_good_urls_succeed(loop, window):
    panel = window.panels["fetch"]
    panel.select_preset("errors")
    panel.timeout.setValue(1.0)
    for mode in ("blocking", "async"):
        window.toggle.set_mode(mode)
        result = run(loop, click_and_wait(panel))
        errors = " | ".join(i.error for i in result.items if not i.ok)
        for expected in (
            "HTTP 404",
            "HTTP 503",
            "connection refused",
            "timed out after 1.0 s",
            "unsupported scheme 'ftp'",
            "body larger than",
        ):
            assert expected in errors, (mode, expected, errors)
        assert any(i.ok for i in result.items), mode
        assert result.status == "partial"


def test_cancel_ends_an_async_run_and_the_row_says_cancelled(loop, window):
    panel = setup_demo(window, "async", count=5, delay=20)

    async def scenario():
        pending = asyncio.ensure_future(next_emit(panel.run_finished, 30))
        await asyncio.sleep(0)
        panel.run_button.click()
        await next_emit(window.ctx.heartbeat.ticked)  # the UI is alive during the run...
        await next_emit(window.ctx.heartbeat.ticked)
        assert panel.cancel_button.isEnabled()
        panel.cancel_button.click()  # ...so the click is seen
        (result,) = await pending
        return result

    result = run(loop, scenario())
    assert result.cancelled and result.status == "cancelled"
    assert all(i.outcome == "cancelled" for i in result.items)
    assert window.runs_model.data(window.runs_model.index(0, 6)) == "cancelled"
    assert panel.run_button.isEnabled()


def test_empty_url_list_gives_a_failed_row_not_a_crash(loop, window):
    panel = window.panels["fetch"]
    panel.urls.setPlainText("   \n\n")
    result = run(loop, click_and_wait(panel))
    assert result.status == "failed" and "empty" in result.error
    assert window.runs_model.rowCount() == 1


def test_quit_with_a_fetch_in_flight_cancels_it_and_stops_everything(loop, window, ctx):
    panel = setup_demo(window, "async", count=3, delay=20)
    rows = []
    panel.run_finished.connect(rows.append)

    async def scenario():
        panel.run_button.click()
        await next_emit(ctx.heartbeat.ticked)
        await next_emit(ctx.heartbeat.ticked)
        assert len(ctx.tasks) >= 1
        await ctx.aclose()  # exactly what quitting does

    run(loop, scenario())
    assert len(ctx.tasks) == 0
    assert rows and rows[0].cancelled
    # the ctx fixture's teardown asserts the server thread and every other new thread are gone


def test_a_blocking_run_records_its_stall_span_for_the_timeline(loop, window):
    panel = setup_demo(window, "blocking", count=2, delay=0.3)
    result = run(loop, click_and_wait(panel))
    assert len(result.stalls) == 1
    start, end = result.stalls[0]
    assert start < 0.05 and end >= result.items[-1].ended  # the whole run was one frozen band


def test_the_heartbeat_runs_at_full_rate_only_while_a_run_is_in_flight(loop, window, ctx):
    assert ctx.heartbeat.interval > 0.03  # at rest: 30 Hz
    panel = setup_demo(window, "async", count=2, delay=0.3)
    seen = []
    panel.run_started.connect(lambda _mode: seen.append(ctx.heartbeat.interval))
    run(loop, click_and_wait(panel))
    assert seen == [0.016]  # every 60 Hz frame measured during the run
    assert ctx.heartbeat.interval > 0.03
