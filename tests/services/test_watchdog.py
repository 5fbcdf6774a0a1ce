"""services.watchdog: a frozen thread is noticed and named; a healthy one is left alone; nothing leaks.

The "GUI thread" here is a plain thread (or the test's own thread running an asyncio loop) that calls
beat() like the heartbeat does. Waits are on events and counters, never on fixed sleeps.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Callable
from pathlib import Path

from services.fetch import FetchOptions, fetch_async, fetch_blocking, make_session
from services.watchdog import Freeze, Watchdog, describe_stack, short_path

HERE = Path(__file__).parent
GUARD = 20  # seconds: a guard against hanging, never a measurement


def deliberately_blocking(wd: Watchdog, release: threading.Event) -> None:
    """The code under test: beat, then block the thread until released, then beat again."""
    wd.ident = threading.get_ident()  # "watch me"
    wd.beat()
    release.wait(GUARD)  # the thread is stuck right here; the watchdog should say so
    wd.beat()


def start_blocked_thread(wd: Watchdog, release: threading.Event) -> threading.Thread:
    t = threading.Thread(target=deliberately_blocking, args=(wd, release), name="watched")
    t.start()
    return t


def test_a_blocked_thread_is_named_by_its_blocking_function():
    release, ended = threading.Event(), threading.Event()
    seen: list[Freeze] = []
    wd = Watchdog(threshold_s=0.1, project_dirs=[HERE], on_freeze=lambda f: (seen.append(f), ended.set()))
    wd.start()
    try:
        t = start_blocked_thread(wd, release)
        assert wd.wait_sampled(GUARD), "the watchdog never sampled the frozen thread"
        # While still frozen, the freeze is visible as ongoing - what a GUI sees right after a blocking call.
        (ongoing,) = wd.freezes()
        assert ongoing.ongoing and ongoing.samples >= 1
        assert "deliberately_blocking" in wd.describe(ongoing.start, ongoing.end + 1)
        release.set()
        t.join(GUARD)
        assert ended.wait(GUARD), "the freeze was never closed after the beats resumed"
    finally:
        release.set()
        wd.stop()
    (freeze,) = seen
    assert not freeze.ongoing and freeze.samples >= 1 and freeze.seconds > 0
    assert freeze.where.startswith("test_watchdog.py:") or "/test_watchdog.py:" in freeze.where
    assert "deliberately_blocking" in freeze.where
    assert "threading.py wait" in freeze.where  # the innermost frame: Event.wait in the standard library
    assert wd.freezes() == [freeze]
    assert wd.freezes_between(freeze.start - 1, freeze.end + 1) == [freeze]
    assert wd.freezes_between(freeze.end + 1, freeze.end + 2) == []
    assert wd.describe(freeze.end + 1, freeze.end + 2) is None
    # A window that only grazes the freeze (a run started just as it ended) is not blamed for it.
    assert wd.freezes_between(freeze.end - 0.01, freeze.end + 1) == [freeze]
    assert wd.describe(freeze.end - 0.01, freeze.end + 1) is None
    assert "deliberately_blocking" in wd.describe(freeze.start, freeze.end)


def test_a_healthy_beating_thread_records_no_freeze():
    wd = Watchdog(threshold_s=0.2)
    stop = threading.Event()

    def heartbeat() -> None:
        wd.ident = threading.get_ident()
        # Beat every 10 ms until the watchdog has woken often enough to have seen a 0.2 s gap if any.
        while wd.checks < 10 and not stop.is_set():
            wd.beat()
            stop.wait(0.01)  # the tick interval of this fake heartbeat

    t = threading.Thread(target=heartbeat)
    wd.start()
    try:
        t.start()
        t.join(GUARD)
    finally:
        stop.set()
        t.join()
        wd.stop()
    assert wd.checks >= 10
    assert wd.freezes() == []


def test_no_freeze_after_reset_until_the_next_beat():
    idle = threading.Event()
    wd = Watchdog(threshold_s=0.05, project_dirs=[HERE])  # watches this thread, which will not beat
    wd.start()  # (start arms it: this thread would count as frozen from here...)
    wd.reset()  # ...but after reset nothing is frozen however long we go without beating
    try:
        target = wd.checks + 6
        while wd.checks < target:
            idle.wait(0.01)
        assert wd.freezes() == []
    finally:
        wd.stop()


def test_start_arms_the_watchdog():
    wd = Watchdog(threshold_s=0.05, project_dirs=[HERE])  # watches this thread, which will not beat
    wd.start()
    try:
        assert wd.wait_sampled(GUARD)  # no beat after start: this thread counts as frozen
        assert "test_start_arms_the_watchdog" in wd.freezes()[-1].where
    finally:
        wd.stop()


def test_stop_joins_the_thread_and_is_idempotent():
    before = set(threading.enumerate())
    wd = Watchdog()
    wd.stop()  # before start: harmless
    wd.start()
    assert wd.running
    assert any(t.name == "freezelab-watchdog" for t in threading.enumerate())
    wd.stop()
    wd.stop()
    assert not wd.running
    assert set(threading.enumerate()) == before


def test_a_freeze_in_progress_at_stop_is_recorded():
    release = threading.Event()
    wd = Watchdog(threshold_s=0.05, project_dirs=[HERE])
    wd.start()
    t = start_blocked_thread(wd, release)
    try:
        assert wd.wait_sampled(GUARD)
    finally:
        wd.stop()
        release.set()
        t.join()
    (freeze,) = wd.freezes()
    assert not freeze.ongoing and "deliberately_blocking" in freeze.where


def test_a_failing_callback_does_not_kill_the_watchdog():
    release, called = threading.Event(), threading.Event()

    def broken(_freeze: Freeze) -> None:
        called.set()
        raise RuntimeError("boom")

    wd = Watchdog(threshold_s=0.05, project_dirs=[HERE], on_freeze=broken)
    wd.start()
    try:
        t = start_blocked_thread(wd, release)
        assert wd.wait_sampled(GUARD)
        release.set()
        t.join()
        assert called.wait(GUARD)
        after = wd.checks + 2
        while wd.checks < after and wd.running:  # the watchdog keeps waking after the failure
            release.wait(0.01)
        assert wd.running and wd.checks >= after
    finally:
        release.set()
        wd.stop()


# --- naming a stack --------------------------------------------------------------------------------------

PROJECT = Path("/proj")
DIRS = (PROJECT / "services", PROJECT / "gui")


def frames(*entries: tuple[str, int, str]) -> list[tuple[Path, int, str]]:
    return [(Path(p), line, func) for p, line, func in entries]


def test_describe_stack_names_the_public_function_and_the_innermost_frame():
    stack = frames(  # innermost first, as a stack is read
        ("/usr/lib/python3.12/socket.py", 720, "readinto"),
        ("/venv/lib/python3.12/site-packages/urllib3/response.py", 900, "read1"),
        ("/proj/services/fetch.py", 105, "_arriving_chunks"),
        ("/proj/services/fetch.py", 88, "_fetch_one_blocking"),
        ("/proj/services/fetch.py", 78, "fetch_blocking"),
        ("/proj/gui/fetch_panel.py", 117, "<lambda>"),
        ("/proj/gui/panel.py", 140, "run"),
    )
    assert describe_stack(stack, DIRS) == "services/fetch.py:78 fetch_blocking → socket.py readinto"


def test_describe_stack_when_our_frame_is_innermost_or_absent():
    # Our code is the innermost Python frame (busy in its own loop, or waiting in a C call like sleep).
    stack = frames(
        ("/proj/services/cpu.py", 70, "sum_of_squares"),
        ("/proj/services/cpu.py", 103, "run_blocking"),
    )
    assert describe_stack(stack, DIRS) == "services/cpu.py:103 run_blocking → sum_of_squares"
    assert describe_stack(frames(("/proj/gui/x.py", 5, "slot")), DIRS) == "gui/x.py:5 slot"
    assert describe_stack(frames(("/usr/lib/python3.12/selectors.py", 468, "select")), DIRS) == (
        "selectors.py select"
    )
    assert describe_stack([], DIRS) is None


def test_short_path_keeps_package_names_of_libraries():
    import requests

    lib = Path(requests.__file__).parent / "adapters.py"
    assert short_path(lib) == "requests/adapters.py"
    assert short_path(Path("/proj/services/fetch.py"), DIRS) == "services/fetch.py"
    assert short_path(Path("/usr/lib/python3.12/socket.py"), DIRS) == "socket.py"


# --- the real thing: a blocking fetch is named, an async fetch is not a freeze -------------------------


class GatedServer:
    """A tiny HTTP server on 127.0.0.1 whose answer waits until ``gate()`` returns (a test decides when)."""

    def __init__(self, gate: Callable[[], object]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gate()
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = False  # server_close() joins the handler threads
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="gated-server")
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/slow"

    def __enter__(self) -> GatedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.thread.join()
        self.httpd.server_close()


OPTS = FetchOptions(timeout_s=GUARD)


def test_a_blocking_fetch_is_named_fetch_blocking():
    wd = Watchdog(threshold_s=0.1)  # the real project dirs: services/ and gui/
    results = []

    def gui_thread(url: str) -> None:  # a stand-in for the GUI thread running the blocking handler
        wd.ident = threading.get_ident()
        wd.beat()
        results.append(fetch_blocking([url], OPTS))
        wd.beat()

    # The server answers only once the watchdog has seen the fetching thread stuck.
    with GatedServer(lambda: wd.wait_sampled(GUARD)) as server:
        wd.start()
        try:
            t = threading.Thread(target=gui_thread, args=(server.url,))
            t.start()
            t.join(GUARD)
        finally:
            wd.stop()
    assert results[0].items[0].ok
    (freeze,) = wd.freezes()
    assert freeze.where.startswith("services/fetch.py:"), freeze.where
    assert " fetch_blocking → " in freeze.where  # the public function, then the innermost frame
    assert wd.describe(freeze.start, freeze.end) == freeze.where


def test_an_async_fetch_keeps_beating_and_records_no_freeze():
    wd = Watchdog(threshold_s=0.2)  # watches this thread, which runs the event loop
    # The answer comes only after the watchdog has woken 10 times (10 x 50 ms > the threshold): had the
    # loop been blocked that long, the watchdog would have recorded it.
    target: list[int] = []
    enough = threading.Event()

    def gate() -> None:
        while wd.checks < target[0] and not enough.wait(0.01):
            pass

    async def main(url: str):
        async def heartbeat() -> None:
            while True:
                wd.beat()
                await asyncio.sleep(0.016)

        beats = asyncio.create_task(heartbeat())
        await asyncio.sleep(0)
        async with make_session() as session:
            result = await fetch_async(session, [url], OPTS)
        beats.cancel()
        return result

    with GatedServer(gate) as server:
        wd.start()
        target.append(wd.checks + 10)
        try:
            result = asyncio.run(main(server.url))
        finally:
            enough.set()
            wd.stop()
    assert result.items[0].ok
    assert wd.checks >= target[0]
    assert wd.freezes() == []


def test_the_watched_thread_defaults_to_the_creating_thread():
    wd = Watchdog()
    assert wd.ident == threading.get_ident()
