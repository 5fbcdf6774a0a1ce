"""Linux desktop integration: the .desktop template, the icon files, and `make install-desktop`."""

import configparser
import os
import stat
import struct
from pathlib import Path

import pytest

from tests.packaging.helpers import ROOT, load

install_desktop = load("install_desktop")
render_icons = load("render_icons")

ICONS = ROOT / "resources" / "icons"


def parse_desktop(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(text)
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_desktop_template_is_a_launchable_application_entry():
    entry = parse_desktop((ROOT / "resources" / "freezelab.desktop").read_text(encoding="utf-8"))
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Freeze Lab"
    assert entry["Exec"] == entry["TryExec"] == "freezelab"
    assert entry["Terminal"] == "false"
    assert entry["Icon"] == install_desktop.APP_ID  # a theme icon name, installed by install-desktop
    assert entry["Categories"].endswith(";") and "Education" in entry["Categories"].split(";")
    # Qt sets WM_CLASS to (executable name, application name): the menu entry groups the window under it.
    assert entry["StartupWMClass"] == "freezelab"


@pytest.mark.parametrize("size", render_icons.PNG_SIZES)
def test_each_png_icon_has_its_size(size):
    assert png_size((ICONS / f"freezelab-{size}.png").read_bytes()) == (size, size)


def test_the_windows_icon_holds_png_images_of_the_listed_sizes():
    data = (ICONS / "freezelab.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind, count) == (0, 1, len(render_icons.ICO_SIZES))
    sizes = []
    for n in range(count):
        width, height, _, _, _, _, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * n)
        image = data[offset : offset + length]
        sizes.append(png_size(image)[0])
        assert (width or 256) == (height or 256) == sizes[-1]
    assert sizes == list(render_icons.ICO_SIZES)


def test_the_macos_icon_is_a_well_formed_icns_file():
    data = (ICONS / "freezelab.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    at, found = 8, {}
    while at < len(data):
        kind, length = data[at : at + 4], struct.unpack(">I", data[at + 4 : at + 8])[0]
        found[kind] = png_size(data[at + 8 : at + length])[0]
        at += length
    assert at == len(data)
    assert found == {kind: size for size, kind in render_icons.ICNS_TYPES.items()}


def test_the_ico_and_icns_writers_lay_out_what_they_are_given():
    pngs = {16: fake_png(16), 32: fake_png(32)}
    ico = render_icons.ico(pngs)
    assert struct.unpack_from("<HHH", ico, 0) == (0, 1, 2)
    assert ico.endswith(pngs[16] + pngs[32])
    icns = render_icons.icns(pngs)
    assert icns[:4] == b"icns" and len(icns) == 8 + sum(8 + len(p) for p in pngs.values())


def fake_png(size: int) -> bytes:
    """A valid PNG header of the given size (the writers only copy the bytes)."""
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", size, size) + b"\0" * 9


@pytest.mark.parametrize(
    ("path", "quoted"),
    [
        ("/opt/freezelab/freezelab", "/opt/freezelab/freezelab"),
        ("/home/a b/freezelab", '"/home/a b/freezelab"'),
        ('/home/x$y"z/freezelab', '"/home/x\\$y\\"z/freezelab"'),
    ],
)
def test_exec_paths_are_quoted_by_the_desktop_entry_rules(path, quoted):
    assert install_desktop.quote_exec(Path(path)) == quoted


@pytest.fixture
def built_app(tmp_path):
    """A stand-in for dist/freezelab/freezelab, in a folder with a space in its name."""
    app = tmp_path / "my apps" / "freezelab" / "freezelab"
    app.parent.mkdir(parents=True)
    app.write_text("#!/bin/sh\n")
    app.chmod(app.stat().st_mode | stat.S_IXUSR)
    return app


def test_install_points_the_launcher_at_the_built_app_and_installs_the_icons(tmp_path, built_app):
    home = tmp_path / "share"
    install_desktop.install(built_app, home)
    entry_text = (home / "applications" / "freezelab.desktop").read_text(encoding="utf-8")
    entry = parse_desktop(entry_text)
    assert entry["Exec"] == f'"{built_app}"'
    assert entry["TryExec"] == str(built_app)
    assert entry["Icon"] == "freezelab"
    assert not any(line.startswith("#") for line in entry_text.splitlines())
    hicolor = home / "icons" / "hicolor"
    for size in install_desktop.PNG_SIZES:
        installed = hicolor / f"{size}x{size}" / "apps" / "freezelab.png"
        assert installed.read_bytes() == (ICONS / f"freezelab-{size}.png").read_bytes()
    svg = hicolor / "scalable" / "apps" / "freezelab.svg"
    assert svg.read_bytes() == (ICONS / "freezelab.svg").read_bytes()


def test_install_twice_then_uninstall_leaves_nothing(tmp_path, built_app):
    home = tmp_path / "share"
    first = install_desktop.install(built_app, home)
    assert install_desktop.install(built_app, home) == first
    removed = install_desktop.uninstall(home)
    assert sorted(removed) == sorted(first)
    assert not [p for p in home.rglob("*") if p.is_file() and "freezelab" in p.name]


def test_install_refuses_an_app_that_was_not_built(tmp_path):
    with pytest.raises(SystemExit, match="make package"):
        install_desktop.install(tmp_path / "dist" / "freezelab" / "freezelab", tmp_path / "share")
    assert not (tmp_path / "share").exists()


def test_the_command_line_uses_xdg_data_home(tmp_path, built_app, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert install_desktop.main(["--app", str(built_app)]) == 0
    assert (tmp_path / "xdg" / "applications" / "freezelab.desktop").is_file()
    assert install_desktop.main(["--uninstall"]) == 0
    assert not (tmp_path / "xdg" / "applications" / "freezelab.desktop").exists()
    assert "removed 6 files" in capsys.readouterr().out


def test_the_default_data_home_is_under_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert install_desktop.data_home() == Path(os.path.expanduser("~")) / ".local" / "share"
