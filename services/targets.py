"""Benchmark targets: a figure, its limit and whether it was met. Pure arithmetic, tested on its own.

A target compares one measured figure with a limit, e.g. "async wall ≤ 0.55 s" or "async wall ≤ 1.5 ×
asyncio-plain wall". Ratios are always computed from figures measured within the same run of the command.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TargetResult:
    name: str  # e.g. "fetch-burst: async wall / asyncio-plain wall"
    measured: float | None  # None: could not be measured (the reason is in note)
    limit: float
    unit: str  # "s", "ms", "%", "MB", "×"
    note: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.measured is None else self.measured <= self.limit

    @property
    def ratio_to_limit(self) -> float | None:
        """measured ÷ limit: ≤ 1 means the target is met; 0.5 means with half the budget to spare."""
        if self.measured is None or self.limit == 0:
            return None
        return self.measured / self.limit

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "measured": self.measured,
            "limit": self.limit,
            "unit": self.unit,
            "ratio_to_limit": self.ratio_to_limit,
            "met": self.met,
            "note": self.note,
        }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator ÷ denominator, or None when either is missing or the denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def median(values: Sequence[float]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def format_targets(targets: Sequence[TargetResult]) -> str:
    rows = [("target", "measured", "limit", "ratio", "met")]
    for t in targets:
        measured = "—" if t.measured is None else f"{t.measured:.3g} {t.unit}"
        r = t.ratio_to_limit
        met = {True: "yes", False: "NO", None: "n/a"}[t.met]
        rows.append((t.name, measured, f"{t.limit:g} {t.unit}", "—" if r is None else f"{r:.2f}", met))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {t.name}: {t.note}" for t in targets if t.note]
    return "\n".join(lines + (["notes:", *notes] if notes else []))
