import pytest

from services.targets import TargetResult, format_targets, median, ratio


def test_met_and_ratio_to_limit():
    t = TargetResult("async wall", 0.5, 0.55, "s")
    assert t.met is True and t.ratio_to_limit == pytest.approx(0.5 / 0.55)
    miss = TargetResult("p99 stall", 20.0, 17.0, "ms")
    assert miss.met is False and miss.ratio_to_limit > 1
    unknown = TargetResult("idle", None, 3.0, "%", note="no process")
    assert unknown.met is None and unknown.ratio_to_limit is None


def test_ratio_guards_missing_and_zero():
    assert ratio(1.2, 0.8) == pytest.approx(1.5)
    assert ratio(None, 1.0) is None and ratio(1.0, 0.0) is None and ratio(1.0, None) is None


def test_median_ignores_missing_values():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, None, 3.0]) == 2.0
    assert median([]) is None


def test_table_and_dict():
    targets = [TargetResult("a", 1.0, 2.0, "s"), TargetResult("b", 3.0, 2.0, "ms", note="slow disk")]
    text = format_targets(targets)
    assert "yes" in text and "NO" in text and "slow disk" in text
    d = targets[1].to_dict()
    assert d == {
        "name": "b",
        "measured": 3.0,
        "limit": 2.0,
        "unit": "ms",
        "ratio_to_limit": 1.5,
        "met": False,
        "note": "slow disk",
    }
