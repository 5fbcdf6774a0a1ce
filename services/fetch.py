"""Fetch a list of URLs two ways: blocking with requests, and async with aiohttp.

Both versions do the same job for each URL - check it, GET it, stream the body counting bytes against a
cap, give up at a total timeout, turn any failure into one specific message - and return the same
RunResult. They differ only in the mechanism:

* ``fetch_blocking`` asks for one URL and *waits*: the calling thread can do nothing else until the answer
  arrives, so the URLs go one after another (and a GUI thread running it freezes).
* ``fetch_async`` starts a coroutine per URL; each ``await`` hands the thread back to the event loop while
  the network is slow, so up to ``concurrency`` requests are in flight at once and the UI keeps painting.

What both share sits at the bottom: check_url (runs before any I/O) and describe_error (exception -> the
message the user reads), so a failure reads the same whichever version met it.
"""

from __future__ import annotations

import asyncio
import errno
import http.client
import ipaddress
import math
import re
import socket
import ssl
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

import aiohttp
import requests
import urllib3.exceptions

from services.runs import CANCELLED, ItemClock, ItemResult, OnItem, RunResult, failed_run

WORKLOAD = "fetch"
MODE_BLOCKING = "blocking"
MODE_ASYNC = "async"  # fetch_async on the GUI's qasync loop
MODE_ASYNCIO_PLAIN = "asyncio-plain"  # the same fetch_async on a plain asyncio loop (benchmark baseline)
MODES = (MODE_BLOCKING, MODE_ASYNC, MODE_ASYNCIO_PLAIN)

KiB = 1024
MiB = 1024 * KiB
MAX_TIMEOUT_S = 120.0
MAX_CONCURRENCY = 1000
MAX_BODY_BYTES = 100 * MiB
MAX_REDIRECTS = 10  # aiohttp's default; requests would follow 30
CHUNK = 64 * KiB  # the body is read in pieces of up to this size, counted as they come


@dataclass(frozen=True)
class FetchOptions:
    timeout_s: float = 5.0  # TOTAL time allowed per URL: connect + headers + the whole body
    concurrency: int = 10  # async only: how many requests may be in flight at once
    max_bytes: int = 5 * MiB  # a longer body is an error (neither library has a size limit of its own)


DEFAULT_OPTIONS = FetchOptions()


def parse_url_list(text: str) -> list[str]:
    """One URL a line; blank lines, surrounding whitespace and '#' comment lines are ignored."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


# -- the BLOCKING version: requests, one URL after another ------------------------------------------------


def fetch_blocking(
    urls: Iterable[str], opts: FetchOptions = DEFAULT_OPTIONS, on_item: OnItem | None = None
) -> RunResult:
    urls = list(urls)
    if problem := run_problem(urls, opts):
        return failed_run(WORKLOAD, MODE_BLOCKING, problem)
    clock = ItemClock()
    items = []
    with requests.Session() as session:  # one session: its connection pool is reused from URL to URL
        session.max_redirects = MAX_REDIRECTS
        session.trust_env = False  # like aiohttp: ignore proxy variables, so both versions take one path
        for i, url in enumerate(urls):
            item = _fetch_one_blocking(session, url, opts, clock, clock.now())  # the thread waits here
            items.append(item)
            if on_item:
                on_item(i, item)
    return RunResult(WORKLOAD, MODE_BLOCKING, items, clock.now(), params=asdict(opts))


def _fetch_one_blocking(
    session: requests.Session, url: str, opts: FetchOptions, clock: ItemClock, started: float
) -> ItemResult:
    status, size = None, 0
    try:
        check_url(url)
        # requests' timeout is per socket operation, not per request: a server that sends one byte a
        # second never trips it. So we keep our own deadline too, and check it while the body streams.
        deadline = time.monotonic() + opts.timeout_s
        with session.get(url, timeout=opts.timeout_s, stream=True) as resp:  # stream: we read the body
            status = resp.status_code
            resp.raise_for_status()
            for chunk in _arriving_chunks(resp):
                size += len(chunk)
                _check_size(size, opts)
                if time.monotonic() > deadline:
                    raise TimeoutError
    except Exception as exc:
        return _failed(clock, url, started, describe_error(exc, url, opts), status, size)
    return clock.item(url, started, ok=True, url=url, status=status, bytes=size)


def _arriving_chunks(resp: requests.Response) -> Iterator[bytes]:
    # resp.iter_content(CHUNK) waits until a whole CHUNK has arrived, so a slow drip would never get to
    # the deadline check. read1() returns whatever has arrived (decompressed, at most CHUNK bytes).
    while chunk := resp.raw.read1(CHUNK, decode_content=True):
        yield chunk


# -- the ASYNC version: aiohttp, up to `concurrency` URLs at once ----------------------------------------


async def fetch_async(
    session: aiohttp.ClientSession,
    urls: Iterable[str],
    opts: FetchOptions = DEFAULT_OPTIONS,
    on_item: OnItem | None = None,
    *,
    mode: str = MODE_ASYNC,
) -> RunResult:
    urls = list(urls)
    if problem := run_problem(urls, opts):
        return failed_run(WORKLOAD, mode, problem)
    clock = ItemClock()
    items: list[ItemResult] = [None] * len(urls)  # type: ignore[list-item] - every slot is filled below
    todo = iter(enumerate(urls))  # shared by the workers: each takes the next URL when it is free

    async def worker() -> None:
        for i, url in todo:
            started = clock.now()
            try:
                item = await _fetch_one_async(
                    session, url, opts, clock, started
                )  # the loop is free meanwhile
            except asyncio.CancelledError:
                # The run was cancelled while this URL was in flight: say so, with its real start time.
                if on_item:
                    on_item(i, _failed(clock, url, started, CANCELLED, None, 0))
                raise
            items[i] = item
            if on_item:
                on_item(i, item)

    # `concurrency` workers, gathered: that many requests in flight, never more (the number of workers is the
    # limit - it does what a Semaphore would). Not one Task per URL: creating 1000 Tasks in one go stalls the
    # window ~50 ms. Cancelling the run cancels gather, which cancels every worker (the in-flight ones report
    # themselves above) and re-raises CancelledError only after all have finished - no Task outlives the run.
    workers = [asyncio.ensure_future(worker()) for _ in range(min(opts.concurrency, len(urls)))]
    for n, task in enumerate(workers, 1):
        task.set_name(f"fetch worker {n}")
    await asyncio.gather(*workers)
    return RunResult(WORKLOAD, mode, items, clock.now(), params=asdict(opts))


async def _fetch_one_async(
    session: aiohttp.ClientSession, url: str, opts: FetchOptions, clock: ItemClock, started: float
) -> ItemResult:
    status, size = None, 0
    try:
        check_url(url)
        # aiohttp's `total` timeout does cover the whole exchange, body included: no deadline of our own.
        timeout = aiohttp.ClientTimeout(total=opts.timeout_s)
        async with session.get(url, timeout=timeout) as resp:
            status = resp.status
            resp.raise_for_status()
            async for chunk in resp.content.iter_chunked(CHUNK):  # each await lets other requests run
                size += len(chunk)
                _check_size(size, opts)
    except Exception as exc:  # CancelledError is not an Exception: it passes straight through
        return _failed(clock, url, started, describe_error(exc, url, opts), status, size)
    return clock.item(url, started, ok=True, url=url, status=status, bytes=size)


def make_session() -> aiohttp.ClientSession:
    """The one ClientSession the app shares between runs. Create it on the running loop; close it at exit."""
    connector = aiohttp.TCPConnector(
        limit=MAX_CONCURRENCY,  # FetchOptions.concurrency is the real limit, not the connector's 100
        limit_per_host=0,
        ssl=True,  # verify certificates (the default, stated on purpose)
        # The system resolver (getaddrinfo in a thread), as requests uses: same hosts file, same answers.
        resolver=aiohttp.ThreadedResolver(),
    )
    return aiohttp.ClientSession(connector=connector)


# -- shared by both versions: validation, the URL check, the error messages -----------------------------


def options_problem(opts: FetchOptions) -> str | None:
    """What is wrong with these options, in words, or None when they are fine."""
    t, c, b = opts.timeout_s, opts.concurrency, opts.max_bytes
    if not (_is_number(t) and 0 < t <= MAX_TIMEOUT_S):
        return f"timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} s (got {t!r})"
    if not (_is_whole(c) and 1 <= c <= MAX_CONCURRENCY):
        return f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY} (got {c!r})"
    if not (_is_whole(b) and 1 <= b <= MAX_BODY_BYTES):
        return f"max body size must be from 1 byte to {format_size(MAX_BODY_BYTES)} (got {b!r})"
    return None


def run_problem(urls: list[str], opts: FetchOptions) -> str | None:
    """Why this run cannot start at all, or None. (A bad single URL is an item error, not this.)"""
    return "no URLs to fetch" if not urls else options_problem(opts)


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _is_whole(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class BadURL(ValueError):
    """The URL was refused before any I/O; the message is what the user reads."""


class BodyTooLarge(Exception):
    """The body went past FetchOptions.max_bytes."""


def check_url(url: str) -> None:
    """Refuse what we must not or cannot fetch BEFORE touching the network. Raises BadURL."""
    if not url:
        raise BadURL("invalid URL: empty")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise BadURL("invalid URL: contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError as exc:
        raise BadURL(f"invalid URL: {exc}") from None
    if not parts.scheme:
        raise BadURL("invalid URL: no scheme (expected http:// or https://)")
    if parts.scheme.lower() not in ("http", "https"):
        raise BadURL(f"unsupported scheme '{parts.scheme}' (only http and https)")
    if not parts.hostname:
        raise BadURL("invalid URL: no host name")
    if _looks_like_ipv4(parts.hostname):
        # "256.1.1.1" is no name and no address: aiohttp refuses it, requests would ask DNS for it. Say so.
        try:
            ipaddress.IPv4Address(parts.hostname)
        except ValueError:
            raise BadURL(f"invalid URL: '{parts.hostname}' is not a valid IPv4 address") from None


def _looks_like_ipv4(host: str) -> bool:
    return all(part.isdigit() for part in host.split("."))


def _check_size(size: int, opts: FetchOptions) -> None:
    if size > opts.max_bytes:
        raise BodyTooLarge


def _failed(
    clock: ItemClock, url: str, started: float, error: str, status: int | None, size: int
) -> ItemResult:
    return clock.item(url, started, ok=False, error=error, url=url, status=status, bytes=size)


def describe_error(exc: BaseException, url: str, opts: FetchOptions) -> str:
    """Turn what requests OR aiohttp raised into one specific, human message - the same for both."""
    try:
        return _describe(exc, url, opts)
    except Exception:  # a message must never crash the run it describes
        return f"{type(exc).__name__}: {exc}"


def _describe(exc: BaseException, url: str, opts: FetchOptions) -> str:
    if isinstance(exc, BadURL):
        return str(exc)
    if isinstance(exc, BodyTooLarge):
        return f"body larger than {format_size(opts.max_bytes)}"
    if isinstance(exc, requests.TooManyRedirects | aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, requests.exceptions.InvalidSchema | aiohttp.NonHttpUrlRedirectClientError):
        # check_url lets only http(s) in: this is a redirect to another scheme (file:, ftp:...), not followed.
        scheme = re.search(r"([A-Za-z][A-Za-z0-9+.-]*):", str(exc))
        return f"redirected to an unsupported scheme '{scheme[1] if scheme else '?'}' (only http and https)"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _http_status(exc.response.status_code)
    if isinstance(exc, aiohttp.ClientResponseError):
        return _http_status(exc.status)
    # The libraries wrap the low-level cause two or three layers deep: search the whole chain, the most
    # telling cause first (urllib3's "new connection" error even subclasses its connect-timeout error).
    chain = list(_causes(exc))

    def found(*types: type[BaseException]) -> bool:
        return any(isinstance(e, types) for e in chain)

    if found(socket.gaierror):
        return f"DNS lookup failed for '{urlsplit(url).hostname}'"
    if tls_errors := [e for e in chain if isinstance(e, ssl.SSLError)]:
        return f"TLS error: {_tls_reason(tls_errors)}"
    if found(ConnectionRefusedError):
        return "connection refused"
    if found(http.client.RemoteDisconnected, aiohttp.ServerDisconnectedError):
        return "connection closed by the server"
    if found(ConnectionResetError):  # (RemoteDisconnected is one too: hence checked just above)
        return "connection reset"
    if found(TimeoutError, requests.Timeout, urllib3.exceptions.ReadTimeoutError):
        return f"timed out after {_seconds(opts.timeout_s)}"
    if found(http.client.IncompleteRead, urllib3.exceptions.ProtocolError, aiohttp.ClientPayloadError):
        return "connection closed by the server"
    if isinstance(exc, requests.exceptions.InvalidURL | aiohttp.InvalidURL):
        return f"invalid URL: {exc}"
    if os_error := next((e for e in chain if isinstance(e, OSError) and e.strerror), None):
        if os_error.errno == errno.EMFILE:
            return "too many open files (lower the concurrency)"
        return f"connection failed: {os_error.strerror}"
    return f"{type(exc).__name__}: {exc}"  # unexpected, but still specific


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """exc and all it wraps, outermost first: causes, contexts, urllib3's .reason, aiohttp's .os_error."""
    seen: set[int] = set()
    todo: deque[object] = deque([exc])
    while todo:
        e = todo.popleft()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None), getattr(e, "os_error", None)])
        todo.extend(e.args)  # requests passes the urllib3 error as an argument


def _http_status(code: int) -> str:
    try:
        return f"HTTP {code} {HTTPStatus(code).phrase}"  # the standard phrase, whatever the server sent
    except ValueError:
        return f"HTTP {code}"


def _tls_reason(errors: list[ssl.SSLError]) -> str:
    for e in errors:
        if verify_message := getattr(e, "verify_message", None):  # aiohttp's wrappers lack it: getattr
            return f"certificate verify failed: {verify_message}"  # e.g. "... self-signed certificate"
    for e in errors:
        if reason := getattr(e, "reason", None):  # OpenSSL's code, e.g. WRONG_VERSION_NUMBER
            return str(reason).lower().replace("_", " ")
    return str(errors[0])


def _seconds(t: float) -> str:
    return f"{t:.1f} s" if round(t, 1) == t else f"{t:g} s"


def format_size(n: int) -> str:
    """1 byte, 1000 bytes, 64 KiB, 5 MiB, 1.5 MiB."""
    for unit, size in (("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            return f"{n // size} {unit}" if n % size == 0 else f"{n / size:.1f} {unit}"
    return "1 byte" if n == 1 else f"{n} bytes"
