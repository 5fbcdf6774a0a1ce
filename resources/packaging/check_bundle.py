"""Check a built Freeze Lab bundle: `make package-test` runs this after `make package`.

    python resources/packaging/check_bundle.py dist/freezelab/freezelab [--sizes 15] [--startup 5]
        [--max-mib 150]

1. Runs `freezelab --self-test` offscreen with HOME and the XDG folders pointed at a fresh temporary
   folder: on Linux the app then takes its default data directory there (nothing lands in the real
   home) and its first-run path (build the demo database) is exercised. (Windows and macOS: see
   data_args.)
2. Passes only when: exit status 0; the last line reads `self-test: N passed, 0 failed`; the process
   mode ran; worker processes really started, and none of them loaded Qt (a worker that re-ran the GUI
   would have); a demo database was built; and once the app has exited no process it started is still
   running. Every process the app starts inherits a marker environment variable, so even a
   double-forked straggler is found (and killed).
3. Optionally: the bundle's size breakdown and a size limit, and the start-up time to a painted window
   (median of N launches).

Needs psutil (a dependency of the app, so it is in the project's venv).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil

MARKER = "FREEZELAB_BUNDLE_CHECK"
VERDICT = re.compile(r"^self-test: (\d+) passed, (\d+) failed$")
QT_LIBRARY = re.compile(r"(libQt6Gui|Qt6Gui\.dll|QtGui\.framework)", re.IGNORECASE)
PAINTED = "freezelab: painted"  # what --report-paint / --quit-after-paint print at the first paint
SAMPLE_S = 0.05  # how often the running app's child processes are looked at


@dataclass
class Run:
    """What one launch of the app did."""

    returncode: int | None  # None: killed after the timeout
    lines: list[str]
    children: dict[int, str] = field(default_factory=dict)  # pid -> command line, every child seen
    qt_children: dict[int, str] = field(default_factory=dict)  # children that had Qt loaded
    leftovers: list[str] = field(default_factory=list)  # processes still running after the app exited


def data_args(home: Path) -> list[str]:
    """Linux: none - the app finds its default data directory under XDG_DATA_HOME, inside `home`, which
    is what the check wants to exercise. Windows and macOS ask the OS for that folder, whatever HOME says,
    so there the app is told where its data goes, to keep the real one untouched."""
    return [] if sys.platform.startswith("linux") else ["--data-dir", str(home / "data")]


def isolated_env(home: Path, marker: str) -> dict[str, str]:
    """The app's environment: offscreen Qt, a throwaway home, and the marker its processes inherit."""
    env = dict(os.environ)
    env.update(
        {
            "QT_QPA_PLATFORM": "offscreen",
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "APPDATA": str(home / "AppData" / "Roaming"),  # Windows
            "LOCALAPPDATA": str(home / "AppData" / "Local"),
            MARKER: marker,
        }
    )
    return env


def run_app(cmd: list[str], env: dict[str, str], timeout: float, grace: float = 10.0, echo=print) -> Run:
    """Run `cmd` to the end, watching its child processes; then wait up to `grace` seconds for every
    process carrying this run's marker to exit, and kill (and report) those that don't."""
    marker = env[MARKER]
    proc = psutil.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            echo(f"  | {lines[-1]}")

    reader = threading.Thread(target=read, name="app-output", daemon=True)
    reader.start()
    run = Run(None, lines)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        look_at_children(proc, run)
        time.sleep(SAMPLE_S)
    if proc.poll() is None:
        echo(f"check: no exit after {timeout:g} s - killing the app")
        _kill_tree(proc)
    else:
        run.returncode = proc.returncode
    proc.wait()
    # Before reading to the end: a process the app left behind may hold its output pipe open.
    run.leftovers = stragglers(marker, grace)
    reader.join()
    proc.stdout.close()
    return run


def look_at_children(proc: psutil.Process, run: Run) -> None:
    try:
        children = proc.children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        try:
            if child.pid not in run.children:
                run.children[child.pid] = " ".join(child.cmdline())
            if child.pid not in run.qt_children and any(
                QT_LIBRARY.search(m.path) for m in child.memory_maps()
            ):
                run.qt_children[child.pid] = run.children[child.pid]
        except psutil.Error:  # it exited meanwhile, or is a zombie
            continue


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        try:
            if (
                p.pid != os.getpid()
                and p.status() != psutil.STATUS_ZOMBIE
                and p.environ().get(MARKER) == marker
            ):
                found.append(p)
        except psutil.Error:  # gone, or not ours to read
            continue
    return found


def stragglers(marker: str, grace: float) -> list[str]:
    """Processes carrying `marker` still running `grace` seconds from now. They are killed (and reaped or
    left as zombies for their parent, no longer running) before this returns."""
    # multiprocessing's resource tracker notices the app is gone and exits a moment later: give it time.
    deadline = time.monotonic() + grace
    while (alive := _marked(marker)) and time.monotonic() < deadline:
        psutil.wait_procs(alive, timeout=0.2)
    report = []
    for p in alive:
        try:
            report.append(f"pid {p.pid}: {' '.join(p.cmdline())}")
            p.kill()
        except psutil.Error:
            continue
    deadline = time.monotonic() + 10
    while any(map(_running, alive)) and time.monotonic() < deadline:  # SIGKILL takes effect asynchronously
        time.sleep(SAMPLE_S)
    return report


def _running(p: psutil.Process) -> bool:
    try:
        return p.status() not in {psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD}
    except psutil.NoSuchProcess:
        return False


def _kill_tree(proc: psutil.Process) -> None:
    try:
        family = [*proc.children(recursive=True), proc]
    except psutil.Error:
        family = [proc]
    for p in family:
        with contextlib.suppress(psutil.Error):
            p.kill()


def judge(run: Run) -> list[str]:
    """Everything wrong with a self-test run (empty: it passed)."""
    problems = []
    if run.returncode is None:
        problems.append("the self-test did not finish in time")
    elif run.returncode != 0:
        problems.append(f"exit status {run.returncode}, expected 0")
    verdict = VERDICT.match(run.lines[-1]) if run.lines else None
    if verdict is None:
        problems.append("the last line is not 'self-test: N passed, M failed'")
    elif int(verdict.group(2)) != 0 or int(verdict.group(1)) == 0:
        problems.append(f"self-test verdict: {run.lines[-1]!r}")
    if not any(line.startswith("PASS cpu/process ran") for line in run.lines):
        problems.append("no passing 'cpu/process ran' line: the process pool did not run")
    workers = [cmd for cmd in run.children.values() if "multiprocessing" in cmd]
    if not workers:
        problems.append("no multiprocessing worker process was seen")
    for pid, cmd in run.qt_children.items():
        problems.append(f"child process {pid} loaded Qt (a worker must not start the GUI): {cmd}")
    for line in run.leftovers:
        problems.append(f"still running after the app exited (killed now): {line}")
    return problems


def kind_of(cmd: str) -> str:
    """A child process's role, from its command line."""
    if "multiprocessing.resource_tracker" in cmd:
        return "resource tracker"
    if "multiprocessing.forkserver" in cmd:
        return "fork server (or a worker it forked)"
    if "--multiprocessing-fork" in cmd:
        return "spawned worker"
    return f"other ({cmd[:80]})"


def demo_databases(home: Path) -> list[Path]:
    return sorted(home.rglob("demo*.sqlite3"))


# --- size and start-up reports ----------------------------------------------------------------------------


def part_of(relative: Path) -> str:
    """Group a bundle file into a 'part': a Python package folder counts as one part, and so do the Qt
    plugins and Python's own extension modules; libraries and the executable count one each."""
    parts = relative.parts
    if parts[0] == "_internal":  # PyInstaller >= 6 puts everything but the executable there
        parts = parts[1:]
    if len(parts) >= 3 and parts[0] == "PySide6" and parts[2] == "plugins":
        return "PySide6/Qt/plugins/"
    if parts[0] in {"PySide6", "shiboken6"} and len(parts) > 1:
        return "/".join(parts)  # each Qt library and binding module on its own
    if len(parts) > 1:
        return parts[0] + "/"
    return parts[0]


def part_sizes(bundle: Path) -> Counter[str]:
    """Bytes per part (see part_of); symlinks count nothing, their targets are counted once."""
    sizes: Counter[str] = Counter()
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink():
            sizes[part_of(path.relative_to(bundle))] += path.stat().st_size
    return sizes


def bundle_mib(bundle: Path) -> float:
    return sum(part_sizes(bundle).values()) / 2**20


def size_report(bundle: Path, top: int) -> list[str]:
    sizes = part_sizes(bundle)
    total = sum(sizes.values())
    lines = [f"size: {bundle} {total / 2**20:.1f} MiB in {len(sizes)} parts; the largest {top}:"]
    lines += [f"  {size / 2**20:7.1f} MiB  {name}" for name, size in sizes.most_common(top)]
    rest = total - sum(size for _, size in sizes.most_common(top))
    lines.append(f"  {rest / 2**20:7.1f} MiB  (everything else)")
    return lines


def startup_times(app: Path, env: dict[str, str], runs: int) -> tuple[str, list[float]]:
    """Seconds from launch to the first paint of the window, for `runs` launches.

    With `--quit-after-paint` (the app prints PAINTED when its window is first painted, then quits) this is
    exactly the time to a painted window. An app without it gets `--quit-after 0` and is timed to its exit:
    start-up, show and a full clean quit, an upper bound."""
    helptext = subprocess.run(
        [str(app), "--help"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    paint = "--quit-after-paint" in helptext
    flags = ["--quit-after-paint"] if paint else ["--quit-after", "0"]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(app), *flags, *data_args(Path(env["HOME"]))],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        with proc:
            painted = None
            for line in proc.stdout:
                if painted is None and line.startswith(PAINTED):
                    painted = time.perf_counter() - started
            if proc.wait(timeout=60) != 0 or (paint and painted is None):
                raise RuntimeError(f"`{app.name} {' '.join(flags)}` failed (exit {proc.returncode})")
        times.append(painted if paint else time.perf_counter() - started)
    return " ".join(flags) + ("" if paint else " (to exit: no --quit-after-paint)"), times


def report_startup(app: Path, env: dict[str, str], runs: int) -> list[str]:
    try:
        flags, times = startup_times(app, env, runs)
    except (RuntimeError, subprocess.SubprocessError) as exc:
        return [f"start-up timing: {exc}"]
    print(
        f"startup: launch to painted window, `{app.name} {flags}`: median {statistics.median(times):.2f} s "
        f"over {len(times)} runs ({', '.join(f'{t:.2f}' for t in times)})"
    )
    return [f"after the start-up runs: {line}" for line in stragglers(env[MARKER], 10.0)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Check a built Freeze Lab bundle (see the module docstring).")
    p.add_argument("app", type=Path, help="the bundle's executable, e.g. dist/freezelab/freezelab")
    p.add_argument("--timeout", type=float, default=300, help="seconds the self-test may take")
    p.add_argument("--startup", type=int, default=0, metavar="N", help="also time N launches")
    p.add_argument("--sizes", type=int, default=0, metavar="N", help="also list the N largest parts")
    p.add_argument("--max-mib", type=float, default=None, help="fail when the bundle is larger than this")
    args = p.parse_args(argv)
    app = args.app.resolve()
    if not (app.is_file() and os.access(app, os.X_OK)):
        print(f"check: {args.app} is not an executable - run `make package` first", file=sys.stderr)
        return 2
    if args.sizes:
        print("\n".join(size_report(app.parent, args.sizes)))
    size_problems = []
    if args.max_mib is not None and (mib := bundle_mib(app.parent)) > args.max_mib:
        size_problems.append(f"the bundle is {mib:.1f} MiB, over the {args.max_mib:g} MiB limit")
    with tempfile.TemporaryDirectory(prefix="freezelab-check-") as tmp:
        home = Path(tmp)
        env = isolated_env(home, uuid.uuid4().hex)
        print(f"check: {app} --self-test (offscreen, HOME={home})")
        started = time.perf_counter()
        run = run_app([str(app), "--self-test", *data_args(home)], env, args.timeout)
        print(f"check: self-test took {time.perf_counter() - started:.1f} s")
        problems = size_problems + judge(run)
        kinds = Counter(kind_of(cmd) for cmd in run.children.values())
        seen = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none"
        print(f"check: child processes seen: {seen}")
        dbs = demo_databases(home)
        if not dbs:
            problems.append(f"no demo database was built in the app's data directory, under {home}")
        else:
            print(f"check: demo database built in the app's data directory: {dbs[0].relative_to(home)}")
        if args.startup and not problems:  # only a bundle that works is worth timing
            problems += report_startup(app, env, args.startup)
    for problem in problems:
        print(f"FAIL {problem}")
    print("check: bundle OK" if not problems else f"check: {len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
