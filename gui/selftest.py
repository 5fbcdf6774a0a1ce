"""`freezelab --self-test`: every workload in every mode, through the same handlers the buttons use.

It checks the lesson itself: a run that should block the UI thread saw zero heartbeat ticks, and one that
should not saw ticks while it ran. It prints one line per check and `self-test: N passed, M failed`.
"""

from __future__ import annotations

import psutil

from gui.asyncutil import next_emit


async def run_self_test(window, out=print) -> int:
    passed = failed = 0

    def check(name: str, ok: bool, detail: str) -> None:
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        out(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")

    for workload, panel in window.panels.items():
        window.tabs.setCurrentWidget(panel)
        panel.configure_small()
        await panel.prepare_self_test()
        for mode in panel.modes:
            panel.select_mode(mode)
            name = f"{workload}/{mode}"
            pending = next_emit(panel.run_finished, timeout=120)
            panel.run_button.click()
            try:
                (run,) = await pending
            except TimeoutError:
                check(name, False, "no result within 120 s")
                continue
            ticks = panel.last_stats.ticks
            check(
                f"{name} ran",
                run.error is None and run.failed_count == 0,
                f"{run.ok_count}/{len(run.items)} ok in {run.wall_s:.2f} s"
                + (f" ({run.error})" if run.error else ""),
            )
            if panel.freezes(mode):
                check(
                    f"{name} froze the UI",
                    ticks == 0,
                    f"{ticks} heartbeat ticks, max stall {run.max_stall_ms:.0f} ms",
                )
            else:
                check(
                    f"{name} kept the UI alive",
                    ticks > 0,
                    f"{ticks} heartbeat ticks, max stall {run.max_stall_ms:.0f} ms",
                )
    out(f"self-test: RSS {psutil.Process().memory_info().rss / 2**20:.0f} MB")
    out(f"self-test: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
