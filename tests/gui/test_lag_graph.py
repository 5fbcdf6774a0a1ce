"""The live lag graph: fed by the real heartbeat, keeps ~10 s, shows a freeze's spike, idles when hidden."""

import asyncio

import numpy as np
import pytest

from gui.asyncutil import next_emit
from gui.lag_graph import QUIET_REDRAW_MS, REDRAW_MS, Y_CAP_MS, Y_MIN_TOP_MS, LagGraph, lag_curve
from tests.helpers import run


@pytest.fixture
def graph(ctx, qtbot):
    g = LagGraph(ctx.heartbeat)
    qtbot.addWidget(g)
    g.resize(700, 260)
    return g


def feed(g, seconds, start=1000.0, step=0.016, lag=0.001):
    t = start
    while t < start + seconds:
        t += step
        g.add_sample(lag, t)
    return t


def test_samples_arrive_from_the_real_heartbeat(loop, ctx, graph):
    emitted = []
    ctx.heartbeat.ticked.connect(emitted.append)

    async def five_ticks():
        for _ in range(5):
            await next_emit(ctx.heartbeat.ticked, 10)

    run(loop, five_ticks())
    got = graph.samples()
    assert len(got) >= 5
    assert [lag for _, lag in got[-len(emitted) :]] == pytest.approx([lag * 1000 for lag in emitted])
    times = [t for t, _ in got]
    assert times == sorted(times)


def test_keeps_only_the_last_ten_seconds(graph):
    end = feed(graph, 30.0)
    times = [t for t, _ in graph.samples()]
    assert times[-1] == pytest.approx(end)
    assert times[0] >= end - graph.window_s
    assert times[0] < end - graph.window_s + 0.05  # ...and all of them: the buffer did not drop recent ones
    assert len(times) == pytest.approx(graph.window_s / 0.016, abs=2)


def test_a_freeze_shows_as_a_clipped_spike_with_its_size(graph):
    graph.show()
    t = feed(graph, 3.0)
    graph.add_sample(3.2, t + 3.2)  # the first tick after a 3.2 s freeze carries it all
    feed(graph, 1.0, start=t + 3.2)
    graph._redraw()
    assert graph.peak_ms() == pytest.approx(3200)
    _, top = graph.plot.getViewBox().viewRange()[1]
    assert Y_CAP_MS <= top < Y_CAP_MS * 1.1  # capped, so 16.7 / 50 / 100 ms stay readable
    xs, ys = graph.clipped.getData()
    assert len(xs) == 1 and ys[0] == pytest.approx(Y_CAP_MS)  # one marker, on the spike, at the cap
    assert graph.peak_text.isVisible() and "3.2 s" in graph.peak_text.toPlainText()
    assert "3.2 s" in graph.readout.text()
    graph.grab().save("/tmp/lag_graph.png")


def test_small_lags_keep_the_minimum_scale_and_no_marker(graph):
    graph.show()
    feed(graph, 5.0, lag=0.004)
    graph._redraw()
    _, top = graph.plot.getViewBox().viewRange()[1]
    assert Y_MIN_TOP_MS <= top < Y_CAP_MS  # the 100 ms line is in view even when all is smooth
    assert len(graph.clipped.getData()[0]) == 0
    assert not graph.peak_text.isVisible()


def test_lag_curve_draws_a_freeze_as_the_ramp_it_was():
    x = np.array([-5.0, -4.984, -1.0, -0.984])
    lag = np.array([1.0, 0.0, 3984.0, 0.0])  # the third tick came 3.984 s late
    xs, ys = lag_curve(x, lag, top=250.0)
    assert list(xs) == pytest.approx([-5.0, -4.984, -4.984, -4.734, -1.0, -0.984])
    assert list(ys) == pytest.approx([1.0, 0.0, 0.0, 250.0, 250.0, 0.0])  # foot, knee at the cap, drop


def test_labelled_reference_lines(graph):
    lines = [(round(line.value(), 1), line.label.toPlainText()) for line in graph.lines]
    assert lines == [(16.7, "1 frame 16.7 ms"), (50.0, "long task 50 ms"), (100.0, "feels slow 100 ms")]


def test_redraws_at_most_once_per_timer_tick_and_not_while_hidden(loop, ctx, graph):
    graph.show()
    assert graph.is_redrawing()
    for _ in range(60):  # a burst of ticks between two timer ticks...
        graph.add_sample(0.001)
    before = graph.redraws
    graph._redraw_if_dirty()
    graph._redraw_if_dirty()  # ...costs one redraw; nothing new since: no second one
    assert graph.redraws == before + 1
    graph.add_sample(0.2)  # a long task: the timer is at its fast rate when we hide
    assert graph.redraw_interval_ms() == REDRAW_MS
    graph.hide()
    assert not graph.is_redrawing()

    async def ticks_while_hidden():
        for _ in range(12):  # ~0.2 s: the redraw timer would have fired at least twice
            await next_emit(ctx.heartbeat.ticked, 10)
        await asyncio.sleep(0)

    newest = graph.samples()[-1][0]
    hidden_redraws = graph.redraws
    run(loop, ticks_while_hidden())
    assert graph.samples()[-1][0] > newest  # still recording...
    assert graph.redraws == hidden_redraws  # ...but not drawing


def test_redraws_fast_only_while_a_long_lag_is_in_view(graph):
    graph.show()
    t = feed(graph, 2.0, lag=0.003)  # smooth: a flat line needs no 12 Hz repaint
    graph._redraw_if_dirty()
    assert graph.redraw_interval_ms() == QUIET_REDRAW_MS
    graph.add_sample(0.4, t + 0.4)  # a freeze: switch to the fast rate at once
    assert graph.redraw_interval_ms() == REDRAW_MS
    t = feed(graph, graph.window_s - 1, start=t + 0.4, lag=0.003)
    graph._redraw_if_dirty()
    assert graph.redraw_interval_ms() == REDRAW_MS  # still in view
    feed(graph, 1.5, start=t, lag=0.003)
    graph._redraw_if_dirty()
    assert graph.redraw_interval_ms() == QUIET_REDRAW_MS  # scrolled out of view
