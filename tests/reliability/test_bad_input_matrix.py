"""The bad-input matrix (issue 8): whatever people type, the app answers with a specific message and goes on.

One table per kind of input. Every row names the input and the EXACT message the user must read, and where
it shows: on the failed item ("item"), as the reason a whole run could not start ("run"), or nowhere because
the input is fine ("ok"). URL and SQL rows go through the real window - typed into the panel, Run clicked,
the row awaited - in both modes; parameters the panels cannot even express (their spin boxes clamp) and
preset files go through the service functions. After every GUI row a plain run must succeed and the runs
table must hold both rows: the app kept running.

No test here sends a packet off the machine: the resolver only knows loopback names (see
``loopback_only_resolver``), and every server is on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QWidget

from gui.main_window import MainWindow
from services import cpu, demo_db, fetch, presets, sqlite
from services.fetch import FetchOptions
from services.sqlite import QueryOptions
from tests.helpers import click_and_wait, run, sqlite_panel
from tests.reliability import (
    fetch_panel,
    good_fetch,
    loopback_only_resolver,
    redirecting_server,
    self_signed_https,
    table_status,
)

MODES = ("blocking", "async")
TIMEOUT_S = 0.5  # the fetch panel's timeout in these runs: slow servers fail fast
CAP_MB = 1.0  # the fetch panel's body cap in these runs


@dataclass(frozen=True)
class Case:
    id: str
    given: str  # what the user typed (a template: {server}, {port}, {db}, ... are filled in per test)
    expect: str  # the exact message; for "ok" rows, unused
    where: str = "item"  # "item": one failed item says it; "run": the run could not start; "ok": it works

    def __str__(self) -> str:
        return self.id


def ids(cases):
    return [c.id for c in cases]


# --- URLs -----------------------------------------------------------------------------------------------
ONLY_HTTP = "(only http and https)"
URL_CASES = [
    Case("scheme-ftp", "ftp://files.example/readme.txt", f"unsupported scheme 'ftp' {ONLY_HTTP}"),
    Case("scheme-file", "file:///etc/passwd", f"unsupported scheme 'file' {ONLY_HTTP}"),
    Case(
        "scheme-javascript",
        "javascript:alert(document.cookie)",
        f"unsupported scheme 'javascript' {ONLY_HTTP}",
    ),
    Case("scheme-data", "data:text/plain;base64,aGk=", f"unsupported scheme 'data' {ONLY_HTTP}"),
    Case("scheme-mailto", "mailto:teacher@school.example", f"unsupported scheme 'mailto' {ONLY_HTTP}"),
    Case("no-scheme", "www.example.org/index.html", "invalid URL: no scheme (expected http:// or https://)"),
    Case(
        "scheme-relative", "//127.0.0.1/index.html", "invalid URL: no scheme (expected http:// or https://)"
    ),
    Case("empty-host", "http://", "invalid URL: no host name"),
    Case("empty-host-with-path", "http:///index.html", "invalid URL: no host name"),
    Case("space-in-host", "http://exa mple.org/", "invalid URL: contains whitespace or control characters"),
    Case("port-out-of-range", "http://127.0.0.1:99999/", "invalid URL: Port out of range 0-65535"),
    Case(
        "port-not-a-number",
        "http://127.0.0.1:http/",
        "invalid URL: Port could not be cast to integer value as 'http'",
    ),
    Case("broken-ipv6-literal", "http://[::1/", "invalid URL: Invalid IPv6 URL"),
    Case(
        "impossible-ipv4",
        "http://256.256.256.256/",
        "invalid URL: '256.256.256.256' is not a valid IPv4 address",
    ),
    Case("refused", "{refused}/", "connection refused"),
    # The demo server listens on 127.0.0.1 only: the same port on the IPv6 loopback refuses.
    Case("ipv6-loopback-refused", "http://[::1]:{port}/instant", "connection refused"),
    Case("dns-failure", "http://no-such-host.invalid/page", "DNS lookup failed for 'no-such-host.invalid'"),
    Case("redirect-loop", "{server}/redirect-loop", "too many redirects"),
    Case("redirect-to-file", "{redirect_to_file}", f"redirected to an unsupported scheme 'file' {ONLY_HTTP}"),
    Case("body-over-cap", "{server}/bytes/3000000", "body larger than 1 MiB"),
    Case("endless-slow-drip", "{server}/drip?seconds=60&bytes=6000", f"timed out after {TIMEOUT_S} s"),
    Case("no-answer", "{server}/delay/30", f"timed out after {TIMEOUT_S} s"),
    Case("http-404", "{server}/status/404", "HTTP 404 Not Found"),
    Case("http-503", "{server}/status/503", "HTTP 503 Service Unavailable"),
    Case("self-signed-tls", "{tls}", "TLS error: certificate verify failed: self-signed certificate"),
    Case("https-to-plain-http", "https://127.0.0.1:{port}/instant", "TLS error: wrong version number"),
    Case("empty-list", "", "the URL list is empty: pick a preset or type one URL per line", "run"),
    Case(
        "only-comments",
        "# nothing here\n\n   ",
        "the URL list is empty: pick a preset or type one URL per line",
        "run",
    ),
    Case("non-utf8-body", "{server}/non-utf8", "", "ok"),
    Case("upper-case-scheme", "HTTP://127.0.0.1:{port}/instant", "", "ok"),
]


@pytest.fixture(scope="module")
def tls_url(tmp_path_factory):
    with self_signed_https(tmp_path_factory.mktemp("tls")) as url:
        yield url


@pytest.fixture(scope="module")
def redirect_to_file_url():
    with redirecting_server("file:///etc/passwd") as url:
        yield url


@pytest.fixture
def no_dns(monkeypatch):
    return loopback_only_resolver(monkeypatch)


def errors_logged(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


def params(cases):
    return [pytest.param(c, id=c.id) for c in cases]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", params(URL_CASES))
def test_url(loop, window, case, mode, tls_url, redirect_to_file_url, no_dns, caplog):
    server = window.ctx.server
    url = case.given.format(
        server=server.base_url,
        port=server.port,
        refused=server.refused_url(),
        tls=tls_url,
        redirect_to_file=redirect_to_file_url,
    )
    panel = fetch_panel(window, mode, url, timeout=TIMEOUT_S, max_mb=CAP_MB)
    result = run(loop, click_and_wait(panel))
    assert result.mode == mode
    check(case, result)
    if case.where == "ok":
        assert result.items[0].detail["status"] == 200 and result.items[0].detail["bytes"] > 0
    assert_app_keeps_running(loop, window, result, mode)
    assert not errors_logged(caplog)  # a bad URL is an answer for the user, not an error in the log
    if case.id == "dns-failure":
        assert no_dns == ["no-such-host.invalid"]  # asked for once, and answered without any network


# --- SQL ------------------------------------------------------------------------------------------------
RO = "read-only: "
SCHEMA_CREATE = RO + "CREATE is not allowed (it would change the schema)"
SCHEMA_DROP = RO + "DROP is not allowed (it would change the schema)"
EMPTY_QUERY_PANEL = "the query is empty: pick a preset or type a SELECT"


@dataclass(frozen=True)
class SqlCase(Case):
    db: str = "db"  # which file: db (a good demo database), text, damaged, missing, empty, dir
    prefix: bool = False  # the message starts with `expect` (SQLite's own wording follows)


SQL_ROWS = [
    SqlCase(
        "insert", "INSERT INTO customers (name) VALUES ('Mallory')", RO + "INSERT on customers is not allowed"
    ),
    SqlCase("update", "UPDATE products SET price = 0", RO + "UPDATE on products is not allowed"),
    SqlCase("delete", "DELETE FROM orders", RO + "DELETE on orders is not allowed"),
    SqlCase(
        "replace", "REPLACE INTO products VALUES (1, 'a', 'b', 1.0)", RO + "INSERT on products is not allowed"
    ),
    SqlCase(
        "delete-in-cte", "WITH x AS (SELECT 1) DELETE FROM orders", RO + "DELETE on orders is not allowed"
    ),
    SqlCase("drop-table", "DROP TABLE orders", SCHEMA_DROP),
    SqlCase("drop-index", "DROP INDEX orders_customer", SCHEMA_DROP),
    SqlCase("create-table", "CREATE TABLE graffiti (x)", SCHEMA_CREATE),
    SqlCase("create-temp-table", "CREATE TEMP TABLE scratch (x)", SCHEMA_CREATE),
    SqlCase("create-index", "CREATE INDEX by_price ON products(price)", SCHEMA_CREATE),
    SqlCase("alter-table", "ALTER TABLE orders ADD COLUMN note TEXT", RO + "ALTER TABLE is not allowed"),
    SqlCase("attach", "ATTACH '{db}.other' AS other", RO + "ATTACH is not allowed"),
    SqlCase(
        "pragma-writable-schema",
        "PRAGMA writable_schema = ON",
        RO + "PRAGMA writable_schema = ON is not allowed",
    ),
    SqlCase("pragma-user-version", "PRAGMA user_version = 7", RO + "PRAGMA user_version = 7 is not allowed"),
    SqlCase(
        "pragma-query-only-off", "PRAGMA query_only = OFF", RO + "PRAGMA query_only = OFF is not allowed"
    ),
    SqlCase("vacuum", "VACUUM", RO + "VACUUM is not allowed"),
    SqlCase("reindex", "REINDEX", RO + "REINDEX is not allowed"),
    SqlCase("analyze", "ANALYZE", RO + "ANALYZE is not allowed"),
    SqlCase("transaction", "BEGIN IMMEDIATE", RO + "TRANSACTION is not allowed"),
    SqlCase("load-extension", "SELECT load_extension('/tmp/evil.so')", RO + "not authorized"),
    SqlCase("several-statements", "SELECT 1; DELETE FROM orders", "only one statement at a time"),
    SqlCase("syntax-error", "SELEC name FROM customers", 'syntax error: near "SELEC": syntax error'),
    SqlCase("incomplete", "SELECT * FROM", "syntax error: incomplete input"),
    SqlCase("unknown-table", "SELECT * FROM no_such_table", "no such table: no_such_table"),
    SqlCase("unknown-column", "SELECT shoe_size FROM customers", "no such column: shoe_size"),
    SqlCase("only-a-comment", "-- just a comment", "empty query", "run"),
    SqlCase("empty", "   ", EMPTY_QUERY_PANEL, "run"),
    SqlCase("not-sqlite-file", "SELECT 1", "not a database: {text}", db="text"),
    SqlCase(
        "damaged-file",
        "SELECT count(*) FROM reviews",
        "not a database: {damaged} is damaged",
        db="damaged",
        prefix=True,
    ),
    SqlCase("missing-file", "SELECT 1", "file not found: {missing}", "run", db="missing"),
    SqlCase("empty-file", "SELECT 1", "not a database: {empty} is an empty file", "run", db="empty"),
    SqlCase("directory", "SELECT 1", "not a database: {dir} is not a file", "run", db="dir"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A good (small) demo database and every kind of file that is not one."""
    d = tmp_path_factory.mktemp("sql")
    db = demo_db.build_demo_db(d / "shop.sqlite3", scale=0.01)
    text = d / "notes.sqlite3"
    text.write_text("These are my notes, not a database.\n" * 200)
    damaged = d / "damaged.sqlite3"
    data = db.read_bytes()
    damaged.write_bytes(data[: len(data) // 3])  # the header is fine; two thirds of the pages are gone
    empty = d / "empty.sqlite3"
    empty.write_bytes(b"")
    folder = d / "folder.sqlite3"
    folder.mkdir()
    return {"db": db, "text": text, "damaged": damaged, "missing": d / "missing.sqlite3", "empty": empty,
            "dir": folder}  # fmt: skip


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", SQL_ROWS, ids=ids(SQL_ROWS))
def test_sql(loop, window, case, mode, files):
    names = {k: str(v) for k, v in files.items()}
    sql = case.given.format(**names)
    before = {p: sha(p) for p in files.values() if p.is_file()}
    listing = sorted(files["db"].parent.iterdir())
    panel = sqlite_panel(window, mode, files[case.db], sql)
    result = run(loop, click_and_wait(panel))
    assert result.mode == mode
    check(case, result, expect=case.expect.format(**names))
    # Whatever was typed, no file changed and none appeared (no journal, no ATTACHed file, no copy).
    assert {p: sha(p) for p in before} == before
    assert sorted(files["db"].parent.iterdir()) == listing
    # The results pane says why, too.
    assert "No results" in panel.results_label.text()
    # ...and the app goes on: a good query on the good database works.
    good = sqlite_panel(window, mode, files["db"], "SELECT count(*) FROM customers")
    again = run(loop, click_and_wait(good))
    assert again.status == "ok" and again.items[0].detail["first_rows"] == [(500,)]
    assert window.runs_model.rowCount() == 2
    assert table_status(window, 0) == result.status


def test_sql_locked_database_in_both_versions(files, tmp_path):
    """Another program holds the write lock: both versions wait the busy timeout, then say so."""
    locked = tmp_path / "locked.sqlite3"
    locked.write_bytes(files["db"].read_bytes())
    holder = sqlite3.connect(locked, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # (rollback journal: readers are shut out too)
    try:
        opts = QueryOptions(copies=1, busy_timeout_s=0.2)
        blocking = sqlite.query_blocking(locked, "SELECT count(*) FROM orders", opts)
        awaited = asyncio.run(sqlite.query_async(locked, "SELECT count(*) FROM orders", opts))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for result in (blocking, awaited):
        assert [i.error for i in result.items] == ["database is locked"]
    assert sqlite.query_blocking(locked, "SELECT count(*) FROM orders", opts).status == "ok"


ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


def test_sql_a_query_past_the_time_limit_is_stopped_in_both_versions(files):
    opts = QueryOptions(copies=1, time_limit_s=0.3)
    for result in (
        sqlite.query_blocking(files["db"], ENDLESS, opts),
        asyncio.run(sqlite.query_async(files["db"], ENDLESS, opts)),
    ):
        assert [i.error for i in result.items] == ["query exceeded the 0.3 s limit"]


SQL_OPTION_CASES = [
    (QueryOptions(copies=0), "copies must be a whole number from 1 to 16, got 0"),
    (QueryOptions(copies=17), "copies must be a whole number from 1 to 16, got 17"),
    (QueryOptions(copies=True), "copies must be a whole number from 1 to 16, got True"),
    (QueryOptions(row_cap=-1), "row cap must be a whole number from 0 to 100000, got -1"),
    (QueryOptions(time_limit_s=0), "time limit must be more than 0 and at most 3600 s, got 0"),
    (QueryOptions(time_limit_s=math.nan), "time limit must be more than 0 and at most 3600 s, got nan"),
]


@pytest.mark.parametrize(("opts", "message"), SQL_OPTION_CASES, ids=lambda x: str(x)[:40])
def test_sql_options_out_of_range(files, opts, message):
    for result in (
        sqlite.query_blocking(files["db"], "SELECT 1", opts),
        asyncio.run(sqlite.query_async(files["db"], "SELECT 1", opts)),
    ):
        assert result.status == "failed" and result.error == message and result.items == ()


# --- CPU parameters (the panel's spin boxes clamp; the service must refuse on its own) -------------------
CPU_CASES = [
    (cpu.CpuOptions(jobs=-1), "jobs must be at least 1, got -1"),
    (cpu.CpuOptions(jobs=0), "jobs must be at least 1, got 0"),
    (cpu.CpuOptions(jobs=65), "jobs must be at most 64, got 65"),
    (cpu.CpuOptions(jobs=10**9), "jobs must be at most 64, got 1,000,000,000"),
    (cpu.CpuOptions(n=0), "n must be at least 1, got 0"),
    (cpu.CpuOptions(n=-5), "n must be at least 1, got -5"),
    (cpu.CpuOptions(n=10**12), "n must be at most 500,000,000, got 1,000,000,000,000"),
    (cpu.CpuOptions(jobs="4"), "jobs must be a whole number, got '4'"),
    (cpu.CpuOptions(n="lots"), "n must be a whole number, got 'lots'"),
    (cpu.CpuOptions(jobs=True), "jobs must be a whole number, got True"),
    (cpu.CpuOptions(n=2.5), "n must be a whole number, got 2.5"),
    (cpu.CpuOptions(n=math.nan), "n must be a whole number, got nan"),
    (cpu.CpuOptions(jobs=None), "jobs must be a whole number, got None"),
]


class NeverUsedPool:
    """run_in_pool must refuse bad options before it touches the pool."""

    def __getattr__(self, name):
        raise AssertionError(f"the pool was used ({name}) for options that should have been refused")


@pytest.mark.parametrize(("opts", "message"), CPU_CASES, ids=[m for _, m in CPU_CASES])
def test_cpu_options(opts, message):
    assert cpu.check_options(opts) == message
    with ThreadPoolExecutor(1) as threads:
        results = {
            "blocking": cpu.run_blocking(opts),
            "loop": asyncio.run(cpu.run_on_loop(opts)),
            "thread": asyncio.run(cpu.run_in_thread(threads, opts)),
            "process": asyncio.run(cpu.run_in_pool(NeverUsedPool(), opts)),
        }
    for mode, result in results.items():
        assert (result.mode, result.status, result.error, result.items) == (mode, "failed", message, ())


def test_cpu_panel_clamps_what_is_typed_and_still_runs(loop, window, qtbot):
    panel = window.panels["cpu"]
    window.tabs.setCurrentWidget(panel)
    panel.select_mode("blocking")
    panel.jobs.setValue(-3)
    assert panel.jobs.value() == 1
    panel.jobs.setValue(10**6)
    assert panel.jobs.value() == cpu.MAX_JOBS
    panel.size.setValue(0)
    assert panel.size.value() == 1
    panel.size.setValue(10**6)
    assert panel.size.value() * 1_000_000 == cpu.MAX_N
    # Letters typed into a number box are refused by its validator: the value does not change.
    panel.jobs.setValue(2)
    panel.jobs.setFocus()
    qtbot.keyClicks(panel.jobs, "abc")
    assert panel.jobs.value() == 2
    panel.size.setValue(1)
    result = run(loop, click_and_wait(panel))
    assert result.status == "ok" and len(result.items) == 2
    assert window.runs_model.rowCount() == 1


# --- fetch options (the panel clamps; the service refuses) ------------------------------------------------
FETCH_OPTION_CASES = [
    (FetchOptions(timeout_s=0), "timeout must be more than 0 and at most 120 s (got 0)"),
    (FetchOptions(timeout_s=-1), "timeout must be more than 0 and at most 120 s (got -1)"),
    (FetchOptions(timeout_s=math.nan), "timeout must be more than 0 and at most 120 s (got nan)"),
    (FetchOptions(timeout_s=1e9), "timeout must be more than 0 and at most 120 s (got 1000000000.0)"),
    (FetchOptions(timeout_s="5"), "timeout must be more than 0 and at most 120 s (got '5')"),
    (FetchOptions(concurrency=0), "concurrency must be a whole number from 1 to 1000 (got 0)"),
    (FetchOptions(concurrency=2.5), "concurrency must be a whole number from 1 to 1000 (got 2.5)"),
    (FetchOptions(concurrency=True), "concurrency must be a whole number from 1 to 1000 (got True)"),
    (FetchOptions(max_bytes=0), "max body size must be from 1 byte to 100 MiB (got 0)"),
    (FetchOptions(max_bytes=10**10), "max body size must be from 1 byte to 100 MiB (got 10000000000)"),
]


@pytest.mark.parametrize(("opts", "message"), FETCH_OPTION_CASES, ids=[m for _, m in FETCH_OPTION_CASES])
def test_fetch_options(opts, message):
    async def awaited():
        async with fetch.make_session() as session:
            return await fetch.fetch_async(session, ["http://127.0.0.1:9/"], opts)

    for mode, result in (
        ("blocking", fetch.fetch_blocking(["http://127.0.0.1:9/"], opts)),
        ("async", asyncio.run(awaited())),
    ):
        assert (result.mode, result.status, result.error, result.items) == (mode, "failed", message, ())


# --- preset files ---------------------------------------------------------------------------------------
ONE = '{"presets": [{"id": "a", "name": "A", "urls": ["/x"]EXTRA}]}'
FETCH_PRESET_CASES = [
    Case(
        "not-json",
        "{presets: [",
        "{p}: not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
    ),
    Case("a-list", "[]", '{p}: expected an object with a non-empty list "presets"'),
    Case("no-presets", '{"presets": []}', '{p}: expected an object with a non-empty list "presets"'),
    Case("entry-not-object", '{"presets": [42]}', "{p}: preset #1: expected an object, got int"),
    Case("no-urls", '{"presets": [{"id": "a", "name": "A"}]}', "{p}: preset #1 ('a'): missing \"urls\""),
    Case(
        "count-is-bool",
        ONE.replace("EXTRA", ', "count": true'),
        "{p}: preset #1 ('a'): \"count\" must be int, got true",
    ),
    Case(
        "delay-too-big",
        ONE.replace("EXTRA", ', "delay": 99'),
        "{p}: preset #1 ('a'): \"delay\" must be from 0 to 30 (got 99)",
    ),
    Case(
        "unknown-placeholder",
        '{"presets": [{"id": "a", "name": "A", "urls": ["{host}/x"]}]}',
        "{p}: preset #1 ('a'): unknown placeholder {{host}} in '{{host}}/x' "
        "(allowed: {{delay}}, {{i}}, {{refused}}, {{server}})",
    ),
    Case(
        "duplicate-id",
        '{"presets": [{"id": "a", "name": "A", "urls": ["/x"]}, {"id": "a", "name": "B", "urls": ["/y"]}]}',
        "{p}: duplicate preset id 'a'",
    ),
]


@pytest.mark.parametrize("case", FETCH_PRESET_CASES, ids=ids(FETCH_PRESET_CASES))
def test_fetch_preset_file(case, tmp_path):
    path = tmp_path / "fetch.json"
    path.write_text(case.given, encoding="utf-8")
    with pytest.raises(presets.PresetError) as caught:
        presets.fetch_presets(path)
    assert str(caught.value) == case.expect.format(p=path)


def test_fetch_preset_file_not_utf8_or_missing(tmp_path):
    path = tmp_path / "fetch.json"
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(presets.PresetError) as caught:
        presets.fetch_presets(path)
    message = "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    assert str(caught.value) == f"cannot read fetch presets {path}: {message}"
    with pytest.raises(presets.PresetError) as caught:
        presets.fetch_presets(tmp_path / "gone.json")
    gone = tmp_path / "gone.json"
    assert (
        str(caught.value)
        == f"cannot read fetch presets {gone}: [Errno 2] No such file or directory: '{gone}'"
    )
    assert presets.fetch_presets()  # the packaged file still reads


SQLITE_PRESET_CASES = [
    Case("not-json", "SELECT 1", "my.json: not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    Case("no-presets", '{"queries": []}', 'my.json: expected an object with a non-empty "presets" list'),
    Case("entry-not-object", '{"presets": ["SELECT 1"]}', "my.json: preset #1 is not an object"),
    Case(
        "no-sql",
        '{"presets": [{"name": "A", "description": "d"}]}',
        'my.json: preset #1 needs a non-empty text "sql"',
    ),
    Case(
        "blank-name",
        '{"presets": [{"name": "  ", "description": "d", "sql": "SELECT 1"}]}',
        'my.json: preset #1 needs a non-empty text "name"',
    ),
    Case(
        "sql-lines-not-text",
        '{"presets": [{"name": "A", "description": "d", "sql": ["SELECT", 1]}]}',
        'my.json: preset #1 needs a non-empty text "sql"',
    ),
    Case(
        "duplicate-name",
        '{"presets": [{"name": "A", "description": "d", "sql": "SELECT 1"},'
        ' {"name": "A", "description": "e", "sql": "SELECT 2"}]}',
        'my.json: preset name "A" appears twice',
    ),
]


@pytest.mark.parametrize("case", SQLITE_PRESET_CASES, ids=ids(SQLITE_PRESET_CASES))
def test_sqlite_preset_text(case):
    with pytest.raises(sqlite.PresetError) as caught:
        sqlite.parse_presets(case.given, "my.json")
    assert str(caught.value) == case.expect
    assert sqlite.sqlite_presets()  # the packaged file still reads


# --- a corrupt settings.ini: the window opens with its defaults -------------------------------------------
DEFAULTS = {"count": 10, "delay": 1.0, "timeout": 5.0, "concurrency": 10, "max_mb": 5.0}
SETTINGS_CASES = {
    "binary-garbage": bytes(range(256)) * 8,
    "wrong-types": (
        b"[fetch]\ncount=banana\ndelay=@Invalid()\ntimeout=@ByteArray(xyz)\nconcurrency=\nbody_cap=1e999x\n"
        b"[view]\nzoom=huge\n[run]\nmode=turbo\n"
        b"[window]\ngeometry=not bytes\nsplit=@Variant(\\0\\0)\ntab=seven\n"
    ),
    "truncated": b"[fetch]\ncou",
    "utf16-with-nul-bytes": "[fetch]\ncount=banana\n".encode("utf-16"),
}


@pytest.mark.parametrize("content", SETTINGS_CASES.values(), ids=SETTINGS_CASES.keys())
def test_corrupt_settings_file(loop, ctx, qtbot, content):
    (ctx.data_dir / "settings.ini").write_bytes(content)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    fetch_box = w.panels["fetch"]
    values = {name: getattr(fetch_box, name).value() for name in DEFAULTS}
    assert values == DEFAULTS
    assert ctx.mode() == "blocking" and w.zoom.factor == 1.0
    assert 0 <= w.tabs.currentIndex() < w.tabs.count()
    w.save_settings()  # writing over the bad file does not fail either
    assert good_fetch(loop, w, "async").status == "ok"
    assert w.runs_model.rowCount() == 1


def test_settings_path_is_a_directory(loop, ctx, qtbot):
    (ctx.data_dir / "settings.ini").mkdir()
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    assert w.panels["fetch"].count.value() == DEFAULTS["count"]
    w.save_settings()  # cannot be written: silently ignored, never an exception
    assert good_fetch(loop, w, "blocking").status == "ok"


# --- shared checks ---------------------------------------------------------------------------------------
def check(case: Case, result, expect: str | None = None) -> None:
    expect = case.expect if expect is None else expect
    if case.where == "run":
        assert (result.status, result.error, result.items) == ("failed", expect, ())
    elif case.where == "item":
        assert result.error is None and len(result.items) == 1
        (item,) = result.items
        assert not item.ok and item.outcome == "error"
        if getattr(case, "prefix", False):
            assert item.error.startswith(expect), item.error
        else:
            assert item.error == expect
        assert result.status == "partial"
    else:
        assert result.status == "ok", [i.error for i in result.items]


def assert_app_keeps_running(loop, window, result, mode) -> None:
    assert window.runs_model.rowCount() == 1 and table_status(window, 0) == result.status
    assert window.panels["fetch"].run_button.isEnabled()
    good_fetch(loop, window, mode)
    assert window.runs_model.rowCount() == 2 and table_status(window, 1) == "ok"


# --- the limits the services enforce are the limits the panels offer ---------------------------------------
def test_the_panels_offer_exactly_the_services_limits(window):
    f, s, c = window.panels["fetch"], window.panels["sqlite"], window.panels["cpu"]
    assert f.timeout.minimum() > 0 and f.timeout.maximum() == fetch.MAX_TIMEOUT_S
    assert f.max_mb.minimum() > 0 and f.max_mb.maximum() * fetch.MiB == fetch.MAX_BODY_BYTES
    assert (f.concurrency.minimum(), f.concurrency.maximum()) == (1, fetch.MAX_CONCURRENCY)
    assert (s.copies.minimum(), s.copies.maximum()) == (1, sqlite.MAX_COPIES)
    assert QueryOptions(row_cap=s.row_cap.maximum()).problem() is None
    assert QueryOptions(row_cap=s.row_cap.maximum() + 1).problem() is not None
    assert (c.jobs.minimum(), c.jobs.maximum()) == (1, cpu.MAX_JOBS)
    assert c.size.minimum() >= 1 and c.size.maximum() * 1_000_000 == cpu.MAX_N
    # ...and the units are on screen
    assert (f.timeout.suffix(), f.max_mb.suffix(), s.row_cap.suffix()) == (" s", " MiB", " rows shown")


def test_the_sqlite_panel_states_its_query_time_limit(window):
    panel = window.panels["sqlite"]
    limit = f"{QueryOptions().time_limit_s:g} s"
    texts = [w.toolTip() for w in panel.findChildren(QWidget)]
    texts += [w.text() for w in panel.findChildren(QLabel)]
    assert any(limit in text for text in texts)
