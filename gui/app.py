"""Entry point: QApplication on a qasync event loop, services up, the window, and a clean quit."""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import traceback
from pathlib import Path

log = logging.getLogger("freezelab")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="freezelab", description="Make UI freezing visible: blocking vs async.")
    p.add_argument(
        "--self-test",
        action="store_true",
        help="drive every workload in every mode through the UI, check, and quit",
    )
    p.add_argument("--data-dir", type=Path, help="where the demo database and history live")
    p.add_argument(
        "--run",
        metavar="WORKLOAD[:MODE]",
        help="press Run on a panel right after start (demos, scripted checks), e.g. fetch:async",
    )
    p.add_argument(
        "--quit-after",
        type=float,
        metavar="SECONDS",
        help="close the window after SECONDS, exactly as a user would",
    )
    p.add_argument(
        "--report-paint",
        action="store_true",
        help="print 'freezelab: painted' to stdout when the window is first painted",
    )
    p.add_argument(
        "--quit-after-paint", action="store_true", help="like --report-paint, then quit (start-up timing)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    # First thing: in a frozen (PyInstaller) build, a spawned pool worker must run its job, not the GUI.
    multiprocessing.freeze_support()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if problem := missing_display():
        print(f"freezelab: {problem}", file=sys.stderr)
        return 2

    import qasync
    from PySide6.QtWidgets import QApplication

    raise_open_file_limit()
    install_qt_message_filter()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Freeze Lab")
    app.setOrganizationName("FreezeLab")
    app.setQuitOnLastWindowClosed(False)  # our main coroutine decides when to quit, after cleaning up
    app.setDesktopFileName("freezelab")  # matches resources/freezelab.desktop
    app.setWindowIcon(app_icon())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(run_app(args))
    finally:
        loop.close()
        asyncio.set_event_loop(None)


async def run_app(args: argparse.Namespace) -> int:
    from gui.context import AppContext
    from gui.main_window import MainWindow

    ctx = AppContext(data_dir=args.data_dir)
    try:
        await ctx.start()
        window = MainWindow(ctx)
    except BaseException:
        await ctx.aclose()  # stop the threads and processes start() began, or they keep the process alive
        raise
    quit_requested = asyncio.Event()
    window.close_requested.connect(quit_requested.set)
    loop = asyncio.get_running_loop()
    # Ctrl-C in the terminal quits the same way as closing the window. (Python runs signal handlers
    # between bytecodes; the heartbeat timer runs Python every frame, so this is prompt.)
    previous = signal.signal(signal.SIGINT, lambda *_: loop.call_soon_threadsafe(quit_requested.set))
    previous_hook = sys.excepthook
    sys.excepthook = _report_to(window)
    try:
        window.show()
        if args.self_test:
            from gui.selftest import run_self_test

            return await run_self_test(window)
        if args.run:
            _autorun(window, args.run)
        if args.quit_after is not None:
            loop.call_later(args.quit_after, window.close)
        if args.report_paint or args.quit_after_paint:
            _on_first_paint(window, quit_after=args.quit_after_paint)
        await quit_requested.wait()
        return 0
    finally:
        sys.excepthook = previous_hook
        signal.signal(signal.SIGINT, previous)
        window.hide()
        await ctx.aclose()
        window.deleteLater()


# Harmless platform-plugin chatter that would otherwise land on stderr (offscreen runs, CI, the self-test).
_QT_NOISE = ("This plugin does not support propagateSizeHints()", "This plugin does not support raise()")


def install_qt_message_filter() -> None:
    """Route Qt's own messages into logging, dropping known-harmless plugin noise."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    levels = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }
    qt_log = logging.getLogger("qt")

    def handler(kind, _context, message: str) -> None:
        if message not in _QT_NOISE:
            qt_log.log(levels.get(kind, logging.WARNING), "%s", message)

    qInstallMessageHandler(handler)


def app_icon():
    from importlib.resources import files

    from PySide6.QtGui import QIcon

    icon = QIcon()
    for size in (48, 64, 128, 256):
        icon.addFile(str(files("resources.icons") / f"freezelab-{size}.png"))
    return icon


def missing_display() -> str | None:
    """On Linux/BSD without a display Qt aborts with a cryptic plugin error: say what is wrong instead."""
    if not sys.platform.startswith(("linux", "freebsd")) or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no display found (neither DISPLAY nor WAYLAND_DISPLAY is set). Start it from a desktop session, "
        "under xvfb-run, or with QT_QPA_PLATFORM=offscreen for --self-test."
    )


def raise_open_file_limit(want: int = 8192) -> None:
    """A burst at concurrency 1000 holds ~2000 sockets (client + embedded server); many desktops start a
    process at 1024 open files. Raise the soft limit towards the hard one (POSIX only)."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _autorun(window, spec: str) -> None:
    workload, _, mode = spec.partition(":")
    panel = window.panels.get(workload)
    if panel is None:
        raise SystemExit(f"freezelab: unknown workload {workload!r} (choose from {', '.join(window.panels)})")
    if mode:
        if mode not in panel.modes:
            raise SystemExit(
                f"freezelab: unknown mode {mode!r} for {workload} (choose from {', '.join(panel.modes)})"
            )
        panel.select_mode(mode)
    window.tabs.setCurrentWidget(panel)
    panel.start_run()
    print(f"freezelab: running {workload}:{panel.effective_mode(window.ctx.mode())}", flush=True)


def _on_first_paint(window, quit_after: bool) -> None:
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, obj, event) -> bool:
            if event.type() == QEvent.Type.Paint:
                window.removeEventFilter(self)
                print("freezelab: painted", flush=True)
                if quit_after:  # after this paint has been flushed
                    QTimer.singleShot(0, window.close)
            return False

    window._first_paint = FirstPaint(window)  # keep a reference for the filter's lifetime
    window.installEventFilter(window._first_paint)


def _report_to(window):
    """An unexpected error in a handler: tell the user, log it, keep running."""

    def hook(exc_type, exc, tb) -> None:
        log.error("unexpected error:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)).rstrip())
        message = f"Unexpected error: {exc_type.__name__}: {exc}"
        window.banner.show_text(message + " — the app keeps running; details are in the log.", False)
        window.statusBar().showMessage(message, 15000)

    return hook


if __name__ == "__main__":
    sys.exit(main())
