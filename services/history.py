"""Persistent run history: every finished, failed or cancelled run, kept in SQLite so the record survives.

One file, ``history.sqlite3``, in the app's data directory, opened in WAL mode (a reader - say a second Freeze
Lab window - never blocks the writer, and a crash mid-write can't leave a half-written run). The rule for the
GUI is simple: ``History.open()`` and ``History.add()`` never raise. Whatever goes wrong becomes a sentence in
``History.notice`` the window can show:

* a corrupt file, or one from a newer Freeze Lab, is moved aside (``history.sqlite3.corrupt-YYYYmmdd-HHMMSS``
  or ``.newer-...``, with its ``-wal``/``-shm``) and a fresh history started;
* a data directory that can't be created or written means a history in memory only, for this session;
* a database locked by another program: ``add()`` waits ``busy_timeout_s``, then keeps the run in a pending
  queue and writes it with the next ``add()`` or ``flush()``. A run is never dropped on the floor.

Schema (version ``SCHEMA_VERSION``, kept in ``PRAGMA user_version``; ``PRAGMA application_id`` marks the
file as ours)::

    runs   id INTEGER PRIMARY KEY         -- insertion order: the oldest run has the smallest id
           workload, mode, scenario TEXT
           status TEXT                    -- ok | partial | failed | cancelled (derived, for browsing in SQL)
           cancelled INTEGER (0/1), error TEXT
           wall_s REAL, started_at REAL   -- started_at: wall-clock epoch seconds
           max_stall_ms REAL, p99_stall_ms REAL, missed_frames INTEGER, blocked_in TEXT
           stalls TEXT                    -- JSON [[from, to], ...], seconds on the run's own clock
           params TEXT                    -- JSON object
           item_count INTEGER, ok_count INTEGER   (derived, for browsing in SQL)
    items  (run_id -> runs.id, idx) PRIMARY KEY   -- idx: position in RunResult.items
           label TEXT, ok INTEGER (0/1), seconds REAL, started REAL, ended REAL, error TEXT
           detail TEXT                    -- JSON object

JSON columns use a small tagged encoding so a run reads back *equal* to the one stored, even when ``detail``
holds values JSON has no word for: a tuple is ``{"__tuple__": [...]}``, bytes ``{"__bytes__": "<base64>"}``,
NaN/inf ``{"__float__": "nan"}``, a dict with non-text keys ``{"__dict__": [[key, value], ...]}``. Anything
else (a Path, an exception...) is stored as its ``str()`` - readable, though it comes back as text.

Exporting runs to CSV and JSON lives in ``services.export``; the tagged JSON codec in ``services.jsontags``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from services.jsontags import dumps as _dumps
from services.jsontags import loads as _loads
from services.jsontags import loads_list as _loads_list
from services.runs import ItemResult, RunResult

log = logging.getLogger(__name__)

FILE_NAME = "history.sqlite3"
SCHEMA_VERSION = 1
APPLICATION_ID = 0x465A4C42  # "FZLB": tells our file apart from any other SQLite database at that path
DEFAULT_BUSY_TIMEOUT_S = 2.0  # how long add() waits for another program's write lock (on the GUI thread!)
CLOSE_BUSY_TIMEOUT_S = 0.25  # close() must not hold up quitting: one short last try for pending runs
PENDING_ID = 0  # what add() returns for a run that is queued, not yet written (real ids start at 1)

_RUN_COLUMNS = (
    "workload, mode, scenario, status, cancelled, error, wall_s, started_at, max_stall_ms, p99_stall_ms, "
    "missed_frames, blocked_in, stalls, params, item_count, ok_count"
)
_ITEM_COLUMNS = "label, ok, seconds, started, ended, error, detail"
_INSERT_RUN = f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({', '.join('?' * 16)})"
_INSERT_ITEM = f"INSERT INTO items (run_id, idx, {_ITEM_COLUMNS}) VALUES ({', '.join('?' * 9)})"

_SCHEMA = f"""
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    workload      TEXT NOT NULL,
    mode          TEXT NOT NULL,
    scenario      TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    cancelled     INTEGER NOT NULL,
    error         TEXT,
    wall_s        REAL,
    started_at    REAL,
    max_stall_ms  REAL,
    p99_stall_ms  REAL,
    missed_frames INTEGER,
    blocked_in    TEXT,
    stalls        TEXT NOT NULL,
    params        TEXT NOT NULL,
    item_count    INTEGER NOT NULL,
    ok_count      INTEGER NOT NULL
);
CREATE TABLE items (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    idx     INTEGER NOT NULL,
    label   TEXT NOT NULL,
    ok      INTEGER NOT NULL,
    seconds REAL,
    started REAL,
    ended   REAL,
    error   TEXT,
    detail  TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {SCHEMA_VERSION};
"""
# (REAL columns may be NULL: SQLite stores a NaN as NULL, and a NaN must not make a run unsavable.)
_SCHEMA_STATEMENTS = [s.strip() for s in _SCHEMA.split(";") if s.strip()]


class _Unusable(Exception):
    """The file at our path is not a history we can use: move it aside as ``kind`` and start afresh."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind  # "corrupt" | "newer": part of the moved-aside file's name
        self.reason = reason  # completes "The history file ..."


class History:
    """The run history. Create it with :meth:`History.open`; use it from one thread at a time (it locks)."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None, notice: str | None = None) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()
        # Runs not written yet (the database was locked or failing), already encoded, oldest first.
        self._pending: list[tuple[RunResult, tuple[Any, ...], list[tuple[Any, ...]]]] = []
        self._write_failed = False  # the last write failed: say so when one succeeds again
        self.path = path  # the database file, or None for a history kept in memory
        self.notice = notice  # the latest message worth showing the user, or None
        # Called with each later message (open()'s own message is in .notice). Set it after open().
        self.on_notice: Callable[[str], None] | None = None

    # --- opening --------------------------------------------------------------------------------------------
    @classmethod
    def open(
        cls, data_dir: str | os.PathLike[str], *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S
    ) -> History:
        """Open (or create) ``data_dir/history.sqlite3``. Never raises: problems end up in ``.notice``."""
        try:
            return cls._open(Path(data_dir), busy_timeout_s)
        except Exception as exc:  # a last resort: open() is called at start-up and must not stop the app
            log.exception("history: unexpected failure opening %s", data_dir)
            return cls._in_memory(f"{type(exc).__name__}: {exc}", busy_timeout_s)

    @classmethod
    def _open(cls, data_dir: Path, busy_timeout_s: float) -> History:
        path = data_dir / FILE_NAME
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = f"cannot create the data folder {data_dir} ({_os_reason(exc)})"
            return cls._in_memory(reason, busy_timeout_s)
        notice = None
        try:
            conn = _connect_file(path, busy_timeout_s)
        except _Unusable as bad:
            try:
                aside = _move_aside(path, bad.kind)
            except OSError as exc:
                return cls._in_memory(
                    f"the history file {path} {bad.reason} and could not be moved aside ({_os_reason(exc)})",
                    busy_timeout_s,
                )
            notice = f"The history file {bad.reason}. It was moved to {aside} and a new history was started."
            log.warning("history: %s", notice)
            try:
                conn = _connect_file(path, busy_timeout_s)
            except (_Unusable, sqlite3.Error, OSError) as exc:
                reason = f"{notice} But the new file could not be opened either ({exc})"
                return cls._in_memory(reason, busy_timeout_s)
        except (sqlite3.Error, OSError) as exc:
            if not os.access(data_dir, os.W_OK):  # SQLite only says "unable to open database file"
                reason = f"the data folder {data_dir} is not writable"
            else:
                reason = f"cannot use {path} ({_sqlite_reason(exc)})"
            history = cls._in_memory(reason, busy_timeout_s)
            history._copy_past_runs(path)
            return history
        return cls(conn, path, notice)

    @classmethod
    def _in_memory(cls, reason: str, busy_timeout_s: float) -> History:
        notice = f"History is kept in memory only: {reason}"
        log.warning("history: %s", notice)
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        for statement in _SCHEMA_STATEMENTS:
            conn.execute(statement)
        return cls(conn, None, notice)

    def _copy_past_runs(self, path: Path) -> None:
        """A history that can be read but not written (a read-only file or folder): still show its runs."""
        if not path.exists():
            return
        try:
            # immutable=1: read it as a plain file, without the -shm a read-only folder can't hold.
            check = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True)
            try:
                _check_file(check)
                past = self._load_stored(check, None)
            finally:
                check.close()
        except (_Unusable, sqlite3.Error, OSError) as exc:
            log.warning("history: past runs in %s not readable either: %s", path, exc)
            return
        for run in past:
            self.add(run)
        if past:
            self.notice = f"{self.notice}. Its {len(past)} earlier runs are shown; new runs are not saved."

    @property
    def in_memory(self) -> bool:
        return self.path is None

    @property
    def pending(self) -> int:
        """How many runs are waiting to be written (the database was locked or failing)."""
        return len(self._pending)

    # --- writing --------------------------------------------------------------------------------------------
    def add(self, run: RunResult) -> int:
        """Store ``run`` and its items in one transaction; return its id, or ``PENDING_ID`` if it had to wait.

        Runs that were waiting are written first, so ids stay in the order the runs ended. Never raises.
        """
        with self._lock:
            try:
                encoded = (run, _run_row(run), _item_rows(run))
            except Exception as exc:  # the encoders are total; this is a belt-and-braces guard
                log.exception("history: could not encode a run")
                self._say(f"A run could not be saved to the history ({type(exc).__name__}: {exc}).")
                return PENDING_ID
            self._pending.append(encoded)
            ids = self._write_pending()
            return ids[-1] if ids else PENDING_ID

    def flush(self) -> int:
        """Try to write the runs that are waiting. Returns how many are still waiting (0: all saved)."""
        with self._lock:
            if self._pending:
                self._write_pending()
            return len(self._pending)

    def _write_pending(self) -> list[int]:
        """Write every pending run in ONE transaction (all or none). Returns their ids, or [] if it failed."""
        conn = self._conn
        if conn is None:
            self._say(f"The history is closed: {self._waiting_text()}.")
            return []
        ids: list[int] = []
        try:
            # IMMEDIATE takes the write lock up front, so the busy timeout applies here and nowhere else.
            conn.execute("BEGIN IMMEDIATE")
            try:
                for _run, run_row, item_rows in self._pending:
                    run_id = conn.execute(_INSERT_RUN, run_row).lastrowid
                    assert run_id is not None
                    conn.executemany(_INSERT_ITEM, [(run_id, idx, *row) for idx, row in enumerate(item_rows)])
                    ids.append(run_id)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            log.warning("history: write failed: %s", exc)
            self._write_failed = True
            self._say(f"History not saved yet ({_sqlite_reason(exc)}): {self._waiting_text()}.")
            return []
        self._pending.clear()
        if self._write_failed:
            self._write_failed = False
            self._say(f"History saved again: {len(ids)} waiting run{'s' if len(ids) != 1 else ''} written.")
        return ids

    def _waiting_text(self) -> str:
        n = len(self._pending)
        return f"{n} run{'s' if n != 1 else ''} waiting, kept in memory and saved with the next run"

    def delete_all(self) -> bool:
        """Forget every run, stored or waiting. Returns False (with a notice) if the database refused."""
        with self._lock:
            conn = self._conn
            if conn is None:
                self._pending.clear()
                return True
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.execute("DELETE FROM items")
                    conn.execute("DELETE FROM runs")
                    conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._say(f"The history could not be cleared ({_sqlite_reason(exc)}).")
                return False
            self._pending.clear()
            return True

    # --- reading --------------------------------------------------------------------------------------------
    def load(self, limit: int | None = None) -> list[RunResult]:
        """The stored runs (and any still waiting), oldest first; with ``limit``, only the newest ``limit``.

        Never raises: if the database can't be read, the waiting runs come back and ``.notice`` says why.
        """
        with self._lock:
            waiting = [run for run, _, _ in self._pending]
            if limit is not None and limit <= 0:
                return []
            stored: list[RunResult] = []
            want = None if limit is None else max(0, limit - len(waiting))
            if self._conn is not None and want != 0:
                try:
                    stored = self._load_stored(self._conn, want)
                except sqlite3.Error as exc:
                    self._say(f"The history could not be read ({_sqlite_reason(exc)}).")
            runs = stored + waiting
            return runs if limit is None else runs[-limit:]

    @staticmethod
    def _load_stored(conn: sqlite3.Connection, limit: int | None) -> list[RunResult]:
        sql = f"SELECT id, {_RUN_COLUMNS} FROM runs ORDER BY id DESC"
        run_rows = conn.execute(sql + " LIMIT ?", (limit,) if limit else (-1,)).fetchall()
        run_rows.reverse()  # oldest first
        if not run_rows:
            return []
        items: dict[int, list[ItemResult]] = {row[0]: [] for row in run_rows}
        cursor = conn.execute(
            f"SELECT run_id, {_ITEM_COLUMNS} FROM items WHERE run_id >= ? ORDER BY run_id, idx",
            (run_rows[0][0],),
        )
        for run_id, label, ok, seconds, started, ended, error, detail in cursor:
            if run_id in items:
                times = _num(seconds), _num(started), _num(ended)
                items[run_id].append(ItemResult(label, bool(ok), *times, error, _loads(detail)))
        return [_run_from_row(row, items[row[0]]) for row in run_rows]

    # --- closing --------------------------------------------------------------------------------------------
    def close(self) -> int:
        """One short last try for waiting runs, then close. Returns how many runs could not be saved."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return len(self._pending)
            if self._pending:
                # Quitting must stay quick: wait at most CLOSE_BUSY_TIMEOUT_S for a lock, not busy_timeout_s.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute(f"PRAGMA busy_timeout = {int(CLOSE_BUSY_TIMEOUT_S * 1000)}")
                self._conn = conn
                self._write_pending()
                self._conn = None
            lost = len(self._pending)
            if lost:
                log.error("history: %d run(s) could not be saved before closing", lost)
            conn.close()
            return lost

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _say(self, message: str) -> None:
        self.notice = message
        if self.on_notice is not None:
            try:
                self.on_notice(message)
            except Exception:  # a broken listener must not turn a saved run into a crash
                log.exception("history: on_notice failed")


# --- opening a file: checks, schema, moving a bad file aside ------------------------------------------------


def _connect_file(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    """Open ``path`` as our history, creating the schema if it is new. Raises _Unusable for a bad file."""
    if path.exists():
        # Check it read-only first: closing a read-write connection may checkpoint or delete a -wal file,
        # and a file we are about to move aside should go exactly as it was.
        check = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=busy_timeout_s)
        try:
            _check_file(check)
        finally:
            check.close()
    # isolation_level=None: no implicit transactions - this module says BEGIN/COMMIT itself.
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit survives the app crashing or being killed; only an OS crash or power
        # loss can drop the last moments. FULL would fsync on every run end - a visible hitch on slow disks.
        conn.execute("PRAGMA synchronous = NORMAL")
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            _create_schema(conn)
        _probe_writable(conn, busy_timeout_s)
        return conn
    except BaseException:
        conn.close()
        raise


def _create_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Look again under the write lock: another Freeze Lab may have created it a moment ago.
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            for statement in _SCHEMA_STATEMENTS:
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def _check_file(conn: sqlite3.Connection) -> None:
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION and app_id in (APPLICATION_ID, 0):
            raise _Unusable(
                "newer",
                f"was written by a newer Freeze Lab (history version {version}; this one reads up to "
                f"{SCHEMA_VERSION})",
            )
        if app_id not in (APPLICATION_ID, 0) or (version == 0 and tables):
            raise _Unusable("corrupt", "is not a Freeze Lab history (it is some other SQLite database)")
        # quick_check reads every page: O(size), fine for a history, and catches damage a SELECT may not.
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise _Unusable("corrupt", f"is damaged (SQLite integrity check: {'; '.join(problems)})")
        if version == SCHEMA_VERSION:  # every column we read and write must be there
            conn.execute(f"SELECT id, {_RUN_COLUMNS} FROM runs LIMIT 0")
            conn.execute(f"SELECT run_id, idx, {_ITEM_COLUMNS} FROM items LIMIT 0")
        # (version < SCHEMA_VERSION, once there is a version 2: migrate here, inside one transaction.)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and _code(exc) not in (sqlite3.SQLITE_ERROR,):
            raise  # locked, can't open, I/O error, read-only...: a problem of access, not of the file
        raise _Unusable("corrupt", f"is not a readable history database ({exc})") from exc


def _probe_writable(conn: sqlite3.Connection, busy_timeout_s: float) -> None:
    """Fail now, not at the first run, if the file can be read but not written (a read-only file or mount).

    A lock held by someone else is fine here (add() queues and retries), so don't wait for it.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:  # a real (rolled back) write: SQLite opens a read-only file without a word, and BEGIN succeeds
            conn.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if _code(exc) not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")


def _move_aside(path: Path, kind: str) -> Path:
    """Rename the file (and its -wal/-shm, so the copy still opens with its last writes) out of the way."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.{kind}-{stamp}")
    n = 1
    while aside.exists():  # two in the same second: don't overwrite the first
        aside = path.with_name(f"{path.name}.{kind}-{stamp}-{n}")
        n += 1
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    return aside


def _code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # primary result code


def _sqlite_reason(exc: BaseException) -> str:
    if isinstance(exc, sqlite3.Error) and _code(exc) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return "the database is locked by another program"
    if isinstance(exc, OSError):
        return _os_reason(exc)
    return str(exc)


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


# --- rows <-> runs ------------------------------------------------------------------------------------------


def _run_row(run: RunResult) -> tuple[Any, ...]:
    return (
        _text(run.workload) or "",
        _text(run.mode) or "",
        _text(run.scenario) or "",
        run.status,
        int(bool(run.cancelled)),
        _text(run.error),
        _real(run.wall_s),
        _real(run.started_at),
        _real(run.max_stall_ms),
        _real(run.p99_stall_ms),
        _int(run.missed_frames),
        _text(run.blocked_in),
        _dumps([list(span) for span in run.stalls]),
        _dumps(run.params),
        len(run.items),
        run.ok_count,
    )


def _item_rows(run: RunResult) -> list[tuple[Any, ...]]:
    return [
        (
            _text(i.label) or "",
            int(bool(i.ok)),
            _real(i.seconds),
            _real(i.started),
            _real(i.ended),
            _text(i.error),
            _dumps(i.detail),
        )
        for i in run.items
    ]


def _run_from_row(row: Sequence[Any], items: list[ItemResult]) -> RunResult:
    (_id, workload, mode, scenario, _status, cancelled, error, wall_s, started_at, max_stall_ms, p99_stall_ms,
     missed_frames, blocked_in, stalls, params, _n, _ok) = row  # fmt: skip
    return RunResult(
        workload=workload,
        mode=mode,
        items=tuple(items),
        wall_s=_num(wall_s),
        cancelled=bool(cancelled),
        error=error,
        scenario=scenario,
        started_at=_num(started_at),
        max_stall_ms=max_stall_ms,
        p99_stall_ms=p99_stall_ms,
        missed_frames=missed_frames,
        blocked_in=blocked_in,
        stalls=_loads_list(stalls),
        params=_loads(params),
    )


# Column coercion is total: whatever a workload put in a field, the row binds (no run is ever unsavable).
def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def _real(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if math.isnan(number) else number


def _num(value: float | None) -> float:
    """A REAL column read back: NULL was a NaN (or nothing) on the way in."""
    return math.nan if value is None else value


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -(2**63) <= number < 2**63 else None
