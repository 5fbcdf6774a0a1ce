"""Quit anytime (issue 8): the real entry point, closed with a run in flight, in every workload and mode.

Each case starts `python -m gui.app --run WORKLOAD:MODE --quit-after S` in its own data directory, with a
settings.ini that sizes the run so it is still going at S. The window then closes exactly as a user closes it.
Afterwards: exit code 0, not a byte on stderr, no process the app started still alive, and the history on
disk holds the run - "cancelled" when it was awaited (async modes are cancelled at quit), "ok" when it
froze the UI (a blocking run cannot be interrupted: the close is only seen when the run has ended).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from services import demo_db
from services.history import History

# Every run below is sized in settings.ini (read by the window at start) so that it outlasts its quit time.
CASES = {
    # workload:mode -> (settings.ini, --quit-after seconds, the status the history must hold)
    "fetch:blocking": ("[fetch]\ncount=2\ndelay=0.5\n", 0.3, "ok"),
    "fetch:async": ("[fetch]\ncount=4\ndelay=10\n", 1.0, "cancelled"),
    "sqlite:blocking": ("[sqlite]\ncopies=2\n", 0.3, "ok"),
    "sqlite:async": ("[sqlite]\ncopies=16\n", 1.0, "cancelled"),
    "cpu:blocking": ("[cpu]\njobs=2\nsize=20\n", 0.3, "ok"),
    "cpu:loop": ("[cpu]\njobs=2\nsize=20\n", 0.3, "ok"),
    # Threads can't be stopped: the quit waits for the running jobs, so they are kept short.
    "cpu:thread": ("[cpu]\njobs=2\nsize=30\n", 0.5, "cancelled"),
    "cpu:process": ("[cpu]\njobs=2\nsize=400\n", 1.5, "cancelled"),
}


@pytest.fixture(scope="module")
def full_demo_db(tmp_path_factory) -> Path:
    """The demo database exactly as the panel wants it (scale 1.0), built once for the module (~5 s)."""
    return demo_db.build_demo_db(tmp_path_factory.mktemp("demo") / "demo.sqlite3", scale=1.0)


def start_app(data_dir: Path, token: str, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONWARNINGS": "default",  # an unclosed resource would print a warning on stderr
        "FREEZELAB_TEST_TOKEN": token,  # inherited by every process the app starts: how we find them later
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gui.app", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def processes_with(token: str, but_not: int) -> list[psutil.Process]:
    """Live processes (not zombies) whose environment carries the token."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == but_not:
            continue
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("FREEZELAB_TEST_TOKEN") == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


@pytest.mark.parametrize("spec", CASES)
def test_quit_with_a_run_in_flight(spec, tmp_path, full_demo_db):
    settings, quit_after, status = CASES[spec]
    workload, mode = spec.split(":")
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.ini").write_text(settings)
    if workload == "sqlite":
        os.link(full_demo_db, data / "demo.sqlite3")  # the panel's demo path; opened read-only, never written
    token = uuid.uuid4().hex

    proc = start_app(data, token, "--run", spec, "--quit-after", str(quit_after))
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert f"freezelab: running {spec}" in out
    assert proc.returncode == 0, err
    assert err == ""  # no traceback, no warning, no "unclosed", nothing at all

    # Every process the app started (the pool's fork server and workers) has gone too.
    _, alive = psutil.wait_procs(processes_with(token, but_not=os.getpid()), timeout=15)
    assert not alive, f"processes left behind: {alive}"

    # The run that was in flight is in the history on disk.
    with History.open(data) as history:
        runs = history.load()
        assert history.notice is None
    assert [(r.workload, r.mode, r.status) for r in runs] == [(workload, mode, status)]
    (run,) = runs
    if status == "cancelled":
        assert any(i.outcome == "cancelled" for i in run.items)
    else:
        # A blocking run ended on its own, then the quit was seen: all its items finished.
        assert run.items and all(i.ok for i in run.items)
        assert run.max_stall_ms is not None and run.max_stall_ms > 0  # (it did freeze the UI)
