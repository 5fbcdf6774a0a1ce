"""The embedded demo server: every endpoint, its bounds, and a stop that really ends the thread."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from services import demo_server
from services.demo_server import DemoServer, MiB


@pytest.fixture(scope="module")
def server():
    with DemoServer() as srv:
        yield srv


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def get(http: requests.Session, server: DemoServer, path: str, **kwargs) -> requests.Response:
    return http.get(server.url(path), timeout=10, **kwargs)


def test_addresses(server):
    assert server.base_url == f"http://127.0.0.1:{server.port}"
    assert server.url("/instant") == server.url("instant") == server.base_url + "/instant"


def test_delay_sleeps_then_answers_json(server, http):
    t0 = time.perf_counter()
    resp = get(http, server, "/delay/0.2")
    assert resp.status_code == 200
    assert resp.json() == {"delay": 0.2}
    assert time.perf_counter() - t0 >= 0.2  # it really waited (a lower bound, so never flaky)
    assert get(http, server, "/delay/0").json() == {"delay": 0}


@pytest.mark.parametrize(
    ("path", "param", "allowed"),
    [
        ("/delay/-1", "seconds", "from 0 to 30"),
        ("/delay/30.5", "seconds", "from 0 to 30"),
        ("/delay/abc", "seconds", "from 0 to 30"),
        ("/delay/nan", "seconds", "from 0 to 30"),
        ("/delay/inf", "seconds", "from 0 to 30"),
        ("/status/99", "code", "from 100 to 599"),
        ("/status/600", "code", "from 100 to 599"),
        ("/status/4o4", "code", "from 100 to 599"),
        ("/bytes/-1", "n", "from 0 to 52428800"),
        (f"/bytes/{50 * MiB + 1}", "n", "from 0 to 52428800"),
        ("/bytes/1.5", "n", "from 0 to 52428800"),
        ("/drip?seconds=-1&bytes=1", "seconds", "from 0 to 60"),
        ("/drip?seconds=61&bytes=1", "seconds", "from 0 to 60"),
        ("/drip?seconds=x&bytes=1", "seconds", "from 0 to 60"),
        ("/drip?seconds=1&bytes=-1", "bytes", f"from 0 to {10 * MiB}"),
        (f"/drip?seconds=1&bytes={10 * MiB + 1}", "bytes", f"from 0 to {10 * MiB}"),
    ],
)
def test_bad_parameters_answer_400_naming_parameter_and_range(server, http, path, param, allowed):
    resp = get(http, server, path)
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert f"'{param}'" in resp.text
    assert allowed in resp.text


def test_edges_of_the_ranges_are_accepted(server, http):
    assert get(http, server, "/status/599").status_code == 599
    assert get(http, server, "/status/200").status_code == 200
    with get(http, server, f"/bytes/{50 * MiB}", stream=True) as resp:  # headers only: no need for 50 MiB
        assert resp.status_code == 200
        assert resp.headers["Content-Length"] == str(50 * MiB)


@pytest.mark.parametrize("code", [201, 204, 301, 404, 418, 503])
def test_status_answers_with_that_code(server, http, code):
    resp = get(http, server, f"/status/{code}", allow_redirects=False)
    assert resp.status_code == code


def test_bytes_are_deterministic_and_exact(server, http):
    n = 70_000  # more than one 64 KiB block
    first = get(http, server, f"/bytes/{n}").content
    assert first == bytes(k % 256 for k in range(n))
    assert get(http, server, f"/bytes/{n}").content == first
    assert get(http, server, "/bytes/0").content == b""


def test_drip_spreads_the_bytes_over_the_time(server, http):
    arrivals = []
    t0 = time.perf_counter()
    with get(http, server, "/drip?seconds=0.3&bytes=3", stream=True) as resp:
        assert resp.status_code == 200
        while chunk := resp.raw.read1(1024):
            arrivals.append((time.perf_counter() - t0, chunk))
    assert b"".join(c for _, c in arrivals) == b"***"
    assert len(arrivals) >= 2  # separate writes, not one lump at the end
    assert arrivals[-1][0] >= 0.3
    assert arrivals[0][0] < arrivals[-1][0]


def test_drip_with_no_bytes_just_waits(server, http):
    t0 = time.perf_counter()
    resp = get(http, server, "/drip?seconds=0.2&bytes=0")
    assert resp.status_code == 200 and resp.content == b""
    assert time.perf_counter() - t0 >= 0.2


def test_instant(server, http):
    resp = get(http, server, "/instant")
    assert resp.status_code == 200 and resp.content == b"ok\n"


def test_redirect_loop_points_at_itself(server, http):
    resp = get(http, server, "/redirect-loop", allow_redirects=False)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/redirect-loop"
    with pytest.raises(requests.TooManyRedirects):
        get(http, server, "/redirect-loop")


def test_non_utf8_claims_utf8_but_is_not(server, http):
    resp = get(http, server, "/non-utf8")
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    with pytest.raises(UnicodeDecodeError):
        resp.content.decode("utf-8")


def test_refused_url_has_nothing_listening(server, http):
    url = server.refused_url()
    assert url.startswith("http://127.0.0.1:")
    with pytest.raises(requests.ConnectionError):
        http.get(url, timeout=5)


def test_many_connections_at_once(server):
    # 300 clients connect before any is answered: the large backlog must take them all.
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(300)]
    try:
        for s in socks:
            s.sendall(b"GET /instant HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        replies = [_read_all(s) for s in socks]
    finally:
        for s in socks:
            s.close()
    assert all(r.startswith(b"HTTP/1.1 200") and r.endswith(b"ok\n") for r in replies)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


# -- lifecycle --------------------------------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_stop_joins_the_thread_with_slow_requests_in_flight():
    srv = DemoServer()
    srv.start()
    thread = srv._thread
    assert thread is not None and thread.is_alive() and not thread.daemon
    drip = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    slow = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        drip.sendall(b"GET /drip?seconds=60&bytes=60 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert drip.recv(12) == b"HTTP/1.1 200"  # the drip has started: a request is in flight
        slow.sendall(b"GET /delay/30 HTTP/1.1\r\nHost: x\r\n\r\n")
        srv.stop()
        assert not thread.is_alive()
        # The server side is gone: the clients see their connections end instead of hanging.
        _read_all(drip)
        assert _read_all(slow) == b""
    finally:
        drip.close()
        slow.close()
    srv.stop()  # idempotent
    assert thread not in threading.enumerate()


def test_stop_before_start_is_harmless_and_start_twice_is_refused():
    srv = DemoServer()
    srv.stop()
    with pytest.raises(RuntimeError, match="not running"):
        srv.base_url  # noqa: B018
    with srv:
        with pytest.raises(RuntimeError, match="already started"):
            srv.start()
        with requests.get(srv.url("/instant"), timeout=5) as resp:
            assert resp.status_code == 200
    assert not srv._thread.is_alive()


def test_failed_start_raises_and_leaves_no_thread(monkeypatch):
    def broken_app():
        raise OSError("no app today")

    monkeypatch.setattr(demo_server, "make_app", broken_app)
    srv = DemoServer()
    with pytest.raises(RuntimeError, match="failed to start: no app today"):
        srv.start()
    assert not srv._thread.is_alive()
    srv.stop()


def test_delay_json_is_small():
    # /delay answers must stay tiny: the burst and demo presets count on it.
    with DemoServer() as srv, requests.get(srv.url("/delay/0"), timeout=5) as resp:
        assert len(resp.content) < 64
        assert json.loads(resp.content) == {"delay": 0}
