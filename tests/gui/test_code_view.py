"""The code view shows the real source of the function each workload x mode runs - and the panels run it."""

from __future__ import annotations

import inspect
import re
import sys

import pytest
from PySide6.QtGui import QFont

from gui.code_view import SOURCES, CodeView
from services.runs import failed_run
from tests.helpers import run

CASES = [(workload, mode) for workload, modes in SOURCES.items() for mode in modes]


@pytest.fixture
def view(qtbot):
    v = CodeView()
    qtbot.addWidget(v)
    v.resize(1200, 700)
    v.show()
    return v


def shown_source(pane) -> tuple[str, int]:
    """The pane's text without its line-number column, and the first line number shown."""
    lines = pane.text.toPlainText().split("\n")
    numbers = [int(re.match(r"\s*(\d+)  ", line).group(1)) for line in lines]
    assert numbers == list(range(numbers[0], numbers[0] + len(lines)))  # consecutive real line numbers
    width = len(str(numbers[-1]))
    return "\n".join(line[width + 2 :] for line in lines), numbers[0]


@pytest.mark.parametrize(("workload", "mode"), CASES)
def test_the_view_shows_the_real_source_of_what_runs(view, workload, mode):
    view.show_source(workload, mode)
    blocking_fn = SOURCES[workload]["blocking"]
    fn = SOURCES[workload][mode]
    pane = view.blocking if mode == "blocking" else view.async_
    source, first = shown_source(pane)
    lines, real_first = inspect.getsourcelines(fn)
    assert source == "".join(lines).rstrip("\n")
    assert first == real_first
    assert f"{fn.__name__}</b><br>services/{workload}.py line {real_first}" in pane.title.text()
    assert "runs now" in pane.title.text()
    # The left pane is always the blocking version, whatever the mode.
    left, _ = shown_source(view.blocking)
    assert left == inspect.getsource(blocking_fn).rstrip("\n")
    assert view.blocking.title.text().startswith("<b>Blocking: ")


def test_blocking_mode_still_shows_an_async_version_to_compare_with(view):
    view.show_source("cpu", "blocking")
    assert view.async_.function is SOURCES["cpu"]["process"]
    assert "runs now" in view.blocking.title.text() and "runs now" not in view.async_.title.text()
    view.show_source("fetch", "blocking")
    assert view.async_.function is SOURCES["fetch"]["async"]
    view.show_source("fetch", "async")
    assert "runs now" in view.async_.title.text() and "runs now" not in view.blocking.title.text()


def test_show_without_arguments_is_still_qwidget_show(qtbot):
    v = CodeView()
    qtbot.addWidget(v)
    assert not v.isVisible()
    v.show()
    assert v.isVisible()
    v.show("sqlite", "async")
    assert v.async_.function is SOURCES["sqlite"]["async"]


def test_the_code_font_is_monospace_and_follows_the_zoom(view):
    view.show_source("fetch", "async")
    before = view.blocking.text.font().pointSizeF()
    assert view.blocking.text.font().styleHint() == QFont.StyleHint.Monospace or "ono" in (
        view.blocking.text.font().family()
    )
    bigger = QFont(view.font())
    bigger.setPointSizeF(view.font().pointSizeF() * 2)
    view.setFont(bigger)  # what the classroom zoom does, through the application font
    assert view.blocking.text.font().pointSizeF() == pytest.approx(before * 2)
    assert view.async_.text.font().pointSizeF() == pytest.approx(before * 2)


def test_the_table_covers_every_mode_of_every_panel(window):
    for workload, panel in window.panels.items():
        assert set(SOURCES[workload]) == set(panel.modes), workload


def test_the_panels_call_exactly_the_functions_the_view_shows(loop, window, monkeypatch):
    """Replace each mapped service function with a recorder, then run the panel's own Job callables."""
    calls: list[tuple[str, str]] = []

    def recorder(workload, mode, fn):
        result = failed_run(workload, mode, "recorded")
        if inspect.iscoroutinefunction(fn):

            async def fake_async(*args, **kwargs):
                calls.append((workload, mode))
                return result

            return fake_async

        def fake(*args, **kwargs):
            calls.append((workload, mode))
            return result

        return fake

    for workload, mode in CASES:
        fn = SOURCES[workload][mode]
        monkeypatch.setattr(sys.modules[fn.__module__], fn.__name__, recorder(workload, mode, fn))

    for workload, mode in CASES:
        panel = window.panels[workload]
        job = panel.prepare(mode)
        calls.clear()
        if mode == "blocking":
            job.blocking(None)
        else:
            run(loop, job.run_async(None))
        assert calls == [(workload, mode)], (workload, mode, calls)


def test_missing_source_is_a_message_not_a_crash(qtbot, monkeypatch):
    import gui.code_view as cv

    def no_source(fn):
        raise OSError("could not get source code")

    monkeypatch.setattr(cv, "source_of", no_source)
    view = cv.CodeView()
    qtbot.addWidget(view)
    view.show_source("fetch", "async")
    assert "not available in this build" in view.blocking.text.toPlainText()
