"""What blocked the UI: a watchdog thread notices when the GUI thread stops beating and reads its stack.

The GUI thread calls ``beat()`` on every heartbeat tick (it only stores a timestamp). A background thread
wakes a few times a second; while the beats keep coming it does nothing else - zero meaningful cost when
the UI is healthy. When the watched thread has not beaten for longer than the threshold, the UI is frozen:
the watchdog reads that thread's current stack with ``sys._current_frames()`` on every wake until the beats
resume, then records one ``Freeze`` naming where the thread spent most of the time, e.g.

    services/fetch.py:78 fetch_blocking → socket.py readinto

The name is two frames: the one in *our* code nearest to the blocking call (the outermost frame of the
contiguous run of frames in the same project file, so the public function - ``fetch_blocking`` - rather
than a private helper), and the innermost Python frame of all (where the wait really happens).

This works because a thread blocked in I/O or sleep releases the GIL, and even a thread busy in pure
Python code hands the GIL over every few milliseconds (sys.getswitchinterval), so the watchdog can run.
"""

from __future__ import annotations

import logging
import sys
import sysconfig
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).absolute().parent.parent
PROJECT_DIRS = (PROJECT_ROOT / "services", PROJECT_ROOT / "gui")
DEFAULT_THRESHOLD_S = 0.2  # a UI that misses its ticks for longer than this is frozen
DEFAULT_POLL_S = 0.05  # how often the watchdog wakes; also the sampling period during a freeze
HISTORY = 500  # freezes kept
ARROW = " → "


@dataclass(frozen=True)
class Freeze:
    start: float  # perf_counter of the last beat before the freeze
    end: float  # perf_counter of the first beat after it (or the latest sample while still frozen)
    samples: int  # how many stacks were read during the freeze
    where: str | None  # most common place: "services/fetch.py:78 fetch_blocking → socket.py readinto"
    ongoing: bool = False  # True: the thread is still frozen (the end is provisional)

    @property
    def seconds(self) -> float:
        return self.end - self.start


class Watchdog:
    """``wd = Watchdog(); wd.start()``; call ``wd.beat()`` from the watched thread; ``wd.stop()`` at exit.

    ``on_freeze(freeze)`` is called ON THE WATCHDOG THREAD when a freeze ends: a GUI must hand it over to
    its own thread (e.g. emit a Qt signal, which queues across threads).
    """

    def __init__(
        self,
        thread_ident: int | None = None,
        threshold_s: float = DEFAULT_THRESHOLD_S,
        *,
        poll_s: float = DEFAULT_POLL_S,
        project_dirs: Iterable[str | Path] = PROJECT_DIRS,
        on_freeze: Callable[[Freeze], None] | None = None,
    ) -> None:
        self.ident = thread_ident if thread_ident is not None else threading.get_ident()
        self.threshold_s = threshold_s
        self.poll_s = poll_s
        self.project_dirs = tuple(Path(d).absolute() for d in project_dirs)
        self.on_freeze = on_freeze
        self._last_beat: float | None = None  # None: not armed (no beat yet, or reset)
        self._resumed: tuple[float, float] | None = None  # (last beat before, first beat after) a gap
        self._freezes: deque[Freeze] = deque(maxlen=HISTORY)
        self._lock = threading.Lock()  # guards _freezes and the freeze in progress
        self._current: tuple[float, Counter[str]] | None = None  # the freeze in progress: (start, places)
        self._sampled = threading.Event()  # set while a freeze has at least one sample
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checks = 0  # how many times the watchdog has woken (for tests and diagnostics)

    # --- the watched thread ------------------------------------------------------------------------------
    def beat(self) -> None:
        """The watched thread is alive. Cheap: a timestamp and one comparison, no lock."""
        now = time.perf_counter()
        last = self._last_beat
        if last is not None and now - last > self.threshold_s:
            self._resumed = (last, now)  # the exact end of a freeze (the watchdog wakes a little later)
        self._last_beat = now

    def reset(self) -> None:
        """Forget the last beat (before the heartbeat stops on purpose): no freeze until the next beat."""
        self._last_beat = None

    # --- life cycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.beat()  # armed from now: the watched thread is expected to beat from here on
        # Not a daemon: stop() joins it, so nothing is left running at exit.
        self._thread = threading.Thread(target=self._run, name="freezelab-watchdog")
        self._thread.start()

    def stop(self) -> None:
        """Stop and join the watchdog thread. Safe to call twice, or without start()."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_sampled(self, timeout: float | None = None) -> bool:
        """Block until a freeze in progress has been sampled at least once (for tests and tools)."""
        return self._sampled.wait(timeout)

    # --- results -----------------------------------------------------------------------------------------
    def freezes(self) -> list[Freeze]:
        """Every recorded freeze, oldest first, plus the one in progress (``ongoing=True``) if any."""
        with self._lock:
            found = list(self._freezes)
            if self._current is not None:  # still frozen as far as we know: it lasts until now
                start, places = self._current
                now = time.perf_counter()
                found.append(Freeze(start, now, sum(places.values()), _most_common(places), ongoing=True))
        return found

    def freezes_between(self, t0: float, t1: float) -> list[Freeze]:
        """Freezes that overlap [t0, t1] (perf_counter times) - including one still in progress.

        A GUI asking right after a blocking call returns sees the freeze as ongoing: the heartbeat has not
        ticked again yet, so the watchdog cannot know it is over.
        """
        return [f for f in self.freezes() if f.start < t1 and f.end > t0]

    def describe(self, t0: float, t1: float) -> str | None:
        """Where the UI was stuck for longest inside [t0, t1], or None when it was not (or not sampled).

        Only the part of a freeze inside the window counts, and it must be a real part of it: a run that
        starts just as the previous run's freeze ends is not blamed for that freeze.
        """

        def inside(f: Freeze) -> float:
            return min(f.end, t1) - max(f.start, t0)

        found = [f for f in self.freezes_between(t0, t1) if f.where and inside(f) > self.threshold_s / 2]
        return max(found, key=inside).where if found else None

    # --- the watchdog thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.checks += 1
            self._check()
        self._end_freeze(time.perf_counter())  # record a freeze in progress at stop

    def _check(self) -> None:
        last, now = self._last_beat, time.perf_counter()
        current = self._current
        if current is not None and (last is None or last > current[0]):
            # Beats resumed (or reset): it is over. beat() noted when exactly, if it saw the gap.
            resumed = self._resumed
            if resumed is not None and resumed[0] == current[0]:
                self._end_freeze(resumed[1])
            else:
                self._end_freeze(last if last is not None else now)
            current = None
        if last is None or now - last <= self.threshold_s:
            return  # healthy: nothing else to do
        frame = sys._current_frames().get(self.ident)
        if frame is None:
            return  # the watched thread has ended: nothing is frozen
        place = describe_stack(_stack(frame), self.project_dirs)
        del frame  # hold no reference to another thread's frame
        with self._lock:
            if self._current is None:
                self._current = (last, Counter())
            if place:
                self._current[1][place] += 1
                self._sampled.set()

    def _end_freeze(self, end: float) -> None:
        with self._lock:
            if self._current is None:
                return
            start, places = self._current
            freeze = Freeze(start, max(end, start), sum(places.values()), _most_common(places))
            self._freezes.append(freeze)
            self._current = None
            self._sampled.clear()
        if self.on_freeze is not None:
            try:
                self.on_freeze(freeze)
            except Exception:  # a faulty callback must not kill the watchdog
                log.exception("watchdog on_freeze callback failed")


# --- naming a stack --------------------------------------------------------------------------------------

_Entry = tuple[Path, int, str]  # (file, line, function)


def _stack(frame: FrameType | None) -> list[_Entry]:
    """The frames from the innermost outwards."""
    entries = []
    while frame is not None:
        entries.append((Path(frame.f_code.co_filename), frame.f_lineno or 0, frame.f_code.co_name))
        frame = frame.f_back
    return entries


def describe_stack(stack: Sequence[_Entry], project_dirs: Sequence[Path] = PROJECT_DIRS) -> str | None:
    """'our/file.py:LINE function → library/file.py function' for a stack given innermost first."""
    if not stack:
        return None
    ours = next((i for i, (path, _, _) in enumerate(stack) if _inside(path, project_dirs)), None)
    inner_path, _, inner_func = stack[0]
    if ours is None:  # nothing of ours on the stack: the innermost frame is all we can say
        return f"{short_path(inner_path, project_dirs)} {inner_func}"
    # Walk outwards while we stay in the same file: the public function, not its private helper.
    top = ours
    while top + 1 < len(stack) and stack[top + 1][0] == stack[ours][0]:
        top += 1
    path, line, func = stack[top]
    text = f"{short_path(path, project_dirs)}:{line} {func}"
    if ours == 0:  # the innermost Python frame is ours: it waits inside a C call (sleep, lock, ...)
        return text if top == 0 else f"{text}{ARROW}{inner_func}"
    return f"{text}{ARROW}{short_path(inner_path, project_dirs)} {inner_func}"


_SITE_DIRS = tuple(dict.fromkeys(Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")))


def _inside(path: Path, dirs: Sequence[Path]) -> bool:
    return any(path.is_relative_to(d) for d in dirs)


def short_path(path: Path, project_dirs: Sequence[Path] = PROJECT_DIRS) -> str:
    """services/fetch.py, requests/sessions.py, socket.py: short enough for a status line."""
    for d in project_dirs:
        if path.is_relative_to(d):
            return path.relative_to(d.parent).as_posix()
    for site in _SITE_DIRS:
        if path.is_relative_to(site):
            parts = path.relative_to(site).parts
            return "/".join(parts) if len(parts) <= 2 else f"{parts[0]}/…/{parts[-1]}"
    return path.name  # the standard library and anything else


def _most_common(places: Counter[str]) -> str | None:
    return places.most_common(1)[0][0] if places else None
