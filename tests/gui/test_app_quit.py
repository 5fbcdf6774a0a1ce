"""The real entry point in a child process: quitting with work in flight is prompt, clean and exits 0."""

import contextlib
import os
import signal
import subprocess
import sys

import psutil
import pytest

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONWARNINGS": "default"}


def start(tmp_path, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "gui.app", "--data-dir", str(tmp_path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def finish(proc, timeout=30):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_closing_the_window_during_an_async_fetch_exits_0_quietly(tmp_path):
    # The demo preset's fetches take 1 s each; the window is closed 0.5 s after start, mid-run.
    proc = start(tmp_path, "--run", "fetch:async", "--quit-after", "0.5")
    assert "running fetch:async" in proc.stdout.readline()
    child_pids = {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
    code, _out, err = finish(proc)
    assert_all_gone(child_pids)
    assert code == 0
    assert err == "", err  # no traceback, no "Unclosed client session", nothing


@pytest.mark.parametrize("mode", ["async", "blocking"])
def test_ctrl_c_quits_the_same_way(tmp_path, mode):
    proc = start(tmp_path, "--run", f"fetch:{mode}")
    assert "running fetch" in proc.stdout.readline()  # the run has started
    child_pids = {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc, timeout=60)  # a blocking run ends when it ends, then quits
    assert code == 0
    assert err == "", err
    assert_all_gone(child_pids)


def assert_all_gone(pids):
    """Every child process the app had must exit (waited for, generously: exiting is not instant)."""
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(pid))
    _, alive = psutil.wait_procs(procs, timeout=10)
    assert not alive, f"child processes left behind: {alive}"


def test_a_failure_while_building_the_window_still_stops_every_service(loop, tmp_path, monkeypatch):
    """Otherwise the demo server's thread and the pool keep the process alive after the traceback."""
    import asyncio
    import threading

    import gui.main_window
    from gui.app import parse_args, run_app

    def broken(ctx):
        raise RuntimeError("window construction failed")

    monkeypatch.setattr(gui.main_window, "MainWindow", broken)
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="window construction failed"):
        loop.run_until_complete(asyncio.wait_for(run_app(parse_args(["--data-dir", str(tmp_path)])), 60))
    new = [t for t in threading.enumerate() if t not in before]
    for t in new:
        t.join(timeout=10)
    assert not [t for t in new if t.is_alive()]
