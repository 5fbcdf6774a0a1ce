"""Reliability tests (issue 8): bad input, faults, quitting at any moment, concurrency rules, security.

Shared helpers for these files live here: a self-signed HTTPS server on 127.0.0.1, a resolver that answers
for loopback names only (so no test can send a DNS query off the machine), and small window helpers.
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gui.runs_model import RUN_COLUMNS
from tests.helpers import click_and_wait, run

STATUS_COLUMN = [c[0] for c in RUN_COLUMNS].index("Status")
LOOPBACK_NAMES = frozenset({"127.0.0.1", "::1", "localhost"})


@contextlib.contextmanager
def self_signed_https(workdir: Path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 whose certificate nobody trusts; yields its URL. Needs `openssl`."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available")
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"),
            *("-days", "1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:
            pass  # the refused handshakes are the point

    httpd = Server(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, name="self-signed-https")
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


def loopback_only_resolver(monkeypatch) -> list[str]:
    """Replace the system resolver: loopback names resolve, any other name fails at once, with no query
    leaving the machine. Both requests and aiohttp (ThreadedResolver) go through socket.getaddrinfo.
    Returns the list of refused names, for the test to inspect."""
    real = socket.getaddrinfo
    refused: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK_NAMES:
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return refused


def fetch_panel(window, mode: str, urls: list[str] | str, timeout: float = 5.0, max_mb: float = 5.0):
    panel = window.panels["fetch"]
    window.tabs.setCurrentWidget(panel)
    window.toggle.set_mode(mode)
    panel.timeout.setValue(timeout)
    panel.max_mb.setValue(max_mb)
    panel.concurrency.setValue(10)
    panel.urls.setPlainText(urls if isinstance(urls, str) else "\n".join(urls))
    return panel


def table_status(window, row: int) -> str:
    model = window.runs_model
    return model.data(model.index(row, STATUS_COLUMN))


def good_fetch(loop, window, mode: str):
    """A plain run that must succeed: proof the app still works after whatever came before."""
    panel = fetch_panel(window, mode, [window.ctx.server.url("/instant")])
    result = run(loop, click_and_wait(panel))
    assert result.status == "ok", (result.error, [i.error for i in result.items])
    return result


@contextlib.contextmanager
def redirecting_server(location: str) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 that answers every GET with a 302 to ``location``; yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="redirecting-server")
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()
