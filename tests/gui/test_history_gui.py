"""Runs survive a restart; export and clear work from the window."""

import csv
import json

from PySide6.QtWidgets import QMessageBox

from gui.main_window import MainWindow
from tests.helpers import click_and_wait, run


def one_fetch(loop, window, mode="async"):
    panel = window.panels["fetch"]
    window.toggle.set_mode(mode)
    panel.select_preset("demo")
    panel.count.setValue(2)
    panel.delay.setValue(0.1)
    return run(loop, click_and_wait(panel))


def test_runs_are_saved_and_reloaded_by_a_new_window(loop, window, ctx, qtbot):
    first = one_fetch(loop, window)
    assert ctx.history.flush() == 0
    again = MainWindow(ctx)
    qtbot.addWidget(again)
    assert again.runs_model.rowCount() == 1
    reloaded = again.runs_model.run_at(0)
    assert reloaded.items == first.items and reloaded.max_stall_ms == first.max_stall_ms


def test_export_selected_and_all_runs(loop, window, tmp_path):
    one_fetch(loop, window, "blocking")
    one_fetch(loop, window, "async")
    window.runs_view.selectRow(1)
    out = window.export_runs(window.selected_runs(), tmp_path / "sel.json")
    data = json.loads(out.read_text())
    assert [r["mode"] for r in data["runs"]] == ["async"]
    out = window.export_runs(window.runs_model.runs(), tmp_path / "all.csv")
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["mode"] for r in rows] == ["blocking", "async"]


def test_export_to_an_impossible_path_is_a_message_not_a_crash(loop, window, tmp_path):
    one_fetch(loop, window)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert window.export_runs(window.runs_model.runs(), blocker / "sub" / "runs.csv") is None
    assert "Could not export" in window.banner.text()


def test_clear_history_asks_first(loop, window, ctx, monkeypatch):
    one_fetch(loop, window)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    window.clear_history()
    assert window.runs_model.rowCount() == 1 and len(ctx.history.load()) == 1
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.clear_history()
    assert window.runs_model.rowCount() == 0 and ctx.history.load() == []


def test_a_corrupt_history_file_is_moved_aside_and_the_user_told(loop, tmp_path, qtbot):
    from gui.context import AppContext

    data = tmp_path / "data"
    data.mkdir()
    (data / "history.sqlite3").write_bytes(b"this is not a database" * 100)
    c = AppContext(data_dir=data)
    loop.run_until_complete(c.start())
    try:
        w = MainWindow(c)
        qtbot.addWidget(w)
        assert "corrupt" in w.banner.text() or "moved" in w.banner.text()
        assert list(data.glob("history.sqlite3.corrupt-*"))
    finally:
        loop.run_until_complete(c.aclose())
