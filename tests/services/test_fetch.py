"""services.fetch: the blocking and the async version do the same job, with the same messages.

Everything runs against the embedded demo server (or tiny servers made here) on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import http.server
import shutil
import socket
import ssl
import struct
import subprocess
import threading

import aiohttp
import pytest
import requests

from services import fetch
from services.demo_server import DemoServer
from services.fetch import (
    FetchOptions,
    MiB,
    check_url,
    describe_error,
    fetch_async,
    fetch_blocking,
    make_session,
    parse_url_list,
)
from services.presets import expand, find_preset
from services.runs import CANCELLED, cancelled_run

DEFAULT = FetchOptions()
FAST = FetchOptions(timeout_s=0.5)


@pytest.fixture(scope="module")
def server():
    with DemoServer() as srv:
        yield srv


def run_async(urls, opts=DEFAULT, on_item=None, **kwargs):
    async def main():
        async with make_session() as session:
            return await fetch_async(session, urls, opts, on_item, **kwargs)

    return asyncio.run(main())


def run_both(urls, opts=DEFAULT):
    return {"blocking": fetch_blocking(urls, opts), "async": run_async(urls, opts)}


BOTH = pytest.mark.parametrize("mode", ["blocking", "async"])


def run(mode, urls, opts=DEFAULT, on_item=None):
    return fetch_blocking(urls, opts, on_item) if mode == "blocking" else run_async(urls, opts, on_item)


# -- input ------------------------------------------------------------------------------------------------


def test_parse_url_list_ignores_blanks_whitespace_and_comments():
    text = "\n  http://a/x  \n\n\t\n# a comment\nhttps://b/\r\n   \nftp://c/\n"
    assert parse_url_list(text) == ["http://a/x", "https://b/", "ftp://c/"]
    assert parse_url_list("") == []
    assert parse_url_list(" \n\n ") == []


@pytest.mark.parametrize(
    ("opts", "words"),
    [
        (FetchOptions(timeout_s=0), "timeout must be more than 0 and at most 120 s (got 0)"),
        (FetchOptions(timeout_s=-1.0), "timeout"),
        (FetchOptions(timeout_s=120.5), "at most 120 s"),
        (FetchOptions(timeout_s=float("nan")), "timeout"),
        (FetchOptions(concurrency=0), "concurrency must be a whole number from 1 to 1000 (got 0)"),
        (FetchOptions(concurrency=1001), "concurrency"),
        (FetchOptions(concurrency=2.5), "concurrency"),
        (FetchOptions(max_bytes=0), "max body size must be from 1 byte to 100 MiB (got 0)"),
        (FetchOptions(max_bytes=100 * MiB + 1), "max body size"),
    ],
)
@BOTH
def test_invalid_options_give_a_failed_run_with_a_specific_message(mode, opts, words):
    result = run(mode, ["http://127.0.0.1:9/never-fetched"], opts)
    assert result.workload == "fetch" and result.mode == mode
    assert result.status == "failed"
    assert words in result.error
    assert result.items == ()


@BOTH
def test_no_urls_is_a_failed_run(mode):
    result = run(mode, [])
    assert result.status == "failed" and result.error == "no URLs to fetch"


def test_the_limits_themselves_are_valid(server):
    opts = FetchOptions(timeout_s=120, concurrency=1000, max_bytes=100 * MiB)
    assert fetch.options_problem(opts) is None
    assert fetch.options_problem(FetchOptions(timeout_s=0.01, concurrency=1, max_bytes=1)) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "invalid URL: empty"),
        ("http://not a url/", "invalid URL: contains whitespace or control characters"),
        ("http://host/\x00", "invalid URL: contains whitespace or control characters"),
        ("example.com/page", "invalid URL: no scheme (expected http:// or https://)"),
        ("http:///path-only", "invalid URL: no host name"),
        ("http://[::1", "invalid URL: Invalid IPv6 URL"),
        ("http://host:99999/", "invalid URL: Port out of range 0-65535"),
        ("ftp://example.com/file", "unsupported scheme 'ftp' (only http and https)"),
        ("file:///etc/passwd", "unsupported scheme 'file' (only http and https)"),
    ],
)
def test_check_url_refuses_before_any_io(url, message):
    with pytest.raises(fetch.BadURL) as info:
        check_url(url)
    assert str(info.value) == message


def test_check_url_accepts_http_and_https():
    for url in ("http://127.0.0.1:8080/x?y=1", "HTTPS://Example.org", "https://[::1]:443/"):
        check_url(url)


# -- timing: one after another vs overlapping -------------------------------------------------------------


def test_blocking_items_run_one_after_another(server):
    result = fetch_blocking([server.url(f"/delay/0.2?n={i}") for i in range(3)])
    assert [i.ok for i in result.items] == [True] * 3
    for a, b in zip(result.items, result.items[1:], strict=False):
        assert a.ended <= b.started  # the next one cannot start before the previous one is done
    assert result.wall_s >= result.items_sum_s


def test_async_items_overlap(server):
    result = run_async([server.url(f"/delay/0.2?n={i}") for i in range(3)], FetchOptions(concurrency=3))
    assert [i.ok for i in result.items] == [True] * 3
    assert max(i.started for i in result.items) < min(i.ended for i in result.items)  # all in flight at once
    assert result.wall_s < result.items_sum_s


def test_async_concurrency_is_a_real_limit(server):
    urls = [server.url(f"/delay/0.1?n={i}") for i in range(6)]
    one = run_async(urls, FetchOptions(concurrency=1))
    assert max_in_flight(one.items) == 1
    two = run_async(urls, FetchOptions(concurrency=2))
    assert max_in_flight(two.items) == 2


def max_in_flight(items) -> int:
    """The largest number of items whose [started, ended) intervals overlap at one moment."""
    events = sorted([(i.started, 1) for i in items] + [(i.ended, -1) for i in items])  # ends sort first
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


@BOTH
def test_on_item_reports_every_item_once_with_its_index(server, mode):
    seen = []
    urls = [server.url("/instant"), server.url("/status/404"), "ftp://x/"]
    result = run(mode, urls, on_item=lambda i, item: seen.append((i, item)))
    assert sorted(i for i, _ in seen) == [0, 1, 2]
    assert {i: item for i, item in seen} == dict(enumerate(result.items))
    assert [item.label for item in result.items] == urls


def test_burst_of_1000_at_concurrency_100(server):
    urls = [server.url(f"/instant?n={i}") for i in range(1000)]
    result = run_async(urls, FetchOptions(concurrency=100))
    assert result.ok_count == 1000, {i.error for i in result.items if not i.ok}
    assert 1 < max_in_flight(result.items) <= 100


def test_async_mode_name_can_be_set_for_the_benchmark(server):
    result = run_async([server.url("/instant")], mode=fetch.MODE_ASYNCIO_PLAIN)
    assert result.mode == "asyncio-plain" and result.ok_count == 1


# -- results and errors -----------------------------------------------------------------------------------


@BOTH
def test_a_good_item_carries_url_status_and_bytes(server, mode):
    url = server.url("/bytes/1000")
    (item,) = run(mode, [url]).items
    assert item.ok and item.error is None and item.label == url
    assert dict(item.detail) == {"url": url, "status": 200, "bytes": 1000}
    assert item.seconds == pytest.approx(item.ended - item.started)


EXPECTED_ERRORS = {  # the "errors" preset, URL by URL, with timeout 0.5 s
    "/instant": None,
    "/status/404": "HTTP 404 Not Found",
    "/status/503": "HTTP 503 Service Unavailable",
    "/nothing-listens-here": "connection refused",
    "/delay/30": "timed out after 0.5 s",
    "not a valid url": "invalid URL: contains whitespace or control characters",
    "ftp://": "unsupported scheme 'ftp' (only http and https)",
    "/bytes/6291456": "body larger than 5 MiB",
    "/drip?": "timed out after 0.5 s",
    "/redirect-loop": "too many redirects",
    "/non-utf8": None,
    "/delay/0.1": None,
}


def test_every_error_of_the_errors_preset_has_its_own_message_in_both_versions(server, monkeypatch):
    urls = expand(find_preset("errors"), server.base_url, server.refused_url(), delay=0.1)
    assert len(urls) == len(EXPECTED_ERRORS)
    requested = []  # what actually reached the HTTP libraries
    real_get, real_aget = requests.Session.get, aiohttp.ClientSession.get
    monkeypatch.setattr(
        requests.Session, "get", lambda s, url, **kw: requested.append(url) or real_get(s, url, **kw)
    )
    monkeypatch.setattr(
        aiohttp.ClientSession, "get", lambda s, url, **kw: requested.append(url) or real_aget(s, url, **kw)
    )

    results = run_both(urls, FAST)

    for mode, result in results.items():
        assert result.mode == mode and result.status == "partial"
        for url, item in zip(urls, result.items, strict=True):
            (key,) = [k for k in EXPECTED_ERRORS if k in url]
            assert item.error == EXPECTED_ERRORS[key], (mode, url)
            assert item.ok == (EXPECTED_ERRORS[key] is None)
    good = [i for i in results["blocking"].items if i.ok]
    assert [i.detail["bytes"] for i in good] == [3, 8, 14]  # the non-UTF-8 body is counted, never decoded
    # The refused schemes and malformed URLs were stopped before any I/O, in both versions.
    assert not any(u.startswith("ftp:") or " " in u for u in requested)
    assert len(requested) == 2 * (len(urls) - 2)


@BOTH
def test_body_cap(server, mode):
    opts = FetchOptions(max_bytes=1000)
    at, over = run(mode, [server.url("/bytes/1000"), server.url("/bytes/1001")], opts).items
    assert at.ok and at.detail["bytes"] == 1000
    assert not over.ok and over.error == "body larger than 1000 bytes"
    assert over.detail["status"] == 200 and over.detail["bytes"] > 1000


@BOTH
def test_a_slow_drip_hits_the_total_timeout(server, mode):
    # A byte every 0.1 s never trips a per-read timeout of 0.5 s: only a TOTAL timeout ends it early.
    (item,) = run(mode, [server.url("/drip?seconds=5&bytes=50")], FAST).items
    assert item.error == "timed out after 0.5 s"
    assert item.detail["status"] == 200
    assert 0 < item.detail["bytes"] < 50  # it was streaming, and stopped long before the end


@BOTH
def test_dns_failure(mode, monkeypatch):
    # No DNS traffic in tests: the name lookup itself is replaced, for both libraries (system resolver).
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    (item,) = run(mode, ["http://no-such-host.invalid/page"], FAST).items
    assert item.error == "DNS lookup failed for 'no-such-host.invalid'"


class RudeServer:
    """Reads a request, then hangs up without answering - politely (FIN) or with a reset (RST)."""

    def __init__(self, reset: bool) -> None:
        self.reset = reset
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.thread = threading.Thread(target=self._serve)

    def __enter__(self) -> RudeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self.thread.join()
        self.sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                    data += chunk
                if self.reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@BOTH
def test_server_hanging_up(mode):
    with RudeServer(reset=False) as polite, RudeServer(reset=True) as rude:
        closed, reset = run(mode, [polite.url, rude.url], FAST).items
    assert closed.error == "connection closed by the server"
    assert reset.error == "connection reset"


@pytest.fixture(scope="module")
def self_signed_https(tmp_path_factory):
    """An HTTPS server on 127.0.0.1 with a self-signed certificate (needs the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    args = ["-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", *args],
        check=True,
        capture_output=True,
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # the failed handshakes are the point

    httpd = Server(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


@BOTH
def test_tls_errors_certificates_are_verified(server, self_signed_https, mode):
    plain_http_as_https = server.url("/instant").replace("http://", "https://")
    untrusted, wrong_protocol = run(mode, [self_signed_https, plain_http_as_https], FAST).items
    assert untrusted.error == "TLS error: certificate verify failed: self-signed certificate"
    assert wrong_protocol.error is not None and wrong_protocol.error.startswith("TLS error: ")


def test_describe_error_on_wrapped_causes():
    opts = FetchOptions(timeout_s=2.0)
    url = "http://h/"
    assert describe_error(ConnectionResetError(104, "reset"), url, opts) == "connection reset"
    wrapped = requests.ConnectionError(OSError(113, "No route to host"))
    assert describe_error(wrapped, url, opts) == "connection failed: No route to host"
    assert describe_error(TimeoutError(), url, opts) == "timed out after 2.0 s"
    assert (
        describe_error(OSError(24, "Too many open files"), url, opts)
        == "too many open files (lower the concurrency)"
    )
    assert describe_error(ValueError("odd"), url, opts) == "ValueError: odd"


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "1 byte"),
        (1000, "1000 bytes"),
        (64 * 1024, "64 KiB"),
        (5 * MiB, "5 MiB"),
        (3 * MiB // 2, "1.5 MiB"),
    ],
)
def test_format_size(n, text):
    assert fetch.format_size(n) == text


# -- cancellation -----------------------------------------------------------------------------------------


def test_cancelling_the_async_run(server):
    # Items 0, 1 and 3 are slow; item 2 is instant. With concurrency 3, once item 2 has been reported,
    # items 0 and 1 are surely in flight and item 4 is surely still queued behind the semaphore.
    urls = [server.url("/delay/30?a"), server.url("/delay/30?b"), server.url("/instant")]
    urls += [server.url("/delay/30?c"), server.url("/delay/30?d")]
    reported = {}

    async def main():
        async with make_session() as session:
            item_2_done = asyncio.Event()

            def on_item(i, item):
                reported[i] = item
                if i == 2:
                    item_2_done.set()

            task = asyncio.create_task(fetch_async(session, urls, FetchOptions(concurrency=3), on_item))
            await asyncio.wait_for(item_2_done.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert asyncio.all_tasks() == {asyncio.current_task()}  # nothing left behind
            # ...and the shared session still works for the next run.
            again = await fetch_async(session, [server.url("/instant")], FetchOptions())
            return again

    again = asyncio.run(main())

    assert again.ok_count == 1
    assert reported[2].ok
    assert {0, 1} <= set(reported) and 4 not in reported
    for i in set(reported) - {2}:
        item = reported[i]
        assert item.error == CANCELLED and not item.ok and item.outcome == "cancelled"
        assert 0 <= item.started < item.ended
        assert item.label == urls[i]
    assert reported[0].started <= reported[2].ended  # its real start time, not the cancel time
    row = cancelled_run("fetch", "async", urls, reported, wall_s=max(i.ended for i in reported.values()))
    assert row.status == CANCELLED and [i.outcome for i in row.items][2:] == ["ok", "cancelled", "cancelled"]


def test_make_session_settings():
    async def main():
        async with make_session() as session:
            return session.connector.limit, session.connector.limit_per_host

    assert asyncio.run(main()) == (fetch.MAX_CONCURRENCY, 0)
