"""The bundle checker behind `make package-test` catches what it is there to catch.

Stand-in apps (small Python scripts) play the packaged app, so these run without a build.
"""

import contextlib
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from tests.packaging.helpers import load

check = load("check_bundle")

GOOD_OUTPUT = [
    "PASS cpu/process ran: 4/4 ok in 0.2 s",
    "PASS cpu/process kept the UI alive: 11 heartbeat ticks, max stall 2 ms",
    "self-test: 2 passed, 0 failed",
]
WORKER = "/app/freezelab -B -S -I -c from multiprocessing.forkserver import main; main(17, 18)"


def good_run(**changes):
    run = check.Run(0, list(GOOD_OUTPUT), children={101: WORKER})
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def test_a_clean_run_passes():
    assert check.judge(good_run()) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"returncode": 1}, "exit status 1"),
        ({"returncode": None}, "did not finish in time"),
        ({"lines": [*GOOD_OUTPUT[:2], "self-test: 1 passed, 1 failed"]}, "verdict"),
        ({"lines": GOOD_OUTPUT[:2]}, "last line"),
        ({"lines": [*GOOD_OUTPUT[:2], "self-test: 0 passed, 0 failed"]}, "verdict"),
        ({"lines": GOOD_OUTPUT[2:]}, "process pool did not run"),
        ({"children": {}}, "no multiprocessing worker"),
        ({"qt_children": {101: WORKER}}, "loaded Qt"),
        ({"leftovers": ["pid 7: /app/freezelab"]}, "still running"),
    ],
)
def test_each_kind_of_failure_is_reported(changes, problem):
    problems = check.judge(good_run(**changes))
    assert len(problems) == 1 and problem in problems[0]


def script(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def test_run_app_collects_the_output_and_finds_no_stragglers_after_a_clean_exit(tmp_path):
    app = script(
        tmp_path,
        "clean",
        """
        import subprocess, sys
        subprocess.run([sys.executable, "-c", "print('child done')"], check=True)
        print("self-test: 2 passed, 0 failed")
        """,
    )
    env = check.isolated_env(tmp_path / "home", "clean-run")
    run = check.run_app(app, env, timeout=60, echo=lambda _: None)
    assert run.returncode == 0
    assert run.lines == ["child done", "self-test: 2 passed, 0 failed"]
    assert run.leftovers == []


def test_run_app_finds_and_kills_a_process_the_app_left_behind(tmp_path):
    # The app starts a process in a session of its own (so it is not even a child any more) and exits.
    app = script(
        tmp_path,
        "leaky",
        """
        import subprocess, sys
        code = "import signal; signal.pause()"  # runs until killed
        child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        print(child.pid)
        """,
    )
    env = check.isolated_env(tmp_path / "home", "leaky-run")
    run = check.run_app(app, env, timeout=60, grace=0.5, echo=lambda _: None)
    leaked = int(run.lines[0])
    assert run.returncode == 0
    assert len(run.leftovers) == 1 and run.leftovers[0].startswith(f"pid {leaked}:")
    # The checker killed it: it is gone, or a zombie until whoever adopted it reaps it.
    with contextlib.suppress(psutil.NoSuchProcess):
        assert psutil.Process(leaked).status() in {psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD}


def test_run_app_kills_an_app_that_never_finishes(tmp_path):
    app = script(tmp_path, "stuck", "import signal; print('started', flush=True); signal.pause()\n")
    env = check.isolated_env(tmp_path / "home", "stuck-run")
    run = check.run_app(app, env, timeout=1, grace=0.5, echo=lambda _: None)
    assert run.returncode is None
    assert any("did not finish" in p for p in check.judge(run))


def test_look_at_children_tells_a_child_that_loaded_qt_from_one_that_did_not():
    hold = "import sys; print('up', flush=True); sys.stdin.read()"  # stay alive until stdin closes
    with_qt = subprocess.Popen(
        [sys.executable, "-c", "import PySide6.QtGui; " + hold],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    without_qt = subprocess.Popen(
        [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        for child in (with_qt, without_qt):
            assert child.stdout.readline() == "up\n"
        run = check.Run(None, [])
        check.look_at_children(psutil.Process(), run)
        assert {with_qt.pid, without_qt.pid} <= set(run.children)
        assert with_qt.pid in run.qt_children
        assert without_qt.pid not in run.qt_children
    finally:
        for child in (with_qt, without_qt):
            child.stdin.close()
            child.wait(timeout=30)
            child.stdout.close()


def test_isolated_env_moves_home_and_marks_the_processes(tmp_path):
    env = check.isolated_env(tmp_path, "abc")
    assert env["HOME"] == str(tmp_path)
    assert env["XDG_DATA_HOME"] == str(tmp_path / ".local" / "share")
    assert env["QT_QPA_PLATFORM"] == "offscreen"
    assert env[check.MARKER] == "abc"
    assert "PATH" in env


@pytest.mark.parametrize(
    ("cmd", "kind"),
    [
        (
            "/a/freezelab -B -S -I -c from multiprocessing.resource_tracker import main;main(14)",
            "resource tracker",
        ),
        (WORKER, "fork server (or a worker it forked)"),
        ("/a/freezelab --multiprocessing-fork parent_pid=3 pipe_handle=9", "spawned worker"),
        ("/a/freezelab --self-test", "other (/a/freezelab --self-test)"),
    ],
)
def test_kind_of_names_the_multiprocessing_helpers(cmd, kind):
    assert check.kind_of(cmd) == kind


def test_sizes_group_packages_and_plugins_and_skip_symlinks(tmp_path):
    files = {
        "freezelab": 100,
        "_internal/PySide6/Qt/lib/libQt6Core.so.6": 3000,
        "_internal/PySide6/Qt/plugins/platforms/libqxcb.so": 500,
        "_internal/PySide6/Qt/plugins/imageformats/libqsvg.so": 700,
        "_internal/aiohttp/_http_parser.so": 400,
        "_internal/aiohttp/web.pyc": 600,
        "_internal/libpython3.11.so.1.0": 2000,
    }
    for name, size in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    (tmp_path / "_internal" / "libQt6Core.so.6").symlink_to("PySide6/Qt/lib/libQt6Core.so.6")
    assert check.part_sizes(tmp_path) == {
        "PySide6/Qt/lib/libQt6Core.so.6": 3000,
        "libpython3.11.so.1.0": 2000,
        "PySide6/Qt/plugins/": 1200,
        "aiohttp/": 1000,
        "freezelab": 100,
    }
    report = check.size_report(tmp_path, 2)
    assert report[1].endswith("PySide6/Qt/lib/libQt6Core.so.6") and report[2].endswith("libpython3.11.so.1.0")
    assert len(report) == 4  # heading, two parts, the rest


def fake_app(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "freezelab"
    path.write_text(f"#!{sys.executable}\nimport sys\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_startup_is_timed_to_the_first_paint_when_the_app_reports_it(tmp_path):
    app = fake_app(
        tmp_path,
        """
        if "--help" in sys.argv:
            print("  --quit-after-paint  like --report-paint, then quit")
        elif sys.argv[1:] == ["--quit-after-paint"]:
            print("freezelab: painted", flush=True)
        else:
            sys.exit(3)
        """,
    )
    flags, times = check.startup_times(app, check.isolated_env(tmp_path, "t"), 3)
    assert flags == "--quit-after-paint" and len(times) == 3 and all(t > 0 for t in times)


def test_without_the_paint_flag_startup_falls_back_to_quit_after_0(tmp_path):
    app = fake_app(
        tmp_path, "sys.exit(0 if sys.argv[1:] in ([], ['--help'], ['--quit-after', '0']) else 3)\n"
    )
    flags, times = check.startup_times(app, check.isolated_env(tmp_path, "t"), 2)
    assert flags.startswith("--quit-after 0") and len(times) == 2


def test_an_app_that_never_paints_is_a_startup_problem(tmp_path):
    app = fake_app(tmp_path, 'print("--quit-after-paint" if "--help" in sys.argv else "no window")\n')
    problems = check.report_startup(app, check.isolated_env(tmp_path, "t"), 2)
    assert len(problems) == 1 and "failed" in problems[0]


def test_main_refuses_a_missing_app(tmp_path, capsys):
    assert check.main([str(tmp_path / "dist" / "freezelab" / "freezelab")]) == 2
    assert "make package" in capsys.readouterr().err
