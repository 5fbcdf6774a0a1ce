"""SQLite queries two ways: blocking (sqlite3 on the caller's thread) and async (aiosqlite).

The same query runs ``copies`` times:

* ``query_blocking`` runs the copies one after another with :mod:`sqlite3` on the thread that called it.
  Called from a GUI handler, the window cannot repaint until the last row is in: the freeze the student feels.
* ``query_async`` gives every copy its own aiosqlite connection. aiosqlite runs each connection on a thread of
  its own and hands results back to the event loop, so the loop (and the window) stays free, and - because
  sqlite3 lets go of the GIL while SQLite works - the copies really do run at the same time.

Both return the same ``RunResult``. Everything they share - options, the read-only guard, error messages, row
counting - sits above them, so the two functions differ only in the mechanism.

Read-only by construction, three locks deep: the file is opened with ``mode=ro`` (SQLite can't write it),
``PRAGMA query_only`` (SQLite refuses to change anything), and an authorizer that lets only reads be compiled
at all. A student can type ``DROP TABLE orders`` into the box and the file's bytes stay the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import os
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from services.runs import CANCELLED, ItemClock, ItemResult, OnItem, RunResult, failed_run

WORKLOAD = "sqlite"
MAX_COPIES = 16
FETCH_BATCH = 2_000  # rows per fetchmany: one hop to aiosqlite's thread per batch, never one per row
PROGRESS_EVERY = 10_000  # SQLite VM steps between calls of the progress handler (time limit, cancel)


@dataclass(frozen=True)
class QueryOptions:
    copies: int = 1  # how many times to run the query (1..16)
    row_cap: int = 500  # rows kept for display; all rows are still counted
    time_limit_s: float = 60.0  # a query still running after this is interrupted
    busy_timeout_s: float = 5.0  # how long to wait for another connection's write lock

    def problem(self) -> str | None:
        """What is wrong with these options, or None. (Checked by the runs, which then return failed_run.)"""
        if not _is_int(self.copies) or not 1 <= self.copies <= MAX_COPIES:
            return f"copies must be a whole number from 1 to {MAX_COPIES}, got {self.copies!r}"
        if not _is_int(self.row_cap) or not 0 <= self.row_cap <= 100_000:
            return f"row cap must be a whole number from 0 to 100000, got {self.row_cap!r}"
        if not _is_number(self.time_limit_s) or not 0 < self.time_limit_s <= 3600:
            return f"time limit must be more than 0 and at most 3600 s, got {self.time_limit_s!r}"
        if not _is_number(self.busy_timeout_s) or not 0 <= self.busy_timeout_s <= 60:
            return f"busy timeout must be from 0 to 60 s, got {self.busy_timeout_s!r}"
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) and value == value  # not NaN


# --- the read-only guard ------------------------------------------------------------------------------------

# fmt: off
# PRAGMAs that only ever read, whatever their argument (table_info(orders), integrity_check(10), ...).
READ_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
    "foreign_key_check", "database_list", "collation_list", "function_list", "module_list", "pragma_list",
    "compile_options", "integrity_check", "quick_check",
})
# PRAGMAs that read a setting when given no value, and would change it when given one.
SETTING_PRAGMAS = frozenset({
    "user_version", "schema_version", "application_id", "page_size", "page_count", "freelist_count",
    "max_page_count", "encoding", "journal_mode", "auto_vacuum", "data_version", "foreign_keys", "query_only",
    "cache_size", "busy_timeout", "synchronous", "temp_store",
})
# fmt: on
# Everything a plain SELECT needs. Any other action (INSERT, DROP_TABLE, ATTACH, TRANSACTION, ...) is denied.
ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
# The tables where SQLite keeps the schema; a write to one is a CREATE (insert), DROP (delete) or ALTER.
SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"})
_SCHEMA_WRITES = {
    sqlite3.SQLITE_INSERT: "CREATE",
    sqlite3.SQLITE_DELETE: "DROP",
    sqlite3.SQLITE_UPDATE: "ALTER",
}
_ACTION_NAMES = {  # action code -> "DROP TABLE", "INSERT", ... for the error message
    value: name.removeprefix("SQLITE_").replace("_", " ")
    for name, value in vars(sqlite3).items()
    if name.startswith("SQLITE_") and name.isupper() and isinstance(value, int)
    and name not in ("SQLITE_OK", "SQLITE_DENY", "SQLITE_IGNORE")
    and not name.startswith(("SQLITE_LIMIT", "SQLITE_DBCONFIG"))
}  # fmt: skip


class _Guard:
    """Watches one connection: what its SQL may do (authorizer) and how long it may run (progress handler).

    SQLite calls ``authorize`` while compiling a statement and ``progress`` every PROGRESS_EVERY steps while
    running it, on whatever thread runs the query - the GUI thread or aiosqlite's thread.
    """

    def __init__(self, time_limit_s: float) -> None:
        self.time_limit_s = time_limit_s
        self.deadline = time.monotonic() + time_limit_s
        self.denied: str | None = None  # why the authorizer said no (for the error message)
        self.timed_out = False
        self.stopped = False  # set on cancellation

    def authorize(
        self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None
    ) -> int:
        if action in ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name in READ_PRAGMAS or (name in SETTING_PRAGMAS and arg2 is None):
                return sqlite3.SQLITE_OK
            self.denied = f"PRAGMA {name}{'' if arg2 is None else ' = ' + arg2} is not allowed"
        elif action == sqlite3.SQLITE_ATTACH and not arg1:
            self.denied = "VACUUM is not allowed"  # VACUUM works by attaching a fresh copy of the database
        elif (arg1 or "").lower() in SCHEMA_TABLES and action in _SCHEMA_WRITES:
            # CREATE and DROP first ask to write the schema table, before they name themselves: without this,
            # "DROP TABLE orders" would be refused as "DELETE on sqlite_master".
            self.denied = f"{_SCHEMA_WRITES[action]} is not allowed (it would change the schema)"
        else:
            what = _ACTION_NAMES.get(action, f"action {action}")
            if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE):
                what += f" on {arg1}"  # e.g. "DELETE on customers"
            self.denied = f"{what} is not allowed"
        return sqlite3.SQLITE_DENY

    def progress(self) -> int:
        """Non-zero stops the running statement (it fails with "interrupted")."""
        if self.stopped:
            return 1
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0

    def stop(self) -> None:
        # interrupt() only hits a statement that is already running; this also stops one that starts later.
        self.stopped = True


def _readonly_uri(path: Path) -> str:
    # mode=ro: lock 1. SQLite opens the file read-only and never creates it (or a journal next to it).
    return f"{path.absolute().as_uri()}?mode=ro"


def open_readonly(
    db_path: str | os.PathLike[str], guard: _Guard | None = None, busy_timeout_s: float = 5.0
) -> sqlite3.Connection:
    """A sqlite3 connection that can only read ``db_path``. FileNotFoundError if there is no such file."""
    path = _existing(db_path)
    conn = sqlite3.connect(_readonly_uri(path), uri=True, timeout=busy_timeout_s)
    try:
        _harden(conn, guard or _Guard(3600))
    except BaseException:
        conn.close()
        raise
    return conn


def _harden(conn: sqlite3.Connection, guard: _Guard) -> None:
    # Opening is lazy: SQLite reads nothing until a statement needs the file, so "SELECT 1" would succeed on
    # any file at all. Read the header now, so a file that is not a database fails whatever the query.
    conn.execute("PRAGMA schema_version").fetchall()
    conn.execute("PRAGMA query_only = ON")  # lock 2: SQLite itself refuses any change
    conn.set_authorizer(guard.authorize)  # lock 3: only reads compile at all (so it comes after the PRAGMA)
    conn.set_progress_handler(guard.progress, PROGRESS_EVERY)  # time limit and cancel


async def open_readonly_async(
    db_path: str | os.PathLike[str], guard: _Guard | None = None, busy_timeout_s: float = 5.0
) -> aiosqlite.Connection:
    """The same read-only connection, through aiosqlite (which opens it on a new thread of its own)."""
    path = _existing(db_path)
    conn = aiosqlite.connect(_readonly_uri(path), uri=True, timeout=busy_timeout_s)

    async def open_and_harden() -> aiosqlite.Connection:
        await conn  # starts the connection's thread and opens the file there
        try:
            await _harden_async(conn, guard or _Guard(3600))
        except BaseException:
            await conn.close()  # otherwise its thread would keep the process alive
            raise
        return conn

    opening = asyncio.ensure_future(open_and_harden())
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        # Cancelled half-way through opening: the thread is already started. Let the opening finish, then
        # close properly - an abandoned connection thread would later call back into a closed event loop.
        with contextlib.suppress(Exception):
            await opening
        await conn.close()
        raise


async def _harden_async(conn: aiosqlite.Connection, guard: _Guard) -> None:
    await conn.execute_fetchall("PRAGMA schema_version")  # (see _harden)
    await conn.execute("PRAGMA query_only = ON")
    await conn.set_authorizer(guard.authorize)
    await conn.set_progress_handler(guard.progress, PROGRESS_EVERY)


def _existing(db_path: str | os.PathLike[str]) -> Path:
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    return path


# --- shared by both runs: input checks, error messages, row counting ----------------------------------------

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(\*/|$)", re.DOTALL)


def check_query(db_path: Any, sql: Any, opts: Any) -> str | None:
    """Why this run cannot start, or None. Both runs call it first and turn an answer into failed_run."""
    if not isinstance(opts, QueryOptions):
        return "options must be QueryOptions"
    if (problem := opts.problem()) is not None:
        return problem
    if not isinstance(sql, str):
        return "the query must be text"
    if not _COMMENTS.sub("", sql).replace(";", "").strip():
        return "empty query"
    if not isinstance(db_path, str | os.PathLike) or not str(db_path):
        return "no database file given"
    path = Path(db_path)
    if not path.exists():
        return f"file not found: {path}"
    if not path.is_file():
        return f"not a database: {path} is not a file"
    if path.stat().st_size == 0:
        return f"not a database: {path} is an empty file"
    return None


def describe_error(exc: BaseException, db_path: str | os.PathLike[str], guard: _Guard | None = None) -> str:
    """One specific, human message for anything that went wrong in a query - used by both runs."""
    path = str(db_path)
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {path}"
    if guard is not None and guard.denied:
        return f"read-only: {guard.denied}"
    text = str(exc)
    low = text.lower()
    if guard is not None and "interrupted" in low:
        if guard.timed_out:
            return f"query exceeded the {guard.time_limit_s:g} s limit"
        if guard.stopped:
            return CANCELLED
    if isinstance(exc, sqlite3.ProgrammingError) and "one statement at a time" in low:
        return "only one statement at a time"
    if "syntax error" in low or "incomplete input" in low:
        return f"syntax error: {text}"  # e.g. syntax error: near "SELEC": syntax error
    if "file is not a database" in low:
        return f"not a database: {path}"
    if "malformed" in low:
        return f"not a database: {path} is damaged ({text})"
    if "database is locked" in low or "database table is locked" in low:
        return "database is locked"
    if "readonly database" in low or "not authorized" in low or "authorization denied" in low:
        return f"read-only: {text}"
    if "unable to open database file" in low:
        return f"file not found: {path}" if not os.path.exists(path) else f"cannot open: {path}"
    return text or type(exc).__name__  # e.g. "no such table: X", "no such column: y"


def _display(value: Any) -> Any:
    """A value safe to put in a table cell and in JSON: no raw bytes, no megabyte strings."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, str) and len(value) > 200:
        return value[:199] + "…"
    return value


class _Rows:
    """Counts every row of a result but keeps only the first ``cap`` for display."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.count = 0
        self.kept: list[tuple] = []
        self.columns: list[str] = []

    def start(self, description: Sequence[Sequence[Any]] | None) -> None:
        self.columns = [column[0] for column in description or ()]

    def add(self, batch: Sequence[Sequence[Any]]) -> None:
        self.count += len(batch)
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept.extend(tuple(_display(v) for v in row) for row in batch[:room])

    def detail(self) -> dict[str, Any]:
        truncated = self.count > len(self.kept)
        return {"rows": self.count, "columns": self.columns, "first_rows": self.kept, "truncated": truncated}


def _label(index: int) -> str:
    return f"copy {index + 1}"


def _params(db_path: Any, sql: Any, opts: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"db": str(db_path), "sql": sql if isinstance(sql, str) else repr(sql)}
    if isinstance(opts, QueryOptions):
        params.update(copies=opts.copies, row_cap=opts.row_cap, time_limit_s=opts.time_limit_s)
    return params


# --- blocking: sqlite3, one copy after another, on the caller's thread -------------------------------------


def query_blocking(
    db_path: str | os.PathLike[str], sql: str, opts: QueryOptions, on_item: OnItem | None = None
) -> RunResult:
    """Run ``sql`` ``opts.copies`` times, one after another, on this thread. Freezes a GUI that calls it."""
    if (problem := check_query(db_path, sql, opts)) is not None:
        return failed_run(WORKLOAD, "blocking", problem, **_params(db_path, sql, opts))
    clock = ItemClock()
    items = []
    for i in range(opts.copies):
        started = clock.now()
        guard = _Guard(opts.time_limit_s)
        rows = _Rows(opts.row_cap)
        try:
            with contextlib.closing(open_readonly(db_path, guard, opts.busy_timeout_s)) as conn:
                cursor = conn.execute(sql)  # SQLite works here - this thread waits
                rows.start(cursor.description)
                while batch := cursor.fetchmany(FETCH_BATCH):
                    rows.add(batch)
            item = clock.item(_label(i), started, ok=True, **rows.detail())
        except Exception as exc:  # a failing copy is data, not a crash
            item = clock.item(_label(i), started, ok=False, error=describe_error(exc, db_path, guard))
        items.append(item)
        if on_item is not None:
            on_item(i, item)
    return RunResult(WORKLOAD, "blocking", tuple(items), clock.now(), params=_params(db_path, sql, opts))


# --- async: aiosqlite, one connection (= one thread) per copy, all copies at once ---------------------------


async def query_async(
    db_path: str | os.PathLike[str], sql: str, opts: QueryOptions, on_item: OnItem | None = None
) -> RunResult:
    """Run ``sql`` ``opts.copies`` times at once, one aiosqlite connection each. The event loop stays free."""
    if (problem := check_query(db_path, sql, opts)) is not None:
        return failed_run(WORKLOAD, "async", problem, **_params(db_path, sql, opts))
    clock = ItemClock()

    async def one_copy(i: int) -> ItemResult:
        started = clock.now()
        guard = _Guard(opts.time_limit_s)
        rows = _Rows(opts.row_cap)
        conn: aiosqlite.Connection | None = None
        try:
            conn = await open_readonly_async(db_path, guard, opts.busy_timeout_s)
            cursor = await conn.execute(sql)  # SQLite works on the connection's thread - the loop is free
            rows.start(cursor.description)
            while batch := await cursor.fetchmany(FETCH_BATCH):
                rows.add(batch)
            item = clock.item(_label(i), started, ok=True, **rows.detail())
        except asyncio.CancelledError:
            # Cancelling this coroutine does not stop SQLite: the query would go on running on the
            # connection's thread (and close() would wait for it). Interrupt it, then report and re-raise.
            guard.stop()
            if conn is not None:
                await conn.interrupt()
            if on_item is not None:
                on_item(i, clock.item(_label(i), started, ok=False, error=CANCELLED))
            raise
        except Exception as exc:
            item = clock.item(_label(i), started, ok=False, error=describe_error(exc, db_path, guard))
        finally:
            if conn is not None:
                await conn.close()  # ends the connection's thread: a forgotten one hangs the process at exit
        if on_item is not None:
            on_item(i, item)
        return item

    # A TaskGroup, not a bare gather: if this run is cancelled, the group cancels every copy and waits until
    # each has interrupted its query and closed its connection. (gather would return at the first cancelled
    # copy and leave the others still cleaning up.)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one_copy(i)) for i in range(opts.copies)]
    items = tuple(task.result() for task in tasks)
    return RunResult(WORKLOAD, "async", items, clock.now(), params=_params(db_path, sql, opts))


# --- preset queries -----------------------------------------------------------------------------------------


class PresetError(ValueError):
    """The preset file is missing or malformed."""


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    sql: str


def sqlite_presets() -> tuple[Preset, ...]:
    """The named queries against the demo database, from resources/presets/sqlite.json."""
    try:
        text = importlib.resources.files("resources.presets").joinpath("sqlite.json").read_text("utf-8")
    except (OSError, ModuleNotFoundError) as exc:
        raise PresetError(f"sqlite.json: cannot read the preset file ({exc})") from exc
    return parse_presets(text)


def parse_presets(text: str, source: str = "sqlite.json") -> tuple[Preset, ...]:
    """Presets from ``{"presets": [{"name", "description", "sql"}, ...]}``; ``sql`` may be a list of lines."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PresetError(f"{source}: not valid JSON ({exc})") from exc
    entries = data.get("presets") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise PresetError(f'{source}: expected an object with a non-empty "presets" list')
    presets = []
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise PresetError(f"{source}: preset #{n} is not an object")
        sql = entry.get("sql")
        if isinstance(sql, list) and all(isinstance(line, str) for line in sql):
            sql = "\n".join(sql)
        fields = {"name": entry.get("name"), "description": entry.get("description"), "sql": sql}
        for key, value in fields.items():
            if not isinstance(value, str) or not value.strip():
                raise PresetError(f'{source}: preset #{n} needs a non-empty text "{key}"')
        if any(p.name == fields["name"] for p in presets):
            raise PresetError(f'{source}: preset name "{fields["name"]}" appears twice')
        presets.append(Preset(**fields))
    return tuple(presets)
