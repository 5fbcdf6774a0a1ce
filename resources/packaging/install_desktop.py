"""Put Freeze Lab in the Linux applications menu, pointing at the built app (`make install-desktop`).

    python resources/packaging/install_desktop.py [--app dist/freezelab/freezelab] [--uninstall]

Per user, no root needed, following the freedesktop.org specs: the launcher goes to
$XDG_DATA_HOME/applications/freezelab.desktop (default ~/.local/share), the icons to the hicolor theme
under $XDG_DATA_HOME/icons. Desktops watch those folders and pick the entry up by themselves; no cache
is written (a user-level icon-theme.cache would hide icons other apps install later). The launcher runs the
app where it was built: move or delete dist/freezelab and the entry disappears (TryExec) until you install
it again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1]
ROOT = RESOURCES.parent
TEMPLATE = RESOURCES / "freezelab.desktop"
ICONS = RESOURCES / "icons"
APP_ID = "freezelab"
PNG_SIZES = (48, 64, 128, 256)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def quote_exec(path: Path) -> str:
    """A path as one argument of a desktop entry's Exec key (the spec's quoting rules)."""
    text = str(path)
    if not any(c in text for c in " \t\n\"'\\><~|&;$*?#()`"):
        return text
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in text)
    return f'"{escaped}"'


def desktop_entry(app: Path) -> str:
    """The template with Exec and TryExec pointing at `app`."""
    out = []
    for line in TEMPLATE.read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = f"Exec={quote_exec(app)}"
        elif line.startswith("TryExec="):
            line = f"TryExec={app}"  # TryExec is a plain path, not a command line
        elif line.startswith("#"):
            continue  # the template's notes are for this repository, not for the installed copy
        out.append(line)
    return "\n".join(out) + "\n"


def targets(home: Path) -> dict[Path, Path | None]:
    """Installed file -> its source (None: the desktop entry, which is generated)."""
    files: dict[Path, Path | None] = {home / "applications" / f"{APP_ID}.desktop": None}
    hicolor = home / "icons" / "hicolor"
    for size in PNG_SIZES:
        files[hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png"] = ICONS / f"freezelab-{size}.png"
    files[hicolor / "scalable" / "apps" / f"{APP_ID}.svg"] = ICONS / "freezelab.svg"
    return files


def install(app: Path, home: Path) -> list[Path]:
    app = app.resolve()
    if not (app.is_file() and os.access(app, os.X_OK)):
        raise SystemExit(f"install-desktop: {app} is not an executable - build it first with `make package`")
    written = []
    for target, source in targets(home).items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if source is None:
            target.write_text(desktop_entry(app), encoding="utf-8")
        else:
            shutil.copyfile(source, target)
        written.append(target)
    return written


def uninstall(home: Path) -> list[Path]:
    removed = []
    for target in targets(home):
        if target.exists():
            target.unlink()
            removed.append(target)
    return removed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Add (or remove) Freeze Lab's launcher in the applications menu.")
    p.add_argument("--app", type=Path, default=ROOT / "dist" / APP_ID / APP_ID, help="the built executable")
    p.add_argument("--data-home", type=Path, default=None, help="default: $XDG_DATA_HOME or ~/.local/share")
    p.add_argument("--uninstall", action="store_true", help="remove the launcher and icons instead")
    args = p.parse_args(argv)
    home = args.data_home or data_home()
    if args.uninstall:
        removed = uninstall(home)
        print(f"install-desktop: removed {len(removed)} files from {home}")
    else:
        written = install(args.app, home)
        print(f"install-desktop: {written[0]} -> {args.app.resolve()} (+ {len(written) - 1} icons)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
