"""The packaged app's entry script: every process of the frozen app starts there, workers included."""

import json
import subprocess
import sys

from tests.packaging.helpers import PACKAGING, ROOT

HEAVY = ("PySide6", "qasync", "aiohttp", "pyqtgraph", "numpy")

PROBE = """
import json, runpy, sys
names = runpy.run_path(sys.argv[1], run_name="not_main")  # import it the way a worker would, without running
import gui.app
print(json.dumps({
    "main_is_gui_app_main": names["main"] is gui.app.main,
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in %r),
}))
"""


def test_the_entry_script_runs_gui_app_main_and_imports_nothing_heavy_on_the_way():
    # A frozen worker process runs this script up to main()'s freeze_support(): if importing it pulled in
    # Qt (say, a top-level Qt import added to gui/app.py), every pool worker would load Qt for nothing.
    out = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), str(PACKAGING / "freezelab_main.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["main_is_gui_app_main"]
    assert result["heavy"] == []


def test_main_calls_freeze_support_before_anything_else():
    # PyInstaller's multiprocessing hook does its work inside freeze_support(): the fork server, the
    # resource tracker and spawned workers branch off there. It must come before argument parsing.
    import ast
    import inspect

    import gui.app

    body = ast.parse(inspect.getsource(gui.app.main)).body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring
    assert ast.unparse(body[0]) == "multiprocessing.freeze_support()"
