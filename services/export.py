"""Exporting runs: CSV (one row per run, or one per item) and JSON in the benchmark's shape (DESIGN.md).

Plain functions over a list of runs - all of them, or the rows a user selected. Both write atomically (a
temporary file next to the target, then ``os.replace``) and raise OSError if they can't; the old file is then
untouched.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from services.jsontags import MAX_DEPTH as _MAX_DEPTH
from services.runs import RunResult

# --- export -------------------------------------------------------------------------------------------------

# CSV, one row per run (the default): what a teacher pastes into a spreadsheet. `run` numbers the runs in
# this file (1 = oldest), `started` is local time; stalls and params are JSON text.
RUN_CSV_COLUMNS = (
    "run", "started", "workload", "mode", "scenario", "status", "items", "ok", "failed", "cancelled", "error",
    "wall_s", "items_sum_s", "concurrency", "max_stall_ms", "p99_stall_ms", "missed_frames", "blocked_in",
    "stalls", "params", "started_at",
)  # fmt: skip
# CSV with items=True: one row per item, led by its run's columns (`run` matches the runs layout, so the two
# files join). A run without items (a run that failed before starting) still gets one row, item columns empty.
ITEM_CSV_COLUMNS = (
    "run", "run_started", "workload", "mode", "scenario", "run_status", "run_error",
    "item", "label", "outcome", "ok", "seconds", "started", "ended", "error", "detail",
)  # fmt: skip
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_csv(runs: Iterable[RunResult], path: str | os.PathLike[str], *, items: bool = False) -> Path:
    """Write ``runs`` (oldest first) as CSV - one row per run, or with ``items=True`` one row per item.

    UTF-8 with a byte-order mark (so spreadsheet programs detect UTF-8), comma separated, header row first,
    booleans as true/false, empty cells for None. Text that would start a spreadsheet formula (=, +, -, @) is
    prefixed with ' so opening the file can't run it. Written atomically; raises OSError if it can't be.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ITEM_CSV_COLUMNS if items else RUN_CSV_COLUMNS)
    for number, run in enumerate(runs, start=1):
        if items:
            writer.writerows(_item_csv_rows(number, run))
        else:
            writer.writerow(_run_csv_row(number, run))
    return _write_atomically(Path(path), buffer.getvalue(), encoding="utf-8-sig")


def export_json(runs: Iterable[RunResult], path: str | os.PathLike[str]) -> Path:
    """Write ``{"runs": [RunResult.to_dict() + "status", ...]}`` - the benchmark's JSON shape (DESIGN.md).

    Strict JSON: NaN/inf become null, bytes and other non-JSON values their str(). Written atomically.
    """
    data = {"runs": [{**run.to_dict(), "status": run.status} for run in runs]}
    text = json.dumps(_plain(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return _write_atomically(Path(path), text, encoding="utf-8")


# fmt: off
def _run_csv_row(number: int, run: RunResult) -> list[Any]:
    return _cells(
        number, _local_time(run.started_at), run.workload, run.mode, run.scenario, run.status, len(run.items),
        run.ok_count, run.failed_count, run.cancelled, run.error, run.wall_s, run.items_sum_s,
        run.concurrency, run.max_stall_ms, run.p99_stall_ms, run.missed_frames, run.blocked_in,
        _plain_json([list(span) for span in run.stalls]), _plain_json(run.params), run.started_at,
    )


def _item_csv_rows(number: int, run: RunResult) -> list[list[Any]]:
    lead = (number, _local_time(run.started_at), run.workload, run.mode, run.scenario, run.status, run.error)
    if not run.items:  # a run that failed before any item: still one row, so its error is in the file
        return [_cells(*lead, *[None] * 9)]
    return [
        _cells(*lead, index, item.label, item.outcome, item.ok, item.seconds, item.started, item.ended,
               item.error, _plain_json(item.detail))
        for index, item in enumerate(run.items, start=1)
    ]
# fmt: on


def _cells(*values: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            out.append("")
        elif isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, str):
            out.append("'" + v if v.startswith(_FORMULA_STARTS) else v)
        else:
            out.append(v)
    return out


def _local_time(epoch: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def _plain(value: Any, depth: int = 0) -> Any:
    """Plain JSON for readers other than us: tuples are lists, NaN is null, anything odd is its str()."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth > _MAX_DEPTH:
        return str(value)
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


def _plain_json(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, allow_nan=False)


def _write_atomically(path: Path, text: str, *, encoding: str) -> Path:
    """Write to a temporary file in the same folder, then rename it over ``path``: readers see the old file
    or the new one, never half of one. On failure the temporary file is removed and ``path`` is untouched."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the final permissions, as for any file the user saves.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "w", encoding=encoding, newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
