"""The run timeline: bar geometry from ItemResults (staircase vs overlap), stacking, stalls, styles."""

import itertools

import pytest
from PySide6.QtCore import Qt

from gui.timeline import (
    EMPTY_TEXT,
    OUTCOME_STYLES,
    TimelineWidget,
    short_label,
    style_for,
    timeline_layout,
)
from services.runs import CANCELLED, ItemResult, RunResult


def blocking_run(n=4, d=0.5):
    """One item after another, like the blocking fetch: the UI frozen for the whole run."""
    items = [
        ItemResult(f"http://127.0.0.1:8080/delay/{d}?n={i}", True, d, i * d, (i + 1) * d) for i in range(n)
    ]
    return RunResult("fetch", "blocking", items, n * d, max_stall_ms=n * d * 1000, stalls=((0.0, n * d),))


def async_run(n=4, d=0.5):
    """All items in flight together, one failed and one cancelled; two short stalls."""
    items = [
        ItemResult(f"http://127.0.0.1:8080/delay/{d}?n={i}", True, d, 0.01 * i, d + 0.01 * i)
        for i in range(n)
    ]
    items[1] = ItemResult("http://127.0.0.1:8080/status/404", False, d, 0.01, d + 0.01, "HTTP 404")
    items[2] = ItemResult("http://127.0.0.1:8080/delay/9", False, d, 0.02, d + 0.02, CANCELLED)
    return RunResult("fetch", "async", items, d + 0.05, max_stall_ms=60, stalls=((0.1, 0.16), (0.3, 0.36)))


def test_blocking_run_is_a_staircase():
    run = blocking_run()
    layout = timeline_layout([run])
    bars = layout.bars
    assert len(bars) == len(run.items)
    for bar, item in zip(bars, run.items, strict=True):  # bars are the items' own times, exactly
        assert (bar.x0, bar.x1) == (item.started, item.ended)
        assert bar.seconds == pytest.approx(item.seconds)
    for a, b in itertools.pairwise(bars):
        assert b.x0 >= a.x1  # each starts when (or after) the previous ended
        assert b.row == a.row + 1  # one row per item, top to bottom


def test_async_run_bars_overlap():
    bars = timeline_layout([async_run()]).bars
    latest_start = max(b.x0 for b in bars)
    earliest_end = min(b.x1 for b in bars)
    assert latest_start < earliest_end  # every item was in flight at one moment


def test_two_runs_stack_on_one_shared_scale_with_distinct_rows():
    blocking, async_ = blocking_run(), async_run()
    layout = timeline_layout([blocking, async_], numbers=[3, 4])
    rows = [b.row for b in layout.bars]
    assert len(set(rows)) == len(rows) == len(blocking.items) + len(async_.items)
    first = [b for b in layout.bars if b.run_index == 0]
    second = [b for b in layout.bars if b.run_index == 1]
    assert max(b.row for b in first) < min(b.row for b in second)  # run 1's group above run 2's
    # one x scale for both: the longest run decides it, and neither run's times are rescaled
    assert layout.x_max == pytest.approx(blocking.wall_s)
    assert [b.x1 for b in second] == [i.ended for i in async_.items]
    headers = [h.text for h in layout.headers]
    assert headers[0].startswith("#3 blocking fetch — 2.0 s")
    assert headers[1].startswith("#4 async fetch — 0.6 s")
    assert layout.headers[1].row < min(b.row for b in second)  # header above its group
    assert layout.rows == 2 + len(rows)


def test_stall_bands_come_from_the_runs_stalls_and_cover_only_that_run():
    blocking, async_ = blocking_run(), async_run()
    layout = timeline_layout([blocking, async_])
    spans = [(b.run_index, b.x0, b.x1) for b in layout.bands]
    assert spans == [(0, 0.0, 2.0), (1, 0.1, 0.16), (1, 0.3, 0.36)]
    for band in layout.bands:
        rows = [b.row for b in layout.bars if b.run_index == band.run_index]
        assert band.y0 == min(rows) - 0.5 and band.y1 == max(rows) + 0.5


def test_a_run_that_could_not_start_gets_a_header_and_no_bars():
    failed = RunResult("fetch", "async", (), 0.0, error="no URLs given")
    layout = timeline_layout([failed, blocking_run()])
    assert "could not start: no URLs given" in layout.headers[0].text
    assert all(b.run_index == 1 for b in layout.bars)


def test_outcomes_differ_by_more_than_colour():
    outcomes = ("ok", "error", "cancelled")
    assert set(OUTCOME_STYLES) == set(outcomes)
    cues = {(style_for(o).hatch, style_for(o).outline) for o in outcomes}
    assert len(cues) == 3  # hatch + outline style alone tell the three apart, in greyscale too
    assert style_for("error").hatch != Qt.BrushStyle.NoBrush
    assert style_for("cancelled").outline == Qt.PenStyle.DashLine
    layout = timeline_layout([async_run()])
    assert [b.outcome for b in layout.bars] == ["ok", "error", "cancelled", "ok"]


def test_short_labels_drop_the_loopback_host_and_keep_full_text_for_hover():
    assert short_label("http://127.0.0.1:8080/delay/1?n=3") == "/delay/1?n=3"
    assert short_label("https://example.com/a") == "example.com/a"
    assert short_label("job 1") == "job 1"
    long = short_label("http://127.0.0.1:1/" + "x" * 80)
    assert len(long) == 26 and "…" in long
    bar = timeline_layout([blocking_run()]).bars[0]
    assert bar.full_label.startswith("http://127.0.0.1:8080/")


def test_widget_shows_a_hint_when_empty_and_the_runs_when_given(qtbot):
    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(900, 500)
    w.show()
    assert w.is_empty() and w.stack.currentWidget() is w.empty and w.empty.text() == EMPTY_TEXT
    w.show_runs([blocking_run(), async_run()], numbers=[1, 2])
    assert not w.is_empty() and w.stack.currentWidget() is not w.empty
    (xmin, xmax), (ymin, ymax) = w.plot.getViewBox().viewRange()
    assert xmin <= 0 and xmax >= 2.0  # every bar in view
    assert ymin < 0 and ymax > w.layout_data.rows - 1
    ticks = dict(w.row_ticks)
    assert ticks[1.5] == "/delay/0.5?n=0"  # item rows are labelled on the y axis
    assert w.bar_at(0.25, 1.5).label == "/delay/0.5?n=0"
    assert w.bar_at(1.9, 1.5) is None  # row 1's bar ended at 0.5 s
    w.grab().save("/tmp/timeline.png")
    w.clear()
    assert w.stack.currentWidget() is w.empty


def test_many_rows_label_every_nth_row_so_labels_never_overlap(qtbot):
    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(600, 300)
    w.show()
    w.show_runs([blocking_run(n=60, d=0.1)])
    rows = [row for row, _ in w.row_ticks]
    assert 1 < len(rows) < 60
    row_px = w.plot.getViewBox().height() / w.layout_data.rows
    gap = min(b - a for a, b in itertools.pairwise(rows))
    assert gap * row_px >= w.fontMetrics().height()  # one line of text fits between labelled rows
    header_px = (w.layout_data.bars[0].row - 0.5 - w.layout_data.headers[0].top) * row_px
    assert header_px >= w.fontMetrics().height()  # the run's title has a line of its own above the bars


def test_taller_headers_push_the_items_down():
    layout = timeline_layout([blocking_run(n=2), async_run(n=4)], header_rows=3)
    assert [h.top for h in layout.headers] == [0, 5]
    assert [b.row for b in layout.bars] == [3.5, 4.5, 8.5, 9.5, 10.5, 11.5]
    assert layout.rows == 12


def test_hovering_a_bar_or_a_row_label_shows_the_full_label(qtbot):
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QToolTip

    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(900, 500)
    w.show()
    w.show_runs([async_run()])
    vb = w.plot.getViewBox()
    w._on_mouse_moved(vb.mapViewToScene(QPointF(0.2, 2.5)))  # the error bar
    assert "http://127.0.0.1:8080/status/404" in QToolTip.text() and "HTTP 404" in QToolTip.text()
    axis = w.plot.getAxis("left").sceneBoundingRect()
    row_y = vb.mapViewToScene(QPointF(0, 1.5)).y()
    w._on_mouse_moved(QPointF(axis.center().x(), row_y))
    assert QToolTip.text() == "http://127.0.0.1:8080/delay/0.5?n=0"
    w._on_mouse_moved(vb.mapViewToScene(QPointF(0.13, 4.95)))  # inside a stall band, below the last bar
    assert "UI frozen" in QToolTip.text()


def test_real_blocking_and_async_fetches_show_staircase_and_overlap(loop, window, qtbot):
    """The picture the class sees: the two fetch runs of the app, stacked."""
    from tests.helpers import click_and_wait, run

    panel = window.panels["fetch"]
    panel.select_preset("demo")
    panel.count.setValue(3)
    panel.delay.setValue(0.2)
    runs = []
    for mode in ("blocking", "async"):
        window.toggle.set_mode(mode)
        runs.append(run(loop, click_and_wait(panel)))
    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(900, 420)
    w.show()
    w.show_runs(runs, numbers=[1, 2])
    blocking = [b for b in w.layout_data.bars if b.run_index == 0]
    async_ = [b for b in w.layout_data.bars if b.run_index == 1]
    assert all(b.x0 >= a.x1 for a, b in itertools.pairwise(blocking))  # staircase
    assert max(b.x0 for b in async_) < min(b.x1 for b in async_)  # overlap
    frozen = [band for band in w.layout_data.bands if band.run_index == 0]
    assert sum(b.x1 - b.x0 for b in frozen) >= 0.9 * (blocking[-1].x1 - blocking[0].x0)  # frozen throughout
    assert w.layout_data.x_max >= runs[0].wall_s > runs[1].wall_s
    assert not w.plot.getAxis("bottom").autoSIPrefix  # ticks read in seconds even for a short run
    w.grab().save("/tmp/timeline_real.png")
