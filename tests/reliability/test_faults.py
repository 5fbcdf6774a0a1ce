"""Fault injection (issue 8): things break under the app mid-run; each gives a clear message, the run's row is
kept, and the next run works.

- the embedded demo server dies while requests are in flight;
- a pool worker process is killed while it runs a job;
- the disk fills up while the demo database is being built (simulated at the sqlite3 / os level);
- another process holds the history database locked when a run ends.
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import subprocess
import sys
import types

import psutil
import pytest

from gui.asyncutil import next_emit
from services import cpu, demo_db, fetch
from tests.helpers import click_and_wait, run
from tests.reliability import fetch_panel, good_fetch, table_status

# --- the demo server dies ---------------------------------------------------------------------------------


def server_side_connections(port: int) -> int:
    """Connections the demo server (in this process) has accepted and still holds."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp4")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
    )


def test_server_dies_while_async_requests_are_in_flight(loop, window, ctx):
    server = ctx.server
    slow = server.url("/delay/20")
    panel = fetch_panel(window, "async", [server.url("/instant"), slow, slow, slow])

    async def scenario():
        finished = asyncio.ensure_future(next_emit(panel.run_finished, 30))
        first = asyncio.ensure_future(next_emit(panel.item_done, 30))
        await asyncio.sleep(0)
        panel.run_button.click()
        (index, item) = await first
        assert (index, item.ok) == (0, True)
        while server_side_connections(server.port) < 4:  # /instant (kept alive) and the three slow ones
            await next_emit(ctx.heartbeat.ticked)
        server.stop()  # the server dies under them
        (result,) = await finished
        return result

    result = run(loop, scenario())
    assert result.items[0].ok
    # aiohttp retries an idempotent GET once when the server hangs up, so the last word is usually the
    # retry's "connection refused"; without a retry it is "connection closed by the server". Both are exact.
    for item in result.items[1:]:
        assert item.error in ("connection refused", "connection closed by the server")
    assert result.status == "partial" and window.runs_model.rowCount() == 1
    assert [r.status for r in ctx.history.load()] == ["partial"]  # the record of it is kept

    # With the server gone, its URLs fail at once, with the plain reason.
    (gone,) = fetch.fetch_blocking([server.url("/instant")], fetch.FetchOptions(timeout_s=2)).items
    assert gone.error == "connection refused" and not server.is_running

    # A stopped server starts again, on the same port: the very same URLs work again.
    port = server.port
    server.start()
    assert server.is_running and server.port == port
    panel.urls.setPlainText(server.url("/instant"))
    assert run(loop, click_and_wait(panel)).status == "ok"
    assert [table_status(window, row) for row in range(2)] == ["partial", "ok"]


def test_server_dies_between_blocking_requests(loop, window, ctx):
    server = ctx.server
    panel = fetch_panel(window, "blocking", [server.url("/delay/0.1")] * 3)
    # A blocking run hands control back only through on_item: stop the server right after the first item.
    panel.item_done.connect(lambda index, _item: server.stop() if index == 0 else None)
    result = run(loop, click_and_wait(panel))
    assert [i.error for i in result.items] == [None, "connection refused", "connection refused"]
    assert result.status == "partial" and window.runs_model.rowCount() == 1
    server.start()
    assert good_fetch(loop, window, "blocking").status == "ok"


def test_the_app_restarts_a_dead_demo_server_for_the_next_run(loop, window, ctx):
    panel = fetch_panel(window, "async", [])
    panel.select_preset("demo")
    panel.count.setValue(2)
    panel.delay.setValue(0.1)
    ctx.server.stop()
    result = run(loop, click_and_wait(panel))
    assert result.status == "ok", [i.error for i in result.items]
    assert ctx.server.is_running


# --- a pool worker is killed --------------------------------------------------------------------------------


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_worker_killed_mid_run_fails_its_items_and_the_next_run_works(loop, window, ctx):
    panel = window.panels["cpu"]
    window.tabs.setCurrentWidget(panel)
    panel.select_mode("process")
    panel.jobs.setValue(2)
    panel.size.setValue(400)  # ~10 s a job: still running when the worker is killed
    run(loop, ctx.pool.wait_ready())
    workers = ctx.pool.worker_pids()
    assert workers

    async def scenario():
        finished = asyncio.ensure_future(next_emit(panel.run_finished, 60))
        await asyncio.sleep(0)
        panel.run_button.click()
        await next_emit(ctx.heartbeat.ticked)  # the run is in flight...
        await next_emit(ctx.heartbeat.ticked)
        psutil.Process(workers[0]).kill()  # ...and one worker dies, as if it crashed
        (result,) = await finished
        return result

    result = run(loop, scenario())
    assert [i.error for i in result.items] == [cpu.WORKER_DIED] * 2
    assert result.status == "partial" and not result.cancelled
    assert table_status(window, 0) == "partial"
    assert gone(workers[0])

    run(loop, ctx.pool.wait_ready())  # the pool was replaced and warms up again
    assert workers[0] not in ctx.pool.worker_pids()
    panel.size.setValue(1)
    again = run(loop, click_and_wait(panel))
    assert again.status == "ok" and {i.detail["pid"] for i in again.items} <= set(ctx.pool.worker_pids())


# --- the disk fills while the demo database builds ----------------------------------------------------------


class _Delegate(types.SimpleNamespace):
    """Stands in for a module (or object): everything comes from the real one unless set here."""

    def __init__(self, real, **overrides):
        super().__init__(**overrides)
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)


def disk_fills_after(writes: int):
    """A stand-in for the sqlite3 module as demo_db sees it: the `writes`-th batch write fails as SQLite
    fails when the disk is full."""
    count = 0

    def connect(*args, **kwargs):
        conn = sqlite3.connect(*args, **kwargs)

        def executemany(sql, rows):
            nonlocal count
            count += 1
            if count >= writes:
                raise sqlite3.OperationalError("database or disk is full")
            return conn.executemany(sql, rows)

        return _Delegate(conn, executemany=executemany)

    return _Delegate(sqlite3, connect=connect)


def demo_panel(window):
    panel = window.panels["sqlite"]
    window.tabs.setCurrentWidget(panel)
    panel.demo_scale = 0.005  # a small demo database: the build takes a moment, not seconds
    panel.use_database(None)
    panel.sql.setPlainText("SELECT count(*) FROM orders")
    panel.copies.setValue(1)
    return panel


def leftovers(ctx):
    return sorted(p.name for p in ctx.data_dir.iterdir() if p.name.startswith(".demo"))


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_disk_full_while_building_the_demo_database(loop, window, ctx, monkeypatch, mode):
    panel = demo_panel(window)
    window.toggle.set_mode(mode)
    monkeypatch.setattr(demo_db, "sqlite3", disk_fills_after(3))  # customers, products go in; orders fail
    result = run(loop, click_and_wait(panel))
    message = (
        f"could not build the demo database in {ctx.data_dir}: the disk is full (database or disk is full)"
    )
    assert (result.status, result.error) == ("failed", message)
    assert panel.progress.text() == f"Failed: {message}"
    assert table_status(window, 0) == "failed"
    assert leftovers(ctx) == [] and not panel.demo_path().exists()  # no half-built file anywhere
    assert "not built yet" in panel.db_label.text()

    monkeypatch.undo()  # space was freed
    again = run(loop, click_and_wait(panel))
    assert again.status == "ok" and again.items[0].detail["first_rows"][0][0] > 0
    assert demo_db.demo_db_status(panel.demo_path(), scale=0.005) == "ok"


def test_no_space_left_when_the_built_file_is_flushed(loop, window, ctx, monkeypatch):
    panel = demo_panel(window)
    window.toggle.set_mode("async")

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(demo_db, "os", _Delegate(demo_db.os, fsync=fsync))
    result = run(loop, click_and_wait(panel))
    assert result.error == (
        f"could not build the demo database in {ctx.data_dir}: [Errno 28] No space left on device"
    )
    assert leftovers(ctx) == [] and not panel.demo_path().exists()
    monkeypatch.undo()
    assert run(loop, click_and_wait(panel)).status == "ok"


def test_disk_full_during_rebuild_from_the_menu_is_a_message(loop, window, ctx, monkeypatch):
    panel = demo_panel(window)
    monkeypatch.setattr(demo_db, "sqlite3", disk_fills_after(3))

    said = []
    ctx.status.connect(said.append)
    panel.rebuild_demo()
    (rebuild,) = [t for t in ctx.tasks.tasks() if t.get_name() == "sqlite-demo-rebuild"]
    run(loop, asyncio.wait([rebuild]))
    assert any("the disk is full" in message for message in said)
    assert "the disk is full" in panel.progress.text()
    assert leftovers(ctx) == []


# --- the history database is locked by another process ------------------------------------------------------

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")  # the write lock, held until we are told to let go
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
conn.close()
"""


class Locker:
    """Another process holding the write lock on a database file."""

    def __init__(self, path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        self.proc.stdout.close()


def stored_runs(ctx) -> int:
    conn = sqlite3.connect(f"{(ctx.data_dir / 'history.sqlite3').as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    finally:
        conn.close()


LOCKED_NOTICE = (
    "History not saved yet (the database is locked by another program): "
    "1 run waiting, kept in memory and saved with the next run."
)


def test_history_locked_by_another_process_keeps_the_run_and_saves_it_later(loop, window, ctx):
    notices = []
    ctx.status.connect(notices.append)
    locker = Locker(ctx.data_dir / "history.sqlite3")
    try:
        first = good_fetch(loop, window, "async")
        assert window.runs_model.rowCount() == 1 and window.runs_model.run_at(0) is first  # on screen
        assert ctx.history.pending == 1 and LOCKED_NOTICE in notices  # waiting, and the user was told
        assert stored_runs(ctx) == 0
    finally:
        locker.release()
    good_fetch(loop, window, "blocking")  # the next run writes both, oldest first
    assert ctx.history.pending == 0 and stored_runs(ctx) == 2
    assert [r.mode for r in ctx.history.load()] == ["async", "blocking"]
    assert notices[-1] == "History saved again: 2 waiting runs written."


def test_a_run_waiting_for_a_locked_history_is_saved_at_quit(loop, window, ctx):
    locker = Locker(ctx.data_dir / "history.sqlite3")
    try:
        good_fetch(loop, window, "async")
        assert ctx.history.pending == 1
    finally:
        locker.release()
    run(loop, ctx.aclose())  # quitting makes one last try
    assert stored_runs(ctx) == 1


def test_the_locked_history_notice_stays_visible_in_the_status_bar(loop, window, ctx):
    locker = Locker(ctx.data_dir / "history.sqlite3")
    try:
        good_fetch(loop, window, "async")
        shown = window.statusBar().currentMessage()
    finally:
        locker.release()
    assert shown == LOCKED_NOTICE
