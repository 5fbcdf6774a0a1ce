"""Run history: round trips, WAL, a bad file moved aside, no writable folder, a locked database, exports."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import re
import sqlite3
from pathlib import Path

import pytest

from services import export as export_module
from services import history as history_module
from services.export import ITEM_CSV_COLUMNS, RUN_CSV_COLUMNS, export_csv, export_json
from services.history import FILE_NAME, PENDING_ID, SCHEMA_VERSION, History
from services.runs import CANCELLED, ItemResult, RunResult, cancelled_run, failed_run


def ok_run(n: int = 3, **kwargs) -> RunResult:
    items = [
        ItemResult(f"copy {i + 1}", True, 0.1, i * 0.1, i * 0.1 + 0.1, None, {"rows": i}) for i in range(n)
    ]
    return RunResult("sqlite", "async", items, 0.35, **kwargs)


def mixed_run() -> RunResult:
    """ok, error and cancelled items; detail with values JSON has no word for."""
    items = (
        ItemResult(
            "http://127.0.0.1:1/a",
            True,
            0.25,
            0.0,
            0.25,
            None,
            {
                "status": 200,
                "bytes": 1234,
                "first_rows": [(1, "a", b"\x00\xffblob", None), (2, "b", 2.5, True)],
                "columns": ("id", "name"),
                "nested": {"deep": [{"t": (1, (2, 3))}]},
                "by_number": {1: "one", (2, 3): "pair"},
                "looks_tagged": {"__tuple__": [1, 2]},
                "raw": bytearray(b"ab"),
            },
        ),
        ItemResult("http://127.0.0.1:1/b", False, 0.5, 0.1, 0.6, "connection refused by 127.0.0.1:1", {}),
        ItemResult("http://127.0.0.1:1/c", False, 0.2, 0.2, 0.4, CANCELLED, {"status": None}),
    )
    return RunResult(
        "fetch",
        "async",
        items,
        0.7,
        cancelled=True,
        scenario="three URLs",
        started_at=1_700_000_000.25,
        max_stall_ms=12.5,
        p99_stall_ms=8.0,
        missed_frames=0,
        blocked_in="services/fetch.py:42 in fetch_blocking",
        stalls=((0.1, 0.3), (0.5, 0.55)),
        params={"urls": ("a", "b"), "timeout_s": 5.0, "concurrency": 4, "raw": b"xy"},
    )


def all_kinds() -> list[RunResult]:
    finished = {0: ItemResult("n=10", True, 0.2, 0.0, 0.2, None, {"pid": 7, "result": 3})}
    return [
        ok_run(),
        mixed_run(),
        failed_run("cpu", "thread", "n must be a whole number from 1 to 10000000, got -5", n=-5),
        cancelled_run("cpu", "process", ["n=10", "n=11"], finished, 0.9, n=10, jobs=2),
    ]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def locker(data_dir: Path):
    """Another program holding the history's write lock (BEGIN EXCLUSIVE), released by calling it."""
    holders: list[sqlite3.Connection] = []

    def lock() -> sqlite3.Connection:
        conn = sqlite3.connect(data_dir / FILE_NAME, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        holders.append(conn)
        return conn

    yield lock
    for conn in holders:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


def release(conn: sqlite3.Connection) -> None:
    conn.execute("ROLLBACK")


# --- round trip ---------------------------------------------------------------------------------------------


def test_runs_of_every_kind_read_back_equal_after_reopening(data_dir):
    runs = all_kinds()
    with History.open(data_dir) as h:
        assert h.notice is None and not h.in_memory and h.path == data_dir / FILE_NAME
        ids = [h.add(run) for run in runs]
        assert ids == sorted(ids) and len(set(ids)) == 4 and PENDING_ID not in ids
    with History.open(data_dir) as h:
        loaded = h.load()
    assert loaded == runs
    # Equality of the mappings alone would not tell a tuple from a list: check the types came back too.
    detail = loaded[1].items[0].detail
    assert detail["first_rows"][0] == (1, "a", b"\x00\xffblob", None) and isinstance(
        detail["first_rows"][0], tuple
    )
    assert isinstance(detail["columns"], tuple) and isinstance(detail["first_rows"][0][2], bytes)
    assert detail["by_number"] == {1: "one", (2, 3): "pair"}
    assert detail["looks_tagged"] == {"__tuple__": [1, 2]}  # a user dict that looks like a tag stays a dict
    assert detail["raw"] == b"ab"
    assert loaded[1].params["urls"] == ("a", "b") and loaded[1].stalls == ((0.1, 0.3), (0.5, 0.55))
    assert [r.status for r in loaded] == ["ok", CANCELLED, "failed", CANCELLED]
    assert [i.outcome for i in loaded[1].items] == ["ok", "error", CANCELLED]
    assert loaded[2].items == () and loaded[2].error.startswith("n must be")
    assert loaded[1].started_at == 1_700_000_000.25 and loaded[1].blocked_in.endswith("fetch_blocking")


def test_odd_values_never_make_a_run_unsavable(data_dir):
    odd = RunResult(
        "cpu",
        "loop",
        [
            ItemResult(
                123, True, math.nan, 0.0, math.inf, None, {"nan": math.nan, "path": Path("/x"), "set": {1}}
            )
        ],
        math.nan,
        missed_frames=2**80,
        params={"when": math.inf},
    )
    with History.open(data_dir) as h:
        assert h.add(odd) > 0
        (back,) = h.load()
    item = back.items[0]
    assert item.label == "123" and math.isnan(item.seconds) and item.ended == math.inf
    assert math.isnan(item.detail["nan"]) and item.detail["path"] == "/x" and item.detail["set"] == "{1}"
    assert math.isnan(back.wall_s) and back.missed_frames is None and back.params == {"when": math.inf}


def test_load_limit_gives_the_newest_runs_oldest_first(data_dir):
    with History.open(data_dir) as h:
        for n in range(1, 6):
            h.add(ok_run(n))
        assert [len(r.items) for r in h.load(limit=2)] == [4, 5]
        assert [len(r.items) for r in h.load(limit=1)] == [5]
        assert [len(r.items) for r in h.load(limit=10)] == [1, 2, 3, 4, 5]
        assert h.load(limit=0) == []


def test_the_file_is_in_wal_mode_with_a_schema_version(data_dir):
    with History.open(data_dir) as h:
        h.add(ok_run())
        conn = sqlite3.connect(h.path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            # The columns are browsable with any SQLite tool.
            row = conn.execute("SELECT workload, status, item_count, ok_count FROM runs").fetchone()
            assert row == ("sqlite", "ok", 3, 3)
            assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 3
        finally:
            conn.close()


def test_a_big_run_is_stored_in_one_transaction(data_dir):
    run = ok_run(1000)
    with History.open(data_dir) as h:
        commits: list[str] = []
        h._conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        h.add(run)
        h._conn.set_trace_callback(None)
        assert commits == ["COMMIT"]
        assert h.load()[0] == run


def test_two_histories_on_one_file_share_it(data_dir):
    with History.open(data_dir) as a, History.open(data_dir) as b:
        a.add(ok_run(1))
        b.add(ok_run(2))
        a.add(ok_run(3))
        assert [len(r.items) for r in b.load()] == [1, 2, 3]


# --- a bad file is moved aside ------------------------------------------------------------------------------


def assert_moved_aside(h: History, data_dir: Path, kind: str) -> Path:
    asides = sorted(
        p for p in data_dir.iterdir() if re.fullmatch(rf"{FILE_NAME}\.{kind}-\d{{8}}-\d{{6}}", p.name)
    )
    assert len(asides) == 1, list(data_dir.iterdir())
    assert not h.in_memory and str(asides[0]) in h.notice and "new history" in h.notice
    # ...and the fresh history works.
    run = ok_run()
    assert h.add(run) > 0 and h.load() == [run]
    return asides[0]


def test_a_file_that_is_not_a_database_is_moved_aside(data_dir):
    data_dir.mkdir()
    garbage = b"this is not an SQLite database\n" * 200
    (data_dir / FILE_NAME).write_bytes(garbage)
    (data_dir / (FILE_NAME + "-wal")).write_bytes(b"junk wal")
    with History.open(data_dir) as h:
        assert "not a readable history database" in h.notice
        aside = assert_moved_aside(h, data_dir, "corrupt")
    assert aside.read_bytes() == garbage
    assert Path(str(aside) + "-wal").read_bytes() == b"junk wal"  # the WAL travels with its database


def test_a_damaged_history_is_moved_aside(data_dir):
    with History.open(data_dir) as h:
        for _ in range(20):
            h.add(ok_run(100))
    path = data_dir / FILE_NAME
    size = path.stat().st_size
    with contextlib.closing(sqlite3.connect(path)) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    assert size > 6 * page
    with path.open("r+b") as f:  # keep page 1 (header, schema); wreck the b-tree pages after it
        f.seek(page)
        f.write(b"\xa5" * (size - page))
    with History.open(data_dir) as h:
        assert "damaged" in h.notice or "not a readable history" in h.notice
        assert_moved_aside(h, data_dir, "corrupt")


def test_a_history_from_a_newer_version_is_moved_aside_not_destroyed(data_dir):
    with History.open(data_dir) as h:
        h.add(ok_run())
    conn = sqlite3.connect(data_dir / FILE_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with History.open(data_dir) as h:
        assert "newer Freeze Lab" in h.notice and f"version {SCHEMA_VERSION + 1}" in h.notice
        aside = assert_moved_aside(h, data_dir, "newer")
    conn = sqlite3.connect(aside)
    try:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1  # its data is still there
    finally:
        conn.close()


def test_some_other_sqlite_database_is_moved_aside(data_dir):
    data_dir.mkdir()
    conn = sqlite3.connect(data_dir / FILE_NAME)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    with History.open(data_dir) as h:
        assert "not a Freeze Lab history" in h.notice
        assert_moved_aside(h, data_dir, "corrupt")


# --- nowhere to write: history in memory --------------------------------------------------------------------


def test_a_data_folder_that_cannot_be_created_means_history_in_memory(tmp_path):
    # Tests may run as root, where chmod does not stop writes. A folder under a regular FILE can't be
    # created by anyone, so this is the unwritable data directory on every machine.
    (tmp_path / "afile").write_text("a file, not a folder")
    data_dir = tmp_path / "afile" / "sub"
    with History.open(data_dir) as h:
        assert h.in_memory and h.path is None
        assert h.notice.startswith("History is kept in memory only: cannot create the data folder")
        assert str(data_dir) in h.notice
        runs = all_kinds()
        assert all(h.add(run) > 0 for run in runs)
        assert h.load() == runs
        assert h.delete_all() and h.load() == []
    assert not data_dir.exists()


def test_a_history_that_can_be_read_but_not_written_is_shown_and_kept_in_memory(data_dir, monkeypatch):
    # A read-only history file can't be made as root (root writes anyway), so the write probe is made to
    # fail the way SQLite fails on one.
    past = all_kinds()
    with History.open(data_dir) as h:
        for run in past:
            h.add(run)

    def read_only(conn, busy_timeout_s):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(history_module, "_probe_writable", read_only)
    with History.open(data_dir) as h:
        assert h.in_memory and "attempt to write a readonly database" in h.notice
        assert h.notice.endswith("4 earlier runs are shown; new runs are not saved.")
        assert h.load() == past
        new = ok_run(7)
        assert h.add(new) > 0 and h.load() == [*past, new]
    monkeypatch.undo()
    with History.open(data_dir) as h:
        assert h.load() == past  # the file was not touched


def test_open_never_raises(data_dir, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(history_module, "_connect_file", broken)
    with History.open(data_dir) as h:
        assert h.in_memory and "something nobody expected" in h.notice
        assert h.add(ok_run()) > 0


# --- locked by another program ------------------------------------------------------------------------------


def test_a_locked_history_keeps_the_run_and_writes_it_on_flush(data_dir, locker):
    with History.open(data_dir):
        pass  # the file exists, as it does after the app's first start
    other = locker()
    with History.open(data_dir, busy_timeout_s=0.05) as h:
        assert not h.in_memory and h.notice is None  # opening only reads: a write lock doesn't stop it
        heard: list[str] = []
        h.on_notice = heard.append
        first, second = ok_run(1), mixed_run()
        assert h.add(first) == PENDING_ID
        assert h.add(second) == PENDING_ID
        assert h.pending == 2 and "locked by another program" in h.notice and "2 runs waiting" in h.notice
        assert heard == [h.notice.replace("2 runs", "1 run"), h.notice]
        assert h.load() == [first, second]  # the table still shows them
        assert h.load(limit=1) == [second]
        assert h.flush() == 2  # still locked
        release(other)
        assert h.flush() == 0 and h.pending == 0
        assert "saved again" in h.notice and heard[-1] == h.notice
    with History.open(data_dir) as h:
        assert h.load() == [first, second]


def test_the_next_add_writes_the_waiting_runs_first(data_dir, locker):
    with History.open(data_dir, busy_timeout_s=0.05) as h:
        other = locker()
        waiting = ok_run(1)
        assert h.add(waiting) == PENDING_ID
        release(other)
        later = ok_run(2)
        new_id = h.add(later)
        assert new_id > 0 and h.pending == 0
    with History.open(data_dir) as h:
        assert h.load() == [waiting, later]  # in the order the runs ended


def test_close_writes_the_waiting_runs_once_the_lock_is_gone(data_dir, locker):
    h = History.open(data_dir, busy_timeout_s=0.05)
    other = locker()
    waiting = mixed_run()
    assert h.add(waiting) == PENDING_ID
    release(other)
    assert h.close() == 0
    with History.open(data_dir) as h:
        assert h.load() == [waiting]


def test_close_while_locked_reports_the_runs_it_could_not_save(data_dir, locker):
    h = History.open(data_dir, busy_timeout_s=0.05)
    locker()
    h.add(ok_run())
    assert h.close() == 1
    assert h.close() == 1  # closing twice is harmless
    assert h.add(ok_run()) == PENDING_ID and "closed" in h.notice  # and add after close still doesn't raise


def test_clear_history_while_locked_changes_nothing(data_dir, locker):
    with History.open(data_dir, busy_timeout_s=0.05) as h:
        h.add(ok_run())
        other = locker()
        assert h.delete_all() is False and "could not be cleared" in h.notice
        release(other)
        assert len(h.load()) == 1


def test_delete_all_forgets_every_run(data_dir):
    with History.open(data_dir) as h:
        for run in all_kinds():
            h.add(run)
        assert h.delete_all() is True and h.load() == []
        h.add(ok_run(2))
    with History.open(data_dir) as h:
        assert [len(r.items) for r in h.load()] == [2]


# --- export -------------------------------------------------------------------------------------------------


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: spreadsheets detect the encoding
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        header = reader.fieldnames
    return header, rows


def test_export_csv_one_row_per_run(tmp_path):
    runs = [*all_kinds(), ok_run(scenario="=HYPERLINK(1)")]
    path = export_csv(runs, tmp_path / "runs.csv")
    header, rows = read_csv(path)
    assert tuple(header) == RUN_CSV_COLUMNS and len(rows) == 5
    mixed = rows[1]
    assert mixed["run"] == "2" and mixed["workload"] == "fetch" and mixed["status"] == CANCELLED
    assert (mixed["items"], mixed["ok"], mixed["failed"], mixed["cancelled"]) == ("3", "1", "2", "true")
    assert float(mixed["wall_s"]) == 0.7 and float(mixed["items_sum_s"]) == pytest.approx(0.95)
    assert float(mixed["max_stall_ms"]) == 12.5 and mixed["missed_frames"] == "0"
    assert json.loads(mixed["stalls"]) == [[0.1, 0.3], [0.5, 0.55]]
    assert json.loads(mixed["params"]) == {
        "urls": ["a", "b"],
        "timeout_s": 5.0,
        "concurrency": 4,
        "raw": "b'xy'",
    }
    assert float(mixed["started_at"]) == 1_700_000_000.25 and re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", mixed["started"]
    )
    failed = rows[2]
    assert failed["status"] == "failed" and failed["error"].startswith("n must be") and failed["items"] == "0"
    assert failed["max_stall_ms"] == "" and failed["blocked_in"] == ""  # None is an empty cell
    assert rows[4]["scenario"] == "'=HYPERLINK(1)"  # a formula is defused, not run by the spreadsheet


def test_export_csv_one_row_per_item(tmp_path):
    runs = all_kinds()
    header, rows = read_csv(export_csv(runs, tmp_path / "items.csv", items=True))
    assert tuple(header) == ITEM_CSV_COLUMNS
    assert [r["run"] for r in rows] == ["1"] * 3 + ["2"] * 3 + ["3"] + ["4"] * 2
    refused = rows[4]
    assert (refused["workload"], refused["item"], refused["outcome"], refused["ok"]) == (
        "fetch",
        "2",
        "error",
        "false",
    )
    assert refused["error"] == "connection refused by 127.0.0.1:1" and refused["run_status"] == CANCELLED
    assert (
        float(refused["seconds"]) == 0.5
        and float(refused["started"]) == 0.1
        and float(refused["ended"]) == 0.6
    )
    detail = json.loads(rows[3]["detail"])
    assert detail["first_rows"][0] == [1, "a", "b'\\x00\\xffblob'", None] and detail["columns"] == [
        "id",
        "name",
    ]
    no_items = rows[6]  # the failed run still has its row, with its error
    assert no_items["run_status"] == "failed" and no_items["run_error"].startswith("n must be")
    assert no_items["item"] == "" and no_items["label"] == ""
    assert rows[8]["outcome"] == CANCELLED and rows[8]["label"] == "n=11"


def test_export_json_has_the_benchmark_shape(tmp_path):
    runs = [*all_kinds(), RunResult("cpu", "loop", (), 0.0, max_stall_ms=math.nan)]
    path = export_json(runs, tmp_path / "runs.json")

    def no_constants(name):
        raise AssertionError(f"not strict JSON: {name}")

    data = json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants)
    assert list(data) == ["runs"] and len(data["runs"]) == 5
    for run, out in zip(runs, data["runs"], strict=True):
        assert out["status"] == run.status
        assert set(out) == {*run.to_dict(), "status"}
        if run in (runs[0], runs[2], runs[3]):  # plain JSON already: must come out exactly as to_dict() says
            assert {k: v for k, v in out.items() if k != "status"} == json.loads(json.dumps(run.to_dict()))
    mixed = data["runs"][1]
    assert (mixed["items"], mixed["ok"], mixed["failed"], mixed["cancelled"]) == (3, 1, 2, True)
    assert mixed["stalls"] == [[0.1, 0.3], [0.5, 0.55]] and mixed["params"]["urls"] == ["a", "b"]
    assert mixed["results"][0]["detail"]["by_number"] == {"1": "one", "(2, 3)": "pair"}
    assert mixed["results"][0]["detail"]["raw"] == "bytearray(b'ab')"
    assert mixed["results"][0]["detail"]["first_rows"][1] == [2, "b", 2.5, True]
    assert [r["error"] for r in mixed["results"]] == [None, "connection refused by 127.0.0.1:1", CANCELLED]
    assert data["runs"][4]["max_stall_ms"] is None  # NaN becomes null


def test_exports_replace_a_file_atomically_and_clean_up_on_failure(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    assert export_json([ok_run()], target) == target
    assert json.loads(target.read_text())["runs"][0]["items"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary file left behind

    with pytest.raises(OSError):
        export_csv([ok_run()], tmp_path / "missing" / "runs.csv")
    with pytest.raises(OSError):  # the target is a folder: os.replace fails after the temp file is written
        (tmp_path / "adir").mkdir()
        export_json([ok_run()], tmp_path / "adir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "out.json"]
    assert list((tmp_path / "adir").iterdir()) == []


def test_a_failed_export_leaves_the_old_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "runs.csv"
    target.write_text("the old export")

    def rename_fails(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module.os, "replace", rename_fails)
    with pytest.raises(OSError, match="No space left"):
        export_csv([ok_run()], target)
    monkeypatch.undo()
    assert target.read_text() == "the old export"
    assert [p.name for p in tmp_path.iterdir()] == ["runs.csv"]
