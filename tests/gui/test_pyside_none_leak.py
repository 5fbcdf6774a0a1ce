"""Regression guard for the PySide6 6.12.0 / Python < 3.12 crash.

That release drops a reference to None on every call of a void method; a few thousand calls later the
process dies with "Fatal Python error: none_dealloc". pyproject pins PySide6-Essentials<6.12 for those
Pythons. The probe runs in a child process so that a regression fails this test instead of killing pytest.
"""

import os
import subprocess
import sys
from importlib.metadata import version

PROBE = r"""
import sys
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
obj, timer = QObject(), QTimer()
def void_calls(n):
    for _ in range(n):
        obj.setObjectName("x")
        timer.setInterval(5)
void_calls(100)  # warm up any caches
before = sys.getrefcount(None)
void_calls(1000)
print("delta", sys.getrefcount(None) - before, flush=True)
void_calls(20000)  # enough to kill the process on the broken release
print("survived", flush=True)
"""


def test_void_calls_keep_none_refcount_and_do_not_crash():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert "none_dealloc" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    delta = int(lines[lines.index("delta") + 1])
    assert abs(delta) < 10, f"None refcount moved by {delta} over 2000 void calls"
    assert "survived" in lines


def test_pin_excludes_the_broken_release_on_old_pythons():
    if sys.version_info < (3, 12):
        major, minor = (int(x) for x in version("PySide6-Essentials").split(".")[:2])
        assert (major, minor) < (6, 12), "PySide6-Essentials>=6.12 on Python < 3.12 crashes with none_dealloc"
