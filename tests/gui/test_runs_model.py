from PySide6.QtCore import Qt

from gui.runs_model import RUN_COLUMNS, ItemsModel, RunsModel
from services.runs import ItemResult, RunResult


def make_run(mode="async", n=3, stall=12.0):
    items = [
        ItemResult(
            f"http://x/{i}",
            i != 1,
            0.5,
            0.1 * i,
            0.1 * i + 0.5,
            None if i != 1 else "HTTP 503 Service Unavailable",
        )
        for i in range(n)
    ]
    return RunResult("fetch", mode, items, wall_s=0.8, max_stall_ms=stall, missed_frames=0)


def test_runs_model_passes_qtmodeltester(qtmodeltester):
    model = RunsModel()
    model.add_run(make_run())
    model.add_run(make_run("blocking", stall=1500.0))
    qtmodeltester.check(model, force_py=True)


def test_items_model_passes_qtmodeltester(qtmodeltester):
    model = ItemsModel()
    model.set_run(make_run())
    qtmodeltester.check(model, force_py=True)


def test_row_shows_the_run_figures():
    model = RunsModel()
    model.add_run(make_run("blocking", stall=1500.0))
    row = {RUN_COLUMNS[c][0]: model.data(model.index(0, c)) for c in range(model.columnCount())}
    assert row["Mode"] == "blocking" and row["Items"] == "3" and row["OK"] == "2" and row["Failed"] == "1"
    assert row["Status"] == "partial" and row["Wall s"] == "0.80" and row["Σ items s"] == "1.50"
    assert (
        row["Overlap ×"] == "1.9"
        and row["Speed-up ×"] == "—"
        and row["Max stall ms"] == "1500"
        and row["Missed frames"] == "0"
    )
    assert model.headerData(0, Qt.Orientation.Horizontal) == "#"


def test_items_model_shows_errors():
    model = ItemsModel()
    model.set_run(make_run())
    assert model.data(model.index(1, 1)) == "error"
    assert model.data(model.index(1, 5)) == "HTTP 503 Service Unavailable"
    model.set_run(None)
    assert model.rowCount() == 0


def test_speedup_against_the_last_blocking_run_of_the_same_size():
    model = RunsModel()
    blocking = RunResult("cpu", "blocking", [], wall_s=4.0, params={"size": "4x25"})
    other_size = RunResult("cpu", "blocking", [], wall_s=9.0, params={"size": "8x25"})
    fast = RunResult("cpu", "process", [], wall_s=2.0, params={"size": "4x25"})
    model.add_run(blocking)
    model.add_run(other_size)
    model.add_run(fast)
    assert model.speedup_at(2) == 2.0
    assert model.speedup_at(0) is None  # nothing earlier to compare with


def test_runs_table_columns_fit_their_contents(qtbot):
    from gui.main_window import _table

    model = RunsModel()
    view = _table(model)
    qtbot.addWidget(view)
    view.show()
    model.add_run(make_run("blocking"))
    mode_column = [c[0] for c in RUN_COLUMNS].index("Mode")
    assert view.columnWidth(mode_column) >= view.sizeHintForColumn(mode_column)
