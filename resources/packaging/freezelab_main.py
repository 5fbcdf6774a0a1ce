"""PyInstaller's entry script for the packaged app: the same `gui.app:main` the `freezelab` command runs.

Keep it this small. Every process of the frozen app starts here - the GUI, and also multiprocessing's
fork server, resource tracker and spawned pool workers, which re-run this executable. main() calls
multiprocessing.freeze_support() before anything else, and that is where those helpers branch off, so
nothing heavy (Qt above all) may be imported at module level, here or in gui.app.
"""

import sys

from gui.app import main

if __name__ == "__main__":
    sys.exit(main())
