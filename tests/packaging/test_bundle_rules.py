"""What the packaged app keeps and leaves out (resources/packaging/bundle_rules.py), without a build."""

import ast
import importlib.resources
import importlib.util
import shutil
import stat
import struct
import sys
import types
from pathlib import Path

import pytest

from tests.packaging.helpers import PACKAGING, ROOT, load

rules = load("bundle_rules")

KEEP = [
    # Linux (wheel layout PySide6/Qt/plugins)
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so",
    "PySide6/Qt/plugins/imageformats/libqsvg.so",
    "PySide6/Qt/plugins/imageformats/libqico.so",
    "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
    "PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so",
    "PySide6/Qt/plugins/platforminputcontexts/libibusplatforminputcontextplugin.so",
    "PySide6/Qt/lib/libQt6Gui.so.6",
    # Windows (PySide6/plugins) and macOS
    "PySide6/plugins/platforms/qwindows.dll",
    "PySide6/plugins/styles/qmodernwindowsstyle.dll",
    "PySide6/plugins/imageformats/qsvg.dll",
    "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
    "PySide6/Qt/plugins/styles/libqmacstyle.dylib",
    # the app's own files
    "resources/presets/fetch.json",
]
DROP = [
    "PySide6/Qt/translations/qtbase_de.qm",
    "PySide6/translations/qt_fr.qm",
    "PySide6/Qt/plugins/platforms/libqwayland.so",
    "PySide6/Qt/plugins/platforms/libqeglfs.so",
    "PySide6/Qt/plugins/platforms/libqminimalegl.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/plugins/platforms/qminimal.dll",
    "PySide6/plugins/platforms/qdirect2d.dll",
    "PySide6/Qt/plugins/wayland-shell-integration/libxdg-shell.so",
    "PySide6/Qt/plugins/egldeviceintegrations/libqeglfs-x11-integration.so",
    "PySide6/Qt/plugins/generic/libqevdevmouseplugin.so",
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so",
    "PySide6/Qt/plugins/imageformats/libqjpeg.so",
    "PySide6/Qt/plugins/imageformats/libqpdf.so",
    "PySide6/plugins/imageformats/qwebp.dll",
    "PySide6/Qt/plugins/imageformats/libqicns.dylib",
]


def test_prune_keeps_what_the_app_needs_and_drops_what_it_does_not():
    binaries = [(d, f"/src/{d}", "BINARY") for d in KEEP + DROP if not d.endswith(".qm")]
    datas = [(d, f"/src/{d}", "DATA") for d in KEEP + DROP if d.endswith(".qm")]
    kept_binaries, kept_datas, dropped = rules.prune(binaries, datas)  # no `linked`: not Linux
    kept = {e[0] for e in kept_binaries + kept_datas}
    assert kept == set(KEEP)
    assert sorted(e[0] for e in dropped) == sorted(DROP)


def test_windows_style_paths_are_matched_too():
    entry = ("PySide6\\translations\\qtbase_de.qm", "C:\\src\\qtbase_de.qm", "DATA")
    _, datas, dropped = rules.prune([], [entry])
    assert datas == [] and dropped == [entry]


def _linux_bundle():
    """A small Linux bundle: two plugins (one pruned), an extension module, libpython and libraries."""
    gtk = ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/src/gtk3", "BINARY")
    xcb = ("PySide6/Qt/plugins/platforms/libqxcb.so", "/src/xcb", "BINARY")
    ext = ("python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", "/src/_ssl", "EXTENSION")
    libpython = ("libpython3.11.so.1.0", "/src/libpython", "BINARY")
    cairo = ("libcairo.so.2", "/src/cairo", "BINARY")  # only the gtk3 plugin links it
    pixman = ("libpixman-1.so.0", "/src/pixman", "BINARY")  # only cairo links it
    cursor = ("libxcb-cursor.so.0", "/src/cursor", "BINARY")  # the xcb plugin links it
    wayland = ("PySide6/Qt/lib/libQt6WaylandClient.so.6", "/src/wayland", "BINARY")  # nothing links it
    ssl = ("libssl.so.3", "/src/ssl", "BINARY")  # the extension links it
    link_to_wayland = ("libQt6WaylandClient.so.6", "PySide6/Qt/lib/libQt6WaylandClient.so.6", "SYMLINK")
    link_to_cursor = ("PySide6/Qt/lib/libxcb-cursor.so.0", "../../../libxcb-cursor.so.0", "SYMLINK")
    binaries = [gtk, xcb, ext, libpython, cairo, pixman, cursor, wayland, ssl]
    binaries += [link_to_wayland, link_to_cursor]
    # ldd lists the whole tree: the gtk3 plugin needs cairo and, through it, pixman.
    tree = {
        "/src/gtk3": ["libcairo.so.2", "libpixman-1.so.0", "libxcb-cursor.so.0"],
        "/src/xcb": ["libxcb-cursor.so.0", "libQt6Gui.so.6"],
        "/src/_ssl": ["libssl.so.3", "libcrypto.so.3"],
        "/src/libpython": [],
    }
    return binaries, tree


def test_on_linux_libraries_only_pruned_plugins_needed_go_too():
    binaries, tree = _linux_bundle()
    asked = []

    def linked(path):
        asked.append(path)
        return tree[path]

    kept, _, dropped = rules.prune(binaries, [], linked)
    assert {e[0] for e in kept} == {
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
        "libpython3.11.so.1.0",
        "libxcb-cursor.so.0",
        "libssl.so.3",
        "PySide6/Qt/lib/libxcb-cursor.so.0",  # a link to a kept library stays
    }
    assert {e[0] for e in dropped} == {
        "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
        "libcairo.so.2",
        "libpixman-1.so.0",
        "PySide6/Qt/lib/libQt6WaylandClient.so.6",
        "libQt6WaylandClient.so.6",  # the link would dangle
    }
    assert "/src/gtk3" not in asked  # a pruned plugin's needs don't count


def test_elsewhere_only_the_listed_files_go():
    binaries, _ = _linux_bundle()
    kept, _, dropped = rules.prune(binaries, [], None)
    assert [e[0] for e in dropped] == ["PySide6/Qt/plugins/platformthemes/libqgtk3.so"]
    assert len(kept) == len(binaries) - 1


@pytest.mark.parametrize(
    ("entry", "target"),
    [
        (("libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6", "SYMLINK"), "PySide6/Qt/lib/libQt6Core.so.6"),
        (("PySide6/libfoo.so", "Qt/lib/libfoo.so", "SYMLINK"), "PySide6/Qt/lib/libfoo.so"),
        (("PySide6/Qt/lib/libbar.so", "../../../libbar.so", "SYMLINK"), "libbar.so"),
    ],
)
def test_a_symlink_target_is_relative_to_the_link_folder(entry, target):
    assert rules.link_target(entry) == target


def test_package_data_takes_every_data_file_but_no_python(tmp_path):
    folder = tmp_path / "res" / "presets"
    (folder / "__pycache__").mkdir(parents=True)
    for name in ("__init__.py", "fetch.json", "queries.sql", "urls.txt"):
        (folder / name).write_text("x")
    (folder / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"x")
    found = rules.package_data(tmp_path, "res.presets")
    assert found == [(str(folder / n), "res/presets") for n in ("fetch.json", "queries.sql", "urls.txt")]


def test_the_app_resources_the_spec_collects_are_the_ones_importlib_resources_reads():
    for package in ("resources.presets", "resources.icons"):
        collected = {Path(src).name for src, _ in rules.package_data(ROOT, package)}
        expected = {
            f.name
            for f in importlib.resources.files(package).iterdir()
            if f.is_file() and not f.name.endswith((".py", ".pyc"))
        }
        assert collected == expected and collected


@pytest.mark.parametrize(
    ("version", "numbers"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2", (1, 2, 0, 0)), ("2.0.1rc1", (2, 0, 1, 0)), ("1.2.3.4.5", (1, 2, 3, 4))],
)
def test_version_tuple_takes_the_release_numbers(version, numbers):
    assert rules.version_tuple(version) == numbers


def test_version_tuple_rejects_a_non_version():
    with pytest.raises(ValueError, match="not a version"):
        rules.version_tuple("latest")


def _an_elf_file() -> Path:
    """A compiled extension module: an ELF shared object on Linux."""
    import _ssl

    import psutil

    return Path(getattr(_ssl, "__file__", None) or psutil._psutil_linux.__file__)


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files: Linux only")


@linux_only
def test_loadable_layout_accepts_a_real_library_and_rejects_a_misaligned_one(tmp_path):
    good = _an_elf_file()
    assert rules.loadable_layout(good)
    bad = tmp_path / "bad.so"
    data = bytearray(good.read_bytes())
    phoff, phentsize, phnum = struct.unpack_from("<Q", data, 32)[0], *struct.unpack_from("<HH", data, 54)
    for n in range(phnum):  # shift the first loadable segment's file offset by one byte
        at = phoff + n * phentsize
        if struct.unpack_from("<I", data, at)[0] == 1:
            struct.pack_into("<Q", data, at + 8, struct.unpack_from("<Q", data, at + 8)[0] + 1)
            break
    bad.write_bytes(bytes(data))
    assert not rules.loadable_layout(bad)
    text = tmp_path / "notes.txt"
    text.write_text("not ELF at all, but long enough to read a header from" * 2)
    assert not rules.loadable_layout(text)


def _fake_strip(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-strip"
    script.write_text(f"#!{sys.executable}\nimport sys, shutil\nargs = sys.argv[1:]\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@linux_only
def test_strip_binaries_uses_the_smaller_copy_and_leaves_wheel_libs_and_data_alone(tmp_path):
    source = tmp_path / "src" / "_ext.so"
    source.parent.mkdir()
    source.write_bytes(_an_elf_file().read_bytes() + b"\0" * 4096)  # "debug info" strip will remove
    # The fake strip copies its input minus the padding: a smaller, still loadable file.
    strip = _fake_strip(tmp_path, "open(args[-2], 'wb').write(open(args[-1], 'rb').read()[:-4096])")
    entries = [
        ("pkg/_ext.so", str(source), "EXTENSION"),
        ("numpy.libs/libopenblas.so", str(source), "BINARY"),  # auditwheel-grafted: never stripped
        ("pkg/data.json", str(source), "DATA"),
    ]
    out = rules.strip_binaries(entries, tmp_path / "work", strip)
    assert out[0] == ("pkg/_ext.so", str(tmp_path / "work" / "stripped" / "pkg" / "_ext.so"), "EXTENSION")
    assert Path(out[0][1]).stat().st_size == source.stat().st_size - 4096
    assert out[1:] == entries[1:]
    assert rules.strip_binaries(entries, tmp_path / "work", None) == entries  # no strip tool: unchanged


@linux_only
def test_strip_binaries_keeps_the_original_when_the_copy_would_not_load(tmp_path):
    source = tmp_path / "_ext.so"
    source.write_bytes(_an_elf_file().read_bytes())
    # This "strip" writes a smaller file that is not ELF at all.
    strip = _fake_strip(tmp_path, "open(args[-2], 'wb').write(b'garbage')")
    entries = [("pkg/_ext.so", str(source), "EXTENSION")]
    assert rules.strip_binaries(entries, tmp_path / "work", strip) == entries


@linux_only
@pytest.mark.skipif(shutil.which("strip") is None, reason="binutils' strip is not installed")
def test_real_strip_makes_a_loadable_copy(tmp_path):
    source = tmp_path / "_ssl.so"
    shutil.copyfile(_an_elf_file(), source)
    (entry,) = rules.strip_binaries([("_ssl.so", str(source), "EXTENSION")], tmp_path, shutil.which("strip"))
    assert rules.loadable_layout(Path(entry[1]))


def _spec_list(name: str) -> list[str]:
    """A top-level list assigned in freezelab.spec, read without running the spec."""
    tree = ast.parse((PACKAGING / "freezelab.spec").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"freezelab.spec assigns no list {name}")


def test_every_hidden_import_in_the_spec_exists():
    hidden = _spec_list("hiddenimports")
    assert "resources.presets" in hidden and "services.cpu" in hidden
    missing = [name for name in hidden if importlib.util.find_spec(name) is None]
    assert not missing


def test_the_spec_does_not_exclude_what_the_app_imports():
    excluded = set(_spec_list("excludes"))
    used = set()
    for folder in ("gui", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    used |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    used.add(node.module)
                    used |= {f"{node.module}.{alias.name}" for alias in node.names}
    clash = sorted(u for u in used if any(u == e or u.startswith(e + ".") for e in excluded))
    assert not clash, f"the app imports modules freezelab.spec leaves out: {clash}"


def test_the_pyqtgraph_hook_names_modules_that_exist():
    hook = PACKAGING / "hooks" / "hook-pyqtgraph.Qt.OpenGLHelpers.py"
    namespace: dict = {}
    exec(hook.read_text(encoding="utf-8"), namespace)
    assert namespace["hiddenimports"]
    assert all(importlib.util.find_spec(m) is not None for m in namespace["hiddenimports"])
    # The hook is named after the module it is for: if pyqtgraph renames it, the hook silently stops applying.
    pyqtgraph = Path(importlib.util.find_spec("pyqtgraph").origin).parent
    assert (pyqtgraph / "Qt" / "OpenGLHelpers.py").is_file()


def test_the_windows_version_resource_builds_from_the_project_version(monkeypatch):
    # Only a Windows build uses it; build it here anyway, so a typo can't wait for the first Windows build.
    pytest.importorskip("PyInstaller")
    # PyInstaller's versioninfo imports pefile and win32api (Windows only) to read and write .exe files;
    # building the resource object needs neither.
    import PyInstaller.compat

    monkeypatch.setitem(sys.modules, "pefile", sys.modules.get("pefile") or types.ModuleType("pefile"))
    win32api = getattr(PyInstaller.compat, "win32api", None)
    monkeypatch.setattr(PyInstaller.compat, "win32api", win32api, raising=False)
    monkeypatch.delitem(sys.modules, "PyInstaller.utils.win32.versioninfo", raising=False)
    tree = ast.parse((PACKAGING / "freezelab.spec").read_text(encoding="utf-8"))
    (func,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "windows_version_info"]
    namespace = {"bundle_rules": rules, "VERSION": "1.2.3", "NAME": "freezelab"}
    exec(compile(ast.Module([func], []), "freezelab.spec", "exec"), namespace)
    text = str(namespace["windows_version_info"]())
    assert "filevers=(1, 2, 3, 0)" in text
    assert "StringStruct('FileVersion', '1.2.3')" in text
    assert "StringStruct('OriginalFilename', 'freezelab.exe')" in text
