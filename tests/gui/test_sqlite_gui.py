"""The SQLite panel through its buttons: freeze vs not, read-only, cancel, quit, the demo build."""

import asyncio
import hashlib
import threading

import pytest

from gui.asyncutil import next_emit
from services import demo_db
from tests.helpers import click_and_wait, overlapping, run, sqlite_panel

# A query that takes a noticeable moment on any database (no table needed).
SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000) SELECT count(*) FROM c"
)
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "small.sqlite3"
    return demo_db.build_demo_db(path, scale=0.01)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_blocking_queries_freeze_the_ui(loop, window, small_db):
    panel = sqlite_panel(window, "blocking", small_db, SLOW, copies=2)
    result = run(loop, click_and_wait(panel))
    assert result.ok_count == 2 and panel.last_stats.ticks == 0
    assert not overlapping(result.items)
    assert panel.results_label.text().startswith("1 row —")


def test_async_queries_keep_the_ui_alive_and_overlap(loop, window, small_db):
    panel = sqlite_panel(window, "async", small_db, SLOW, copies=2)
    result = run(loop, click_and_wait(panel))
    assert result.ok_count == 2 and panel.last_stats.ticks > 0
    assert overlapping(result.items)


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_a_destructive_statement_is_refused_and_the_file_unchanged(loop, window, small_db, mode):
    before = sha(small_db)
    panel = sqlite_panel(window, mode, small_db, "DELETE FROM orders", copies=1)
    result = run(loop, click_and_wait(panel))
    assert result.failed_count == 1 and result.items[0].error.startswith("read-only")
    assert "read-only" in panel.results_label.text()
    assert sha(small_db) == before


def test_results_view_shows_capped_rows_and_the_true_count(loop, window, small_db):
    panel = sqlite_panel(window, "async", small_db, "SELECT id, name FROM customers", copies=1)
    panel.row_cap.setValue(50)
    result = run(loop, click_and_wait(panel))
    total = result.items[0].detail["rows"]
    assert total > 50
    assert panel.results_model.rowCount() == 50 and panel.results_model.columnCount() == 2
    assert f"{total:,} rows (first 50 shown)" in panel.results_label.text()


def test_cancel_interrupts_a_query_that_would_run_for_minutes(loop, window, small_db):
    panel = sqlite_panel(window, "async", small_db, ENDLESS, copies=2)

    async def scenario():
        pending = asyncio.ensure_future(next_emit(panel.run_finished, 60))
        await asyncio.sleep(0)
        panel.run_button.click()
        for _ in range(3):
            await next_emit(window.ctx.heartbeat.ticked)
        panel.cancel_button.click()
        (result,) = await pending
        return result

    result = run(loop, scenario())
    assert result.cancelled and all(i.outcome == "cancelled" for i in result.items)
    assert not [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]


def test_quit_with_queries_in_flight_closes_every_connection(loop, window, ctx, small_db):
    panel = sqlite_panel(window, "async", small_db, ENDLESS, copies=2)

    async def scenario():
        panel.run_button.click()
        for _ in range(3):
            await next_emit(ctx.heartbeat.ticked)
        await ctx.aclose()

    run(loop, scenario())
    assert not [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]


def test_the_demo_database_is_built_on_first_use_with_progress(loop, window, ctx):
    panel = window.panels["sqlite"]
    panel.demo_scale = 0.005
    panel.use_database(None)
    assert "not built yet" in panel.db_label.text()
    seen = []
    panel.build_bar.valueChanged.connect(seen.append)
    window.toggle.set_mode("async")
    panel.sql.setPlainText("SELECT count(*) FROM orders")
    result = run(loop, click_and_wait(panel))
    assert result.ok_count == panel.copies.value()
    assert seen and max(seen) > 0  # the progress bar moved
    assert demo_db.demo_db_status(panel.demo_path(), scale=0.005) == "ok"
    assert "ready" in panel.db_label.text()


def test_a_missing_file_gives_a_failed_row(loop, window, tmp_path):
    panel = sqlite_panel(window, "async", tmp_path / "nope.sqlite3", "SELECT 1", copies=2)
    result = run(loop, click_and_wait(panel))
    assert "file not found" in (result.error or "")
    assert not (tmp_path / "nope.sqlite3").exists()
