import pytest

from services.runs import CANCELLED, ItemResult, RunResult, cancelled_run, failed_run
from services.stalls import FRAME_S, StallStats, percentile


def test_no_tick_inside_the_window_is_one_long_stall():
    s = StallStats.from_ticks([0.0, 5.0], start=1.0, end=3.0, interval=0.01)
    assert s.ticks == 0
    assert s.max_stall_ms == pytest.approx((2.0 - 0.01) * 1000)
    assert s.missed_frames == int((2.0 - 0.01) // FRAME_S)


def test_regular_ticks_have_no_stall():
    ticks = [i * 0.01 for i in range(101)]
    s = StallStats.from_ticks(ticks, 0.0, 1.0, 0.01)
    assert s.max_stall_ms == pytest.approx(0.0, abs=1e-6)
    assert s.missed_frames == 0
    assert s.ticks == 99


def test_one_gap_is_found_and_counted_in_frames():
    ticks = [0.01 * i for i in range(50)] + [0.49 + 0.2 + 0.01 * i for i in range(50)]
    s = StallStats.from_ticks(ticks, 0.0, ticks[-1] + 0.001, 0.01)
    assert s.max_stall_ms == pytest.approx(200 - 10, abs=0.01)
    assert s.missed_frames == int(0.19 // FRAME_S)


def test_percentile_nearest_rank():
    assert percentile([], 99) == 0.0
    assert percentile([3, 1, 2], 50) == 2
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([5], 99) == 5


def _item(i, ok=True, err=None):
    return ItemResult(f"i{i}", ok, 1.0, float(i), float(i) + 1, err, {"n": i})


def test_run_result_derived_figures_and_dict():
    r = RunResult("fetch", "async", [_item(0), _item(1), _item(2, False, "HTTP 404 Not Found")], wall_s=1.5)
    assert (r.ok_count, r.failed_count, r.items_sum_s) == (2, 1, 3.0)
    assert r.concurrency == pytest.approx(2.0)
    assert r.status == "partial"
    d = r.to_dict()
    assert d["items"] == 3 and d["results"][2]["error"] == "HTTP 404 Not Found"
    with pytest.raises(TypeError):
        r.items[0].detail["n"] = 5  # frozen all the way down


def test_failed_and_cancelled_runs():
    f = failed_run("fetch", "async", "the URL list is empty")
    assert f.status == "failed" and f.items == ()
    c = cancelled_run("fetch", "async", ["a", "b", "c"], {1: _item(1)}, wall_s=2.0)
    assert c.status == CANCELLED
    assert [i.outcome for i in c.items] == [CANCELLED, "ok", CANCELLED]


def test_stall_spans_are_relative_to_the_window_start():
    from services.stalls import stall_spans

    ticks = [10.00, 10.01, 10.02, 10.52, 10.53]  # one 0.5 s gap
    spans = stall_spans(ticks, start=10.0, end=10.54, interval=0.01)
    assert len(spans) == 1
    assert spans[0] == pytest.approx((0.02, 0.52))
    assert stall_spans([], 5.0, 6.0, 0.01) == ((0.0, 1.0),)  # nothing fired: the whole window
