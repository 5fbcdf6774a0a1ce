"""What goes into the packaged app and what is left out: the decisions behind freezelab.spec.

Plain functions over PyInstaller's TOC entries - tuples (place in the bundle, source file, type code) - so
tests/packaging can check them without running a 30-second build. No PyInstaller import here.
"""

from __future__ import annotations

import posixpath
import re
import struct
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

Entry = tuple[str, str, str]  # (destination inside the bundle, source path, type code)

# Files removed after analysis, matched against their place inside the bundle (forward slashes).
# Kept on Linux: platforms xcb (a real window, on X11 or through XWayland) and offscreen (the self-test,
# CI); xcb's GL integrations (tiny); imageformats/iconengines svg and ico; the xdg-desktop-portal theme
# (native file dialogs); the compose and ibus input contexts (typing accents and CJK).
# Dropped on purpose: the gtk3 theme plugin. It is the one plugin that loads the *system's* GTK 3, which
# then meets the bundle's own copies of glib/cairo/pango (from the build machine) in one process.
# Windows and macOS keep their own platform plugins (qwindows, qcocoa) and styles: no rule matches them.
PRUNE = (
    r"PySide6/Qt/translations/",  # the UI is English only (Linux and macOS wheel layout)
    r"PySide6/translations/",  # (Windows wheel layout)
    r"/plugins/platforms/(lib)?q(eglfs|linuxfb|minimal|minimalegl|vnc|vkkhrdisplay|wayland|direct2d)[-.\w]*$",
    r"/plugins/(egldeviceintegrations|generic|wayland-[^/]+|networkinformation|tls|sqldrivers|qmltooling)/",
    r"/plugins/platformthemes/(lib)?qgtk3",
    r"/plugins/platforminputcontexts/[^/]*virtualkeyboard",
    r"/plugins/imageformats/(lib)?q(gif|icns|jpeg|pdf|tga|tiff|wbmp|webp)[^/]*$",
)
_PRUNE = re.compile("|".join(f"(?:{p})" for p in PRUNE))


def dest(entry: Entry) -> str:
    return entry[0].replace("\\", "/")


def link_target(entry: Entry) -> str:
    """Where a SYMLINK entry (link, target relative to the link's folder, "SYMLINK") points in the bundle."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(dest(entry)), entry[1].replace("\\", "/")))


def package_data(root: Path, package: str) -> list[tuple[str, str]]:
    """Every data file of a resources package (not its Python files), for Analysis(datas=...).

    They land at the package's own place in the bundle, next to its modules, which is where
    importlib.resources.files(package) looks in a PyInstaller app.
    """
    folder = root.joinpath(*package.split("."))
    target = "/".join(package.split("."))
    return [
        (str(path), target)
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix not in {".py", ".pyc"}
    ]


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """The release numbers of a PEP 440 version as the four numbers a Windows version resource takes."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    if match is None:
        raise ValueError(f"not a version number: {version!r}")
    numbers = [int(n) for n in match.group(1).split(".")][:4]
    return (*numbers, *[0] * (4 - len(numbers)))  # type: ignore[return-value]


def is_root(entry: Entry) -> bool:
    """Binaries loaded by something other than the dynamic linker: Python (extension modules), Qt
    (plugins) and PyInstaller's bootloader (libpython). Everything else is there because a root links it."""
    name = Path(dest(entry)).name
    return entry[2] == "EXTENSION" or "/plugins/" in dest(entry) or name.startswith(("libpython", "python3"))


def orphans(binaries: Iterable[Entry], linked: Callable[[str], Iterable[str]]) -> set[str]:
    """Destinations of shared libraries that no root among `binaries` links to.

    `linked(source_path)` gives the names of the libraries a file needs, its whole dependency tree (on
    Linux PyInstaller asks `ldd`, which walks the tree), so one pass over the roots is enough.
    """
    binaries = list(binaries)
    needed: set[str] = set()
    for entry in binaries:
        if is_root(entry):
            needed.add(Path(dest(entry)).name)
            needed.update(Path(name).name for name in linked(entry[1]))
    return {
        dest(e) for e in binaries if e[2] != "SYMLINK" and not is_root(e) and Path(dest(e)).name not in needed
    }


def strip_binaries(binaries: list[Entry], workdir: Path, strip: str | None) -> list[Entry]:
    """Point each shared library / extension module entry at a copy without symbols it doesn't need.

    Compiled Python packages (aiohttp, multidict ...) and a pyenv or self-built Python ship with debug
    symbols: ~20 MB here. PyInstaller's own strip=True does the same, but blindly, and stripping the
    patchelf-ed libraries of auditwheel-repaired wheels (numpy.libs/...) makes them unloadable ("ELF load
    command address/offset not page-aligned"). So: skip those folders, strip a copy, and keep the original
    whenever strip fails or the copy's segments are no longer page-aligned (loadable_layout).
    """
    if not strip:
        return list(binaries)
    out = []
    for entry in binaries:
        source = Path(entry[1])
        if entry[2] in {"BINARY", "EXTENSION"} and not any(
            p.endswith(".libs") for p in Path(dest(entry)).parts
        ):
            copy = workdir / "stripped" / dest(entry)
            copy.parent.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [strip, "--strip-unneeded", "-o", str(copy), str(source)], capture_output=True, check=False
            )
            if done.returncode == 0 and copy.stat().st_size < source.stat().st_size and loadable_layout(copy):
                entry = (entry[0], str(copy), entry[2])
        out.append(entry)
    return out


def loadable_layout(path: Path) -> bool:
    """True if `path` is an ELF file whose loadable segments satisfy offset == address (mod alignment),
    what the dynamic loader checks first. Anything that is not ELF counts as False."""
    with path.open("rb") as f:
        ident = f.read(64)
        if len(ident) < 64 or ident[:4] != b"\x7fELF":
            return False
        wide, endian = ident[4] == 2, "<" if ident[5] == 1 else ">"
        if wide:
            phoff, phentsize, phnum = (
                *struct.unpack_from(endian + "Q", ident, 32),
                *struct.unpack_from(endian + "HH", ident, 54),
            )
        else:
            phoff, phentsize, phnum = (
                *struct.unpack_from(endian + "I", ident, 28),
                *struct.unpack_from(endian + "HH", ident, 42),
            )
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    if len(table) < phentsize * phnum:
        return False
    for n in range(phnum):
        if wide:  # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
            kind, _, offset, vaddr, _, _, _, align = struct.unpack_from(
                endian + "IIQQQQQQ", table, n * phentsize
            )
        else:  # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align
            kind, offset, vaddr, _, _, _, _, align = struct.unpack_from(
                endian + "IIIIIIII", table, n * phentsize
            )
        if kind == 1 and align > 1 and (offset - vaddr) % align:  # PT_LOAD
            return False
    return True


def prune(
    binaries: list[Entry],
    datas: list[Entry],
    linked: Callable[[str], Iterable[str]] | None = None,
) -> tuple[list[Entry], list[Entry], list[Entry]]:
    """Drop what PRUNE matches; then, given `linked` (Linux), every library only dropped files needed;
    then symlinks whose target is gone. Returns the kept binaries, the kept datas and the dropped entries."""
    drop = {dest(e) for e in binaries + datas if _PRUNE.search(dest(e))}
    if linked is not None:
        drop |= orphans((e for e in binaries if dest(e) not in drop), linked)
    kept = {dest(e) for e in binaries + datas if dest(e) not in drop}
    drop |= {dest(e) for e in binaries + datas if e[2] == "SYMLINK" and link_target(e) not in kept}
    return (
        [e for e in binaries if dest(e) not in drop],
        [e for e in datas if dest(e) not in drop],
        sorted((e for e in binaries + datas if dest(e) in drop), key=dest),
    )
