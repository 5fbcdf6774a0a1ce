"""The embedded demo HTTP server: slow, failing and odd pages on 127.0.0.1, with no internet needed.

The server is an aiohttp.web app running on its OWN asyncio loop in its OWN thread, so it keeps answering
while the GUI thread is frozen by a blocking fetch - otherwise the blocking version would deadlock waiting
for a server that shares its frozen thread.

The thread is deliberately not a daemon: ``stop()`` ends the loop and joins the thread. (A daemon thread
still running an asyncio loop at interpreter exit, next to qasync, aborted the whole process.)

Endpoints (bad or out-of-range parameters answer 400 with a plain-text message naming the parameter):

    /delay/{seconds}          sleep 0..30 s, then a small JSON body
    /status/{code}            answer with that status, 100..599
    /bytes/{n}                n deterministic bytes, 0..50 MiB
    /drip?seconds=&bytes=     stream `bytes` (0..10 MiB) evenly over `seconds` (0..60)
    /instant                  a tiny immediate answer (for 1000-request bursts)
    /redirect-loop            redirects to itself forever
    /non-utf8                 says charset=utf-8, sends bytes that are not valid UTF-8
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import threading
from types import TracebackType

from aiohttp import web

MiB = 1024 * 1024
MAX_DELAY_S = 30.0
MAX_BYTES = 50 * MiB
MAX_DRIP_S = 60.0
MAX_DRIP_BYTES = 10 * MiB
DRIP_DEFAULT_S = 2.0
DRIP_DEFAULT_BYTES = 10
DRIP_MAX_WRITES_PER_S = 50  # a drip writes at most this often; each write carries an even share

BACKLOG = 2048  # the default (128) drops connections when 1000 requests arrive at once
SHUTDOWN_GRACE_S = 0.1  # on stop, requests in flight get this long before their handlers are cancelled
START_TIMEOUT_S = 10.0
JOIN_TIMEOUT_S = 10.0

# /bytes content: byte k of the body is k % 256, sent in blocks of this pattern.
_BLOCK = bytes(range(256)) * 256  # 64 KiB


class DemoServer:
    """``with DemoServer() as server: requests.get(server.url("/delay/1"))``."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None  # lives on the server loop; set to shut down
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._port: int | None = None

    # -- lifecycle (called from the app's thread) -------------------------------------------------------

    def start(self) -> None:
        """Start the server thread and block until it is listening. Raises RuntimeError if it failed.

        A stopped server can be started again: on its old port when that is still free (so URLs handed out
        before work again), else on a new one.
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("demo server already started")
        self._ready = threading.Event()
        self._startup_error = None
        self._loop = self._stopping = None
        self._thread = threading.Thread(target=self._run, name="freezelab-demo-server")
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"demo server did not start within {START_TIMEOUT_S:g} s")
        if self._startup_error is not None:
            self._thread.join(JOIN_TIMEOUT_S)
            raise RuntimeError(f"demo server failed to start: {self._startup_error}") from self._startup_error

    def stop(self) -> None:
        """Stop the loop (cancelling slow requests after a short grace) and join the thread. Idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or not thread.is_alive():
            return
        if loop is not None and stopping is not None:
            # asyncio objects are not thread-safe: ask the server's loop to set the event itself.
            # (RuntimeError: that loop already closed on its own, e.g. a failed start - just join.)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join(JOIN_TIMEOUT_S)
        if thread.is_alive():
            raise RuntimeError(f"demo server thread did not stop within {JOIN_TIMEOUT_S:g} s")

    @property
    def is_running(self) -> bool:
        """Started, listening, and not stopped since."""
        thread = self._thread
        alive = thread is not None and thread.is_alive()
        return alive and self._ready.is_set() and self._startup_error is None

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("demo server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    @staticmethod
    def refused_url() -> str:
        """An http URL on 127.0.0.1 where nothing listens: borrow a free port from the OS, then let it go."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    # -- the server thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            if not self._ready.is_set():
                self._startup_error = exc
            else:
                raise
        finally:
            self._ready.set()  # never leave start() waiting
            _close_loop(loop)

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        # handler_cancellation: when a client gives up (timeout, cancel), stop its handler instead of
        # letting it sleep or drip on for nobody.
        runner = web.AppRunner(
            make_app(), access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_GRACE_S
        )
        await runner.setup()
        try:
            await self._listen(runner)
            self._port = runner.addresses[0][1]
            self._ready.set()
            await self._stopping.wait()
        finally:
            connections = runner.server.connections if runner.server is not None else []
            transports = [c.transport for c in connections if c.transport is not None]
            await runner.cleanup()  # closes the listener and every connection, cancels slow handlers
            # A connection closed mid-write stays "closing" until the client drains its buffer - maybe
            # never. Drop such sockets outright so nothing outlives the loop.
            for transport in transports:
                transport.abort()
            await asyncio.sleep(0)  # let the aborts run their connection_lost callbacks

    async def _listen(self, runner: web.AppRunner) -> None:
        """Listen on 127.0.0.1 only: on the port we had before (a restart), else on one the OS picks."""
        for port in dict.fromkeys((self._port or 0, 0)):
            site = web.TCPSite(runner, "127.0.0.1", port, backlog=BACKLOG)
            try:
                await site.start()
                return
            except OSError:
                if port == 0:
                    raise


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel whatever is left on the loop, then close it, so nothing outlives the thread."""
    try:
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


# -- the app ------------------------------------------------------------------------------------------


def make_app() -> web.Application:
    app = web.Application()
    app.add_routes(
        [
            web.get("/delay/{seconds}", delay),
            web.get("/status/{code}", status),
            web.get("/bytes/{n}", some_bytes),
            web.get("/drip", drip),
            web.get("/instant", instant),
            web.get("/redirect-loop", redirect_loop),
            web.get("/non-utf8", non_utf8),
        ]
    )
    return app


def _number(name: str, raw: str | None, low: float, high: float, unit: str = "") -> float:
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise web.HTTPBadRequest(
            text=f"parameter '{name}' must be a number from {low:g} to {high:g}{unit} (got {raw!r})"
        )
    return value


def _whole(name: str, raw: str | None, low: int, high: int, unit: str = "") -> int:
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise web.HTTPBadRequest(
            text=f"parameter '{name}' must be a whole number from {low} to {high}{unit} (got {raw!r})"
        )
    return value


async def delay(request: web.Request) -> web.Response:
    seconds = _number("seconds", request.match_info["seconds"], 0, MAX_DELAY_S, " s")
    await asyncio.sleep(seconds)
    return web.json_response({"delay": seconds})


async def status(request: web.Request) -> web.Response:
    code = _whole("code", request.match_info["code"], 100, 599)
    if code < 200 or code in (204, 304):
        return web.Response(status=code)  # these statuses must not carry a body
    return web.Response(status=code, text=f"status {code}\n")


async def some_bytes(request: web.Request) -> web.StreamResponse:
    n = _whole("n", request.match_info["n"], 0, MAX_BYTES, f" bytes ({MAX_BYTES // MiB} MiB)")
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = n
    await response.prepare(request)
    sent = 0
    try:
        while sent < n:  # streamed block by block: 50 MiB never sits in memory at once
            block = _BLOCK[: min(len(_BLOCK), n - sent)]
            await response.write(block)
            sent += len(block)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client hung up mid-body (say, past its size cap): normal, not a server error to log
    return response


async def drip(request: web.Request) -> web.StreamResponse:
    query = request.query
    seconds = _number("seconds", query.get("seconds", str(DRIP_DEFAULT_S)), 0, MAX_DRIP_S, " s")
    total = _whole(
        "bytes",
        query.get("bytes", str(DRIP_DEFAULT_BYTES)),
        0,
        MAX_DRIP_BYTES,
        f" ({MAX_DRIP_BYTES // MiB} MiB)",
    )
    if total == 0:  # nothing to drip: the whole (empty) answer takes `seconds`
        await asyncio.sleep(seconds)
        return web.Response(body=b"", content_type="application/octet-stream")
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = total
    await response.prepare(request)  # headers go out at once; the body trickles
    loop = asyncio.get_running_loop()
    start = loop.time()
    writes = min(total, max(1, math.ceil(seconds * DRIP_MAX_WRITES_PER_S)))
    sent = 0
    try:
        for k in range(1, writes + 1):
            # Sleep until the k-th slice is due (an absolute schedule, so the drip does not drift late).
            await asyncio.sleep(max(0.0, start + seconds * k / writes - loop.time()))
            upto = total * k // writes
            await response.write(b"*" * (upto - sent))
            sent = upto
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client gave up (a timeout): normal, not a server error to log
    return response


async def instant(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def redirect_loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/redirect-loop")


async def non_utf8(request: web.Request) -> web.Response:
    # Latin-1 "café" and two bytes that never occur in UTF-8: a client that decodes strictly chokes.
    return web.Response(body=b"caf\xe9 \xff\xfe\n", headers={"Content-Type": "text/plain; charset=utf-8"})
