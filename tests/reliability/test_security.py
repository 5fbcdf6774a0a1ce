"""Security basics (issue 8): servers bind loopback only; TLS verification stays on; only http and https
are fetched, even after a redirect; no shell and no eval anywhere in the app's code; the databases a user
opens are read-only.
"""

from __future__ import annotations

import ast
import hashlib
import ipaddress
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from services import demo_db, fetch
from tests.helpers import click_and_wait, run, sqlite_panel
from tests.reliability import fetch_panel, redirecting_server, self_signed_https

ROOT = Path(__file__).resolve().parents[2]
MODES = ("blocking", "async")


def listening(pid: int) -> list:
    return [c for c in psutil.Process(pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]


def is_loopback(ip: str) -> bool:
    return ipaddress.ip_address(ip).is_loopback


# --- loopback only ------------------------------------------------------------------------------------------


def test_the_demo_server_listens_on_127_0_0_1_only(ctx):
    sockets = listening(os.getpid())
    mine = [c for c in sockets if c.laddr.port == ctx.server.port]
    assert [c.laddr.ip for c in mine] == ["127.0.0.1"]  # one listener, IPv4 loopback, not 0.0.0.0 or ::
    assert all(is_loopback(c.laddr.ip) for c in sockets), sockets  # nothing else listens outward either


def test_the_real_app_listens_on_loopback_only(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gui.app", "--data-dir", str(tmp_path), "--report-paint"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == "freezelab: painted"  # started: the server is up
        family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        sockets = [c for pid in family for c in listening(pid)]
        assert sockets, "the demo server should be listening"
        assert all(is_loopback(c.laddr.ip) for c in sockets), sockets
    finally:
        proc.send_signal(signal.SIGINT)  # quits like closing the window
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and err == ""


# --- TLS verification stays on ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def untrusted_https(tmp_path_factory):
    with self_signed_https(tmp_path_factory.mktemp("tls")) as url:
        yield url


@pytest.mark.parametrize("mode", MODES)
def test_a_certificate_nobody_trusts_is_refused_in_both_versions(loop, window, untrusted_https, mode):
    panel = fetch_panel(window, mode, [untrusted_https])
    result = run(loop, click_and_wait(panel))
    (item,) = result.items
    assert item.error == "TLS error: certificate verify failed: self-signed certificate"
    assert item.detail["bytes"] == 0  # not a byte of the body was read


# --- only http and https -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/hostname",
        "ftp://127.0.0.1/",
        "gopher://127.0.0.1/",
        "ws://127.0.0.1/",
        "wss://127.0.0.1/",
        "data:,hello",
        "javascript:void(0)",
        "about:blank",
        "view-source:http://127.0.0.1/",
        "jar:file:///x.jar!/",
        "unix:///var/run/docker.sock",
    ],
)
def test_only_http_and_https_are_accepted(url):
    scheme = url.split(":", 1)[0]
    with pytest.raises(fetch.BadURL, match=rf"^unsupported scheme '{scheme}' \(only http and https\)$"):
        fetch.check_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "https://127.0.0.1/", "HTTPS://localhost:8443/x?y=1"])
def test_http_and_https_pass_the_check(url):
    fetch.check_url(url)


@pytest.mark.parametrize("mode", MODES)
def test_a_local_file_is_never_read_not_even_through_a_redirect(loop, window, tmp_path, mode):
    secret = tmp_path / "secret.txt"
    secret.write_text("the exam answers\n")
    with redirecting_server(secret.as_uri()) as redirect:
        panel = fetch_panel(window, mode, [secret.as_uri(), redirect])
        result = run(loop, click_and_wait(panel))
    direct, redirected = result.items
    assert direct.error == "unsupported scheme 'file' (only http and https)"
    assert redirected.error == "redirected to an unsupported scheme 'file' (only http and https)"
    assert direct.detail["bytes"] == redirected.detail["bytes"] == 0


# --- no shell, no eval --------------------------------------------------------------------------------------

FORBIDDEN_CALLS = {
    "eval",
    "exec",
    "builtins.eval",
    "builtins.exec",
    "os.system",
    "os.popen",
    "os.execl",
    "os.execlp",
    "os.execv",
    "os.execvp",
    "os.spawnl",
    "os.spawnlp",
    "asyncio.create_subprocess_shell",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "pickle.loads",
    "marshal.loads",
}


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return "?"


def dangerous_calls(source: str, filename: str) -> list[str]:
    """Calls that run text as code or through a shell, as 'file:line: what'."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        if name in FORBIDDEN_CALLS:  # (a Qt dialog's .exec() is not Python's exec: only these exact names)
            found.append(f"{filename}:{node.lineno}: {name}()")
        for kw in node.keywords:
            # shell=True, or shell=<anything not literally False>: a command line would go through /bin/sh.
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                found.append(f"{filename}:{node.lineno}: {name}(shell=...)")
    return found


def test_the_scanner_itself_finds_what_it_looks_for():
    bad = """
import os, subprocess, asyncio
eval(text)
exec(code, {})
os.system("ls " + name)
subprocess.run(cmd, shell=True)
subprocess.Popen(cmd, shell=flag)
asyncio.create_subprocess_shell(cmd)
builtins.eval("1")
"""
    assert len(dangerous_calls(bad, "bad.py")) == 7
    fine = "subprocess.run(['ls', name], shell=False)\nsubprocess.Popen([sys.executable, '-m', 'x'])\n"
    assert dangerous_calls(fine, "fine.py") == []


def python_files():
    files = sorted((ROOT / "services").rglob("*.py")) + sorted((ROOT / "gui").rglob("*.py"))
    assert len(files) > 20  # the scan really covers the app
    return files


def test_no_shell_and_no_eval_in_the_app():
    found = []
    for path in python_files():
        found += dangerous_calls(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


def false(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def tls_switched_off(source: str, filename: str) -> list[str]:
    """Places that turn certificate checks off, as 'file:line: what'."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if (
            isinstance(node, ast.keyword)
            and node.arg in ("verify", "ssl", "verify_ssl")
            and false(node.value)
        ):
            found.append(f"{where}: {node.arg}=False")
        if isinstance(node, ast.Attribute) and node.attr in ("CERT_NONE", "_create_unverified_context"):
            found.append(f"{where}: {node.attr}")
        targets = node.targets if isinstance(node, ast.Assign) and false(node.value) else []
        if any(isinstance(t, ast.Attribute) and t.attr in ("check_hostname", "verify") for t in targets):
            found.append(f"{where}: verification switched off")
    return found


def test_the_tls_scanner_finds_what_it_looks_for():
    bad = """
requests.get(url, verify=False)
aiohttp.TCPConnector(ssl=False)
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
ssl._create_unverified_context()
session.verify = False
"""
    assert len(tls_switched_off(bad, "bad.py")) == 6
    assert tls_switched_off("aiohttp.TCPConnector(ssl=True)\nrequests.get(url, timeout=5)\n", "ok.py") == []


def test_tls_verification_is_never_switched_off_in_the_code():
    found = []
    for path in python_files():
        found += tls_switched_off(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


# --- the user's databases are read-only -------------------------------------------------------------------

WRITES = [
    "DELETE FROM orders",
    "UPDATE customers SET name = 'x'",
    "DROP TABLE reviews",
    "CREATE TABLE graffiti (x)",
    "PRAGMA journal_mode = DELETE",
    "VACUUM",
    "ATTACH '{dir}/copy.sqlite3' AS copy",
    "PRAGMA writable_schema = ON",
]


@pytest.fixture(scope="module")
def user_db(tmp_path_factory) -> Path:
    """Someone's own database - and a WAL-mode one, the kind a reader could most easily disturb."""
    path = demo_db.build_demo_db(tmp_path_factory.mktemp("user") / "mine.sqlite3", scale=0.01)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", MODES)
def test_write_attempts_from_the_panel_leave_the_file_unchanged(loop, window, user_db, mode):
    before = sha(user_db)
    stat = user_db.stat()
    for sql in WRITES:
        panel = sqlite_panel(window, mode, user_db, sql.format(dir=user_db.parent), copies=2)
        result = run(loop, click_and_wait(panel))
        assert result.failed_count == 2, sql
        assert all(i.error.startswith("read-only: ") for i in result.items), [i.error for i in result.items]
    assert sha(user_db) == before and user_db.stat().st_mtime_ns == stat.st_mtime_ns
    # Nothing was created next to it but what a WAL reader needs - and the write-ahead log holds nothing.
    assert {p.name for p in user_db.parent.iterdir()} <= {
        user_db.name,
        f"{user_db.name}-wal",
        f"{user_db.name}-shm",
    }
    wal = user_db.with_name(f"{user_db.name}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    # And reading still works.
    panel = sqlite_panel(window, mode, user_db, "SELECT count(*) FROM reviews")
    assert run(loop, click_and_wait(panel)).status == "ok"
