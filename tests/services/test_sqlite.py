"""sqlite3 blocking vs aiosqlite async: same results, read-only, clear errors, cancellable."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from services import sqlite as sq
from services.demo_db import build_demo_db
from services.runs import CANCELLED, ItemResult, RunResult, cancelled_run
from services.sqlite import (
    PresetError,
    QueryOptions,
    describe_error,
    open_readonly,
    parse_presets,
    query_async,
    query_blocking,
    sqlite_presets,
)

# A query that takes a little while (tens of ms) without touching any table: enough for copies to overlap.
SHORT_BUSY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000) SELECT count(*) FROM c"
)
# A query that would run for many minutes: only a cancel or the time limit ends it.
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


DEFAULTS = QueryOptions()


def run(mode: str, db: Path | str, sql: str, opts: QueryOptions = DEFAULTS, on_item=None) -> RunResult:
    if mode == "blocking":
        return query_blocking(db, sql, opts, on_item)
    return asyncio.run(query_async(db, sql, opts, on_item))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def aiosqlite_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]


def assert_no_aiosqlite_threads_left() -> None:
    # A closed aiosqlite connection's thread is finishing its last line: give it time to end, then check.
    for thread in aiosqlite_threads():
        thread.join(timeout=10)
    assert aiosqlite_threads() == []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_db(tmp_path_factory.mktemp("db") / "demo.sqlite3", scale=0.005)


@pytest.fixture
def demo_copy(demo: Path, tmp_path: Path) -> Path:
    """A private copy in an otherwise empty folder (so stray -journal/-wal files would show)."""
    target = tmp_path / "demo.sqlite3"
    shutil.copyfile(demo, target)
    return target


MODES = ["blocking", "async"]


# --- results ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_counts_every_row_but_keeps_only_row_cap(demo: Path, mode: str) -> None:
    with sqlite3.connect(demo) as conn:
        total = conn.execute("SELECT count(*) FROM order_items").fetchone()[0]
    conn.close()
    result = run(mode, demo, "SELECT * FROM order_items ORDER BY id", QueryOptions(row_cap=10))
    assert result.workload == "sqlite" and result.mode == mode and result.status == "ok"
    (item,) = result.items
    assert item.ok and item.label == "copy 1"
    assert item.detail["rows"] == total > 10
    assert item.detail["columns"] == ["id", "order_id", "product_id", "quantity", "unit_price"]
    assert len(item.detail["first_rows"]) == 10 and item.detail["truncated"] is True
    assert [row[0] for row in item.detail["first_rows"]] == list(range(1, 11))

    whole = run(mode, demo, "SELECT id FROM products", QueryOptions(row_cap=100_000))
    assert whole.items[0].detail["truncated"] is False
    assert len(whole.items[0].detail["first_rows"]) == whole.items[0].detail["rows"]


@pytest.mark.parametrize("mode", MODES)
def test_values_are_display_safe(demo: Path, mode: str) -> None:
    result = run(mode, demo, "SELECT x'00ff10', printf('%.500c', 'a'), NULL, 1.5, 7")
    (row,) = result.items[0].detail["first_rows"]
    assert row[0] == "<3 bytes>"
    assert isinstance(row[1], str) and len(row[1]) == 200 and row[1].endswith("…")
    assert row[2:] == (None, 1.5, 7)


def test_blocking_and_async_give_the_same_answer(demo: Path) -> None:
    sql = "SELECT country, count(*) FROM customers GROUP BY country ORDER BY country"
    blocking, in_async = run("blocking", demo, sql), run("async", demo, sql)
    assert dict(blocking.items[0].detail) == dict(in_async.items[0].detail)
    assert blocking.items[0].detail["rows"] == 12


def test_blocking_copies_run_one_after_another(demo: Path) -> None:
    seen: list[int] = []
    result = query_blocking(demo, SHORT_BUSY, QueryOptions(copies=3), lambda i, item: seen.append(i))
    assert result.ok_count == 3 and seen == [0, 1, 2]
    assert [item.label for item in result.items] == ["copy 1", "copy 2", "copy 3"]
    for before, after in zip(result.items, result.items[1:], strict=False):
        assert after.started >= before.ended  # no overlap at all
    assert result.wall_s >= result.items_sum_s * 0.99


def test_async_copies_overlap(demo: Path) -> None:
    seen: list[int] = []
    result = asyncio.run(
        query_async(demo, SHORT_BUSY, QueryOptions(copies=3), lambda i, item: seen.append(i))
    )
    assert result.ok_count == 3 and sorted(seen) == [0, 1, 2]
    assert all(item.detail["first_rows"] == [(300000,)] for item in result.items)
    # Every copy started before any copy finished: they were all in flight together.
    assert max(item.started for item in result.items) < min(item.ended for item in result.items)
    assert result.concurrency > 1.5
    assert_no_aiosqlite_threads_left()


def test_presets_load_and_run(demo: Path) -> None:
    presets = sqlite_presets()
    assert len(presets) >= 5
    assert len({p.name for p in presets}) == len(presets)
    text = " ".join(p.sql.upper() for p in presets)
    for feature in ("GROUP BY", "LIKE '%", "ORDER BY", "WITH RECURSIVE", "OVER ("):
        assert feature in text
    for preset in presets:
        assert preset.description.strip()
        result = query_blocking(demo, preset.sql, QueryOptions())
        assert result.status == "ok", (preset.name, result.items[0].error)
        assert result.items[0].detail["rows"] > 0, preset.name
    async_result = asyncio.run(query_async(demo, presets[0].sql, QueryOptions(copies=2)))
    assert async_result.status == "ok"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("{not json", "not valid JSON"),
        ("[]", '"presets" list'),
        ('{"presets": []}', '"presets" list'),
        ('{"presets": [42]}', "#1 is not an object"),
        ('{"presets": [{"name": "a", "description": "d"}]}', '#1 needs a non-empty text "sql"'),
        ('{"presets": [{"name": "", "description": "d", "sql": "SELECT 1"}]}', '"name"'),
        ('{"presets": [{"name": "a", "description": "d", "sql": [1, 2]}]}', '"sql"'),
        (
            '{"presets": [{"name": "a", "description": "d", "sql": "SELECT 1"},'
            ' {"name": "a", "description": "e", "sql": "SELECT 2"}]}',
            "appears twice",
        ),
    ],
)
def test_malformed_presets_give_a_clear_error(text: str, complaint: str) -> None:
    with pytest.raises(PresetError, match=r"^sqlite\.json: ") as info:
        parse_presets(text)
    assert complaint in str(info.value)


def test_preset_sql_may_be_a_list_of_lines() -> None:
    (preset,) = parse_presets(
        '{"presets": [{"name": "a", "description": "d", "sql": ["SELECT 1", "FROM t"]}]}'
    )
    assert preset.sql == "SELECT 1\nFROM t"


# --- read-only ----------------------------------------------------------------------------------------------

DESTRUCTIVE = [
    "DELETE FROM customers",
    "DELETE FROM customers WHERE id = 1 RETURNING id",
    "DROP TABLE orders",
    "DROP INDEX orders_customer",
    "INSERT INTO products VALUES (999999, 'x', 'y', 1.0)",
    "REPLACE INTO products VALUES (1, 'x', 'y', 1.0)",
    "UPDATE products SET price = 0",
    "WITH doomed AS (SELECT id FROM orders) DELETE FROM orders WHERE id IN doomed",
    "CREATE TABLE graffiti (x)",
    "CREATE TEMP TABLE scratch (x)",
    "CREATE INDEX products_price ON products(price)",
    "CREATE VIEW v AS SELECT 1",
    "CREATE TRIGGER t AFTER INSERT ON products BEGIN DELETE FROM orders; END",
    "ALTER TABLE products RENAME TO goods",
    "ALTER TABLE products ADD COLUMN colour TEXT",
    "ATTACH DATABASE '{dir}/attached.sqlite3' AS other",
    "DETACH DATABASE main",
    "PRAGMA writable_schema = ON",
    "PRAGMA user_version = 42",
    "PRAGMA journal_mode = WAL",
    "PRAGMA query_only = OFF",
    "PRAGMA optimize",
    "VACUUM",
    "VACUUM INTO '{dir}/copy.sqlite3'",
    "REINDEX",
    "ANALYZE",
    "BEGIN EXCLUSIVE",
    "SAVEPOINT s1",
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("statement", DESTRUCTIVE)
def test_destructive_statements_are_refused_and_the_file_is_untouched(
    demo_copy: Path, mode: str, statement: str
) -> None:
    folder = demo_copy.parent
    before = sha256(demo_copy)
    result = run(mode, demo_copy, statement.format(dir=folder), QueryOptions(copies=2))
    assert result.failed_count == 2
    for item in result.items:
        assert item.error.startswith("read-only: "), item.error
        assert "is not allowed" in item.error
    assert sha256(demo_copy) == before
    assert sorted(p.name for p in folder.iterdir()) == [
        "demo.sqlite3"
    ]  # no -journal, -wal, copies, attachments
    assert_no_aiosqlite_threads_left()


@pytest.mark.parametrize("mode", MODES)
def test_several_statements_at_once_are_refused(demo_copy: Path, mode: str) -> None:
    before = sha256(demo_copy)
    result = run(mode, demo_copy, "SELECT 1; DELETE FROM customers")
    assert result.items[0].error == "only one statement at a time"
    assert sha256(demo_copy) == before


@pytest.mark.parametrize("mode", MODES)
def test_reads_are_allowed_including_read_only_pragmas(demo_copy: Path, mode: str) -> None:
    before = sha256(demo_copy)
    for sql in (
        "PRAGMA table_info(orders)",
        "PRAGMA user_version",
        "PRAGMA integrity_check",
        "EXPLAIN QUERY PLAN SELECT * FROM orders",
        "SELECT 1 -- done",
    ):
        result = run(mode, demo_copy, sql)
        assert result.status == "ok", (sql, result.items[0].error)
    assert sha256(demo_copy) == before
    assert sorted(p.name for p in demo_copy.parent.iterdir()) == ["demo.sqlite3"]


def test_a_writable_connection_could_have_done_the_damage(demo_copy: Path) -> None:
    """Guards the test above: the same statements really do change the file when nothing stops them."""
    before = sha256(demo_copy)
    conn = sqlite3.connect(demo_copy)
    conn.execute("DELETE FROM customers")
    conn.commit()
    conn.close()
    assert sha256(demo_copy) != before


def test_open_readonly_never_creates_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite3"
    with pytest.raises(FileNotFoundError):
        open_readonly(missing)
    # Even past our own check, mode=ro makes SQLite refuse rather than create.
    with pytest.raises(sqlite3.OperationalError) as info:
        sqlite3.connect(sq._readonly_uri(missing), uri=True).close()
    assert describe_error(info.value, missing) == f"file not found: {missing}"
    assert list(tmp_path.iterdir()) == []


# --- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELEC * FROM orders", 'syntax error: near "SELEC": syntax error'),
        ("SELECT * FROM", "syntax error: incomplete input"),
        ("SELECT * FROM nope", "no such table: nope"),
        ("SELECT colour FROM products", "no such column: colour"),
        ("SELECT 1; SELECT 2", "only one statement at a time"),
    ],
)
def test_query_errors_are_specific_and_are_data(demo: Path, mode: str, sql: str, error: str) -> None:
    reported: dict[int, ItemResult] = {}
    result = run(mode, demo, sql, QueryOptions(copies=2), reported.__setitem__)
    assert result.status == "partial" and result.error is None
    assert [item.error for item in result.items] == [error, error]
    assert all(not item.ok for item in reported.values()) and sorted(reported) == [0, 1]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sql", ["", "   \n ", "-- just a comment", "/* nothing */ ;"])
def test_empty_query_is_a_failed_run(demo: Path, mode: str, sql: str) -> None:
    result = run(mode, demo, sql)
    assert result.status == "failed" and result.error == "empty query" and result.items == ()


@pytest.mark.parametrize("mode", MODES)
def test_missing_file_is_a_failed_run_and_is_not_created(tmp_path: Path, mode: str) -> None:
    missing = tmp_path / "missing.sqlite3"
    result = run(mode, missing, "SELECT 1")
    assert result.status == "failed" and result.error == f"file not found: {missing}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_text_file_is_not_a_database(tmp_path: Path, mode: str) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("dear diary, today I learned about event loops\n" * 100)
    before = sha256(text)
    result = run(mode, text, "SELECT * FROM orders", QueryOptions(copies=2))
    assert [item.error for item in result.items] == [f"not a database: {text}"] * 2
    assert sha256(text) == before and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert_no_aiosqlite_threads_left()


@pytest.mark.parametrize("mode", MODES)
def test_an_empty_file_is_not_a_database_and_stays_empty(tmp_path: Path, mode: str) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    result = run(mode, empty, "SELECT 1")
    assert result.status == "failed" and result.error == f"not a database: {empty} is an empty file"
    assert empty.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite3"]


@pytest.mark.parametrize("mode", MODES)
def test_database_is_locked(demo_copy: Path, mode: str) -> None:
    writer = sqlite3.connect(demo_copy, isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")  # holds the file's exclusive lock: nobody may even read
        result = run(
            mode, demo_copy, "SELECT count(*) FROM orders", QueryOptions(copies=2, busy_timeout_s=0.05)
        )
        assert [item.error for item in result.items] == ["database is locked"] * 2
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert run(mode, demo_copy, "SELECT count(*) FROM orders").status == "ok"  # and it was only the lock
    assert_no_aiosqlite_threads_left()


@pytest.mark.parametrize("mode", MODES)
def test_time_limit_interrupts_a_runaway_query(demo: Path, mode: str) -> None:
    result = run(mode, demo, ENDLESS, QueryOptions(copies=2, time_limit_s=0.2))
    assert [item.error for item in result.items] == ["query exceeded the 0.2 s limit"] * 2
    assert_no_aiosqlite_threads_left()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("opts", "complaint"),
    [
        (QueryOptions(copies=0), "copies"),
        (QueryOptions(copies=17), "copies"),
        (QueryOptions(copies=2.0), "copies"),  # type: ignore[arg-type]
        (QueryOptions(copies=True), "copies"),  # type: ignore[arg-type]
        (QueryOptions(row_cap=-1), "row cap"),
        (QueryOptions(time_limit_s=0), "time limit"),
        (QueryOptions(time_limit_s=float("nan")), "time limit"),
        (QueryOptions(time_limit_s="60"), "time limit"),  # type: ignore[arg-type]
        (QueryOptions(busy_timeout_s=-1), "busy timeout"),
        (None, "QueryOptions"),
        ({"copies": 2}, "QueryOptions"),
    ],
)
def test_invalid_options_give_a_failed_run(demo: Path, mode: str, opts: object, complaint: str) -> None:
    result = run(mode, demo, "SELECT 1", opts)  # type: ignore[arg-type]
    assert result.status == "failed" and complaint in result.error and result.items == ()
    assert result.workload == "sqlite" and result.mode == mode


@pytest.mark.parametrize("mode", MODES)
def test_non_text_query_and_bad_path_give_a_failed_run(demo: Path, tmp_path: Path, mode: str) -> None:
    assert run(mode, demo, None).error == "the query must be text"  # type: ignore[arg-type]
    assert run(mode, tmp_path, "SELECT 1").error == f"not a database: {tmp_path} is not a file"


# --- cancellation -------------------------------------------------------------------------------------------


def test_cancelling_the_async_run_interrupts_the_queries(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copies = 2
    stepping: set[int] = set()
    all_stepping = threading.Event()
    original = sq._Guard.progress

    def watched(guard: sq._Guard) -> int:  # SQLite calls this from inside the running query
        stepping.add(id(guard))
        if len(stepping) == copies:
            all_stepping.set()
        return original(guard)

    monkeypatch.setattr(sq._Guard, "progress", watched)
    reported: dict[int, ItemResult] = {}

    async def scenario() -> None:
        task = asyncio.create_task(
            query_async(demo, ENDLESS, QueryOptions(copies=copies), reported.__setitem__)
        )
        while not all_stepping.is_set():  # both queries are running inside SQLite now
            assert not task.done()
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            # Failure guard, not a measurement: an uninterrupted query would run for minutes.
            await asyncio.wait_for(task, timeout=30)

    asyncio.run(scenario())
    assert sorted(reported) == [0, 1]
    for item in reported.values():
        assert item.error == CANCELLED and not item.ok
        assert 0 <= item.started < item.ended
    row = cancelled_run(
        "sqlite", "async", ["copy 1", "copy 2"], reported, max(i.ended for i in reported.values())
    )
    assert row.status == "cancelled"
    assert_no_aiosqlite_threads_left()


@pytest.mark.parametrize("yields", [0, 1, 2, 3, 5, 8])
def test_cancelling_before_the_query_starts_still_stops_it(
    demo: Path, yields: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancel while connections are still opening: each one must still be stopped, closed and reported."""
    thread_errors: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", thread_errors.append)
    reported: dict[int, ItemResult] = {}

    async def scenario() -> None:
        task = asyncio.create_task(query_async(demo, ENDLESS, QueryOptions(copies=3), reported.__setitem__))
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)

    asyncio.run(scenario())
    # Copies that had begun are reported cancelled; one that never began is left for cancelled_run to fill in.
    assert set(reported) <= {0, 1, 2}
    assert all(item.error == CANCELLED and item.started <= item.ended for item in reported.values())
    assert_no_aiosqlite_threads_left()
    assert thread_errors == []  # e.g. no "Event loop is closed" from a thread nobody waited for


def test_a_query_that_interrupt_missed_is_still_stopped(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """interrupt() only hits a statement already running. Simulate a miss: the guard still stops it."""
    import aiosqlite

    async def missed(self: aiosqlite.Connection) -> None:
        return None

    monkeypatch.setattr(aiosqlite.Connection, "interrupt", missed)
    started = threading.Event()
    original = sq._Guard.progress
    monkeypatch.setattr(sq._Guard, "progress", lambda guard: started.set() or original(guard))
    reported: dict[int, ItemResult] = {}

    async def scenario() -> None:
        task = asyncio.create_task(query_async(demo, ENDLESS, QueryOptions(), reported.__setitem__))
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)

    asyncio.run(scenario())
    assert reported[0].error == CANCELLED
    assert_no_aiosqlite_threads_left()


def test_no_threads_left_after_ordinary_runs(demo: Path, tmp_path: Path) -> None:
    text = tmp_path / "x.txt"
    text.write_text("x" * 1000)
    for db, sql in [(demo, "SELECT 1"), (demo, "SELEC"), (text, "SELECT 1"), (demo, "DROP TABLE orders")]:
        asyncio.run(query_async(db, sql, QueryOptions(copies=3)))
    assert_no_aiosqlite_threads_left()
