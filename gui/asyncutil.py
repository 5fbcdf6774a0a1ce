"""Awaiting Qt signals from coroutines (used by the self-test, the benchmark and the tests)."""

from __future__ import annotations

import asyncio
from typing import Any


async def next_emit(signal: Any, timeout: float = 30.0) -> tuple[Any, ...]:
    """Wait for the next emission of a Qt signal and return its arguments."""
    fut: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def slot(*args: Any) -> None:
        if not fut.done():
            fut.set_result(args)

    signal.connect(slot)
    try:
        return await asyncio.wait_for(fut, timeout)
    finally:
        signal.disconnect(slot)
