# PyInstaller hook, found through hookspath in freezelab.spec.
# pyqtgraph imports the Qt 6 binding's OpenGL modules under computed names
# (importlib.import_module(f"{QT_LIB}.QtOpenGL")) as soon as `import pyqtgraph` runs (PlotCurveItem imports
# this module), and import analysis cannot see computed names. Without this, `import pyqtgraph` fails in
# the bundle with "No module named 'PySide6.QtOpenGL'". The app never turns OpenGL on; the import is all.
hiddenimports = ["PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets"]
