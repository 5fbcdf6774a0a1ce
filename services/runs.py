"""The results every workload speaks: one ItemResult per unit of work, one RunResult per run.

Blocking and async versions of a workload return the same types, so the table, the timeline and the
benchmark never care which mechanism produced them. Times are seconds; ``started``/``ended`` are seconds
from the run's own start (``time.perf_counter`` based).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

CANCELLED = "cancelled"

# on_item(index, item): called as each item finishes (or is cancelled). In a blocking run the UI cannot
# repaint between calls - which is exactly the lesson.
OnItem = Callable[[int, "ItemResult"], None]


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class ItemResult:
    label: str
    ok: bool
    seconds: float
    started: float
    ended: float
    error: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", _frozen(self.detail))

    @property
    def outcome(self) -> str:
        """'ok', 'cancelled' or 'error' - also what the timeline colours by."""
        if self.ok:
            return "ok"
        return CANCELLED if self.error == CANCELLED else "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "ok": self.ok,
            "seconds": self.seconds,
            "started": self.started,
            "ended": self.ended,
            "error": self.error,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class RunResult:
    workload: str  # "fetch" | "sqlite" | "cpu"
    mode: str  # "blocking" | "async" | "asyncio-plain" | "loop" | "thread" | "process"
    items: tuple[ItemResult, ...]
    wall_s: float
    cancelled: bool = False
    error: str | None = None  # a run-level failure (e.g. bad input) - the run still gets a row
    scenario: str = ""
    started_at: float = field(default_factory=time.time)  # wall-clock epoch, for history and display
    # Filled in by whoever measured responsiveness during the run (the GUI meter or the benchmark).
    max_stall_ms: float | None = None
    p99_stall_ms: float | None = None
    missed_frames: int | None = None
    blocked_in: str | None = None  # where the UI thread was stuck, if the watchdog saw it
    # UI stalls (>= 50 ms) in the run: (from, to) seconds on the run's own clock; the timeline shades them.
    stalls: tuple[tuple[float, float], ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "stalls", tuple(tuple(span) for span in self.stalls))

    @property
    def ok_count(self) -> int:
        return sum(1 for i in self.items if i.ok)

    @property
    def failed_count(self) -> int:
        return len(self.items) - self.ok_count

    @property
    def items_sum_s(self) -> float:
        return sum(i.seconds for i in self.items)

    @property
    def concurrency(self) -> float:
        """Sum of item times over wall time: ~1 for one-after-another, ~N for N overlapping items."""
        return self.items_sum_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def status(self) -> str:
        if self.cancelled:
            return CANCELLED
        if self.error is not None:
            return "failed"
        return "ok" if self.failed_count == 0 else "partial"

    def with_stalls(self, **kwargs: Any) -> RunResult:
        return replace(self, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "mode": self.mode,
            "scenario": self.scenario,
            "items": len(self.items),
            "ok": self.ok_count,
            "failed": self.failed_count,
            "cancelled": self.cancelled,
            "error": self.error,
            "wall_s": self.wall_s,
            "items_sum_s": self.items_sum_s,
            "max_stall_ms": self.max_stall_ms,
            "p99_stall_ms": self.p99_stall_ms,
            "missed_frames": self.missed_frames,
            "blocked_in": self.blocked_in,
            "stalls": [list(span) for span in self.stalls],
            "started_at": self.started_at,
            "params": dict(self.params),
            "results": [i.to_dict() for i in self.items],
        }


class ItemClock:
    """Times items relative to one run start, so every item of a run shares a time axis."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def item(
        self, label: str, started: float, *, ok: bool, error: str | None = None, **detail: Any
    ) -> ItemResult:
        ended = self.now()
        return ItemResult(label, ok, ended - started, started, ended, error, detail)


def failed_run(workload: str, mode: str, error: str, **params: Any) -> RunResult:
    """A run that could not start (bad input): it still gets a row with a specific message."""
    return RunResult(workload, mode, (), 0.0, error=error, params=params)


def cancelled_run(
    workload: str,
    mode: str,
    labels: Sequence[str],
    finished: Mapping[int, ItemResult],
    wall_s: float,
    **params: Any,
) -> RunResult:
    """Build the row of a run that was cancelled part-way: items that never finished read 'cancelled'."""
    items = [
        finished.get(i) or ItemResult(label, False, 0.0, wall_s, wall_s, CANCELLED)
        for i, label in enumerate(labels)
    ]
    return RunResult(workload, mode, tuple(items), wall_s, cancelled=True, params=params)
