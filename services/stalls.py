"""Responsiveness figures from a series of heartbeat tick times.

A heartbeat fires every ``interval`` seconds on the thread we care about (the GUI thread, or a plain asyncio
loop). While that thread is blocked no tick fires, so the gaps between ticks are the stalls. This module only
does arithmetic on tick times (perf_counter seconds); the Qt meter and the asyncio ticker feed it.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

FRAME_S = 1 / 60  # one 60 Hz frame, 16.7 ms


@dataclass(frozen=True)
class StallStats:
    max_stall_ms: float  # the longest time the thread went without a tick, minus the expected interval
    p99_stall_ms: float  # 99th percentile of the per-tick lag
    missed_frames: int  # 60 Hz frames lost to lag
    ticks: int  # ticks that fired inside the window

    @classmethod
    def from_ticks(cls, ticks: Sequence[float], start: float, end: float, interval: float) -> StallStats:
        """Stats for the window [start, end], given every tick time (sorted) around it.

        The window's edges count as ticks: if nothing fired between start and end, the whole window is one
        stall - that is what a blocking handler looks like.
        """
        inside = [t for t in ticks if start < t < end]
        points = [start, *inside, end]
        gaps = [b - a for a, b in itertools.pairwise(points)]
        lags = [max(0.0, g - interval) for g in gaps]
        if not lags:
            return cls(0.0, 0.0, 0, len(inside))
        return cls(
            max_stall_ms=max(lags) * 1000,
            p99_stall_ms=percentile(lags, 99) * 1000,
            missed_frames=sum(int(lag // FRAME_S) for lag in lags),
            ticks=len(inside),
        )


def stall_spans(
    ticks: Sequence[float], start: float, end: float, interval: float, min_s: float = 0.05
) -> tuple[tuple[float, float], ...]:
    """The gaps longer than ``min_s`` (beyond the expected interval) inside [start, end], as (from, to)
    seconds relative to ``start`` - the shaded "UI frozen" bands of a run's timeline."""
    inside = [t for t in ticks if start < t < end]
    points = [start, *inside, end]
    return tuple((a - start, b - start) for a, b in pairwise(points) if b - a - interval >= min_s)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation): the value at or below which pct % of values fall."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


class AsyncTicker:
    """A heartbeat on a plain asyncio loop: the no-Qt twin of the GUI meter (benchmark baseline, tests)."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.ticks: list[float] = []
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._schedule()

    def _schedule(self) -> None:
        self._handle = self._loop.call_later(self.interval, self._tick)

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())
        self._schedule()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def stats(self, start: float, end: float) -> StallStats:
        return StallStats.from_ticks(self.ticks, start, end, self.interval)

    def count_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.ticks if start < t < end)
