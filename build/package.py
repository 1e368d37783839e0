"""Build the installers: ``make package`` / ``make package-test``.

    python build/package.py                 # bundle + this platform's installer
    python build/package.py --if-needed     # only when a source is newer than the bundle
    python build/package.py --self-test     # then run the bundle's --self-test

Linux: the one-folder bundle at ``dist/tutormax-desktop/`` and
``dist/tutormax-desktop-<version>-linux-x86_64.tar.gz`` (the bundle, a .desktop file, the
icon and ``install.sh``). Windows: the same bundle, then ``build/windows/tutormax-desktop.iss``
through Inno Setup's ISCC when it is installed. macOS: ``TutorMax Desktop.app`` in a
.dmg (``build/macos/make_dmg.sh``, hdiutil). PyInstaller's work folder is outside the
repository (``TUTORMAX_BUILD_DIR``, default a folder in the system temp); ``dist/`` is
git-ignored. Sizes and times go to ``artifacts/package.json`` (benchmarks/package_bench.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
DIST = ROOT / "dist"
NAME = "tutormax-desktop"
SPEC = BUILD / f"{NAME}.spec"
BUNDLE = DIST / NAME
REPORT = ROOT / "artifacts" / "package.json"
# What a bundle is built from: newer files here mean the bundle is stale.
SOURCES = ("tutormax_desktop", "ui", "viewmodels", "services", "ml", "resources", "build")
# Folders in the bundle that are never used at run time (the app is English-only; Qt's
# translations are for Qt's own dialogs in other languages).
PRUNE = ("PySide6/Qt/translations",)


def version() -> str:
    text = (ROOT / "tutormax_desktop" / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r'__version__\s*=\s*"([^"]+)"', text)
    if not m:
        raise SystemExit("no __version__ in tutormax_desktop/__init__.py")
    return m.group(1)


def work_dir() -> Path:
    given = os.environ.get("TUTORMAX_BUILD_DIR")
    return Path(given) if given else Path(tempfile.gettempdir()) / "tutormax-build"


def executable(bundle: Path = BUNDLE) -> Path:
    return bundle / (f"{NAME}.exe" if sys.platform == "win32" else NAME)


def newest_source() -> float:
    newest = 0.0
    for top in SOURCES:
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                newest = max(newest, path.stat().st_mtime)
    return max(newest, (ROOT / "pyproject.toml").stat().st_mtime)


def is_stale() -> bool:
    exe = executable()
    return not exe.exists() or exe.stat().st_mtime < newest_source()


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# ---------------------------------------------------------------------- icons


def render_icons(out: Path) -> dict[str, Path]:
    """The SVG app icon as PNGs (and .ico / .icns where Qt can write them), via Qt."""
    out.mkdir(parents=True, exist_ok=True)
    script = f"""
import sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
app = QGuiApplication(["icons"])
renderer = QSvgRenderer({str(ROOT / "resources" / "icons" / "app.svg")!r})
out = {str(out)!r}
for size in (16, 32, 48, 64, 128, 256, 512):
    img = QImage(size, size, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    renderer.render(p)
    p.end()
    assert img.save(f"{{out}}/tutormax-{{size}}.png"), size
    if size == 256:
        img.save(f"{{out}}/tutormax.png")
        img.save(f"{{out}}/tutormax.ico")   # needs Qt's ico plugin; checked below
        img.save(f"{{out}}/tutormax.icns")  # macOS only (qicns plugin)
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)
    shutil.copy2(ROOT / "resources" / "icons" / "app.svg", out / "tutormax.svg")
    return {p.name: p for p in out.iterdir()}


# ---------------------------------------------------------------------- bundle


def build_bundle(work: Path, icons: Path) -> float:
    started = time.perf_counter()
    env = {**os.environ, "TUTORMAX_ICON_DIR": str(icons), "TUTORMAX_VERSION": version()}
    cmd = [
        sys.executable, "-m", "PyInstaller", str(SPEC),
        "--noconfirm",
        "--log-level", "WARN",
        "--workpath", str(work / "pyinstaller"),
        "--distpath", str(DIST),
    ]  # fmt: skip
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    prune(BUNDLE / "_internal")
    return time.perf_counter() - started


def prune(internal: Path) -> None:
    """Remove what is never used at run time: Qt's translations and the test data that
    library hooks collect with their package data (e.g. sklearn/datasets/tests). Python
    modules live in the PYZ archive, so a ``tests`` folder here holds data only."""
    for rel in PRUNE:
        shutil.rmtree(internal / rel, ignore_errors=True)
    for folder in sorted(internal.rglob("tests"), reverse=True):
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


DESKTOP_ENTRY = """\
[Desktop Entry]
Type=Application
Name=TutorMax Desktop
GenericName=Tutor marketplace operations
Comment=Tutor churn, first-session risk, customer health and marketplace operations
Exec={exec} %U
Icon={icon}
Terminal=false
Categories=Office;Education;
StartupWMClass=tutormax-desktop
Keywords=tutors;churn;marketplace;
"""

INSTALL_SH = """\
#!/bin/sh
# Installs TutorMax Desktop for this user: the bundle under ~/.local/opt, the menu entry
# and icon under ~/.local/share, `tutormax-desktop` and `tutormax` under ~/.local/bin.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
dest="$prefix/opt/tutormax-desktop"
mkdir -p "$prefix/opt" "$prefix/bin" "$prefix/share/applications" \\
         "$prefix/share/icons/hicolor/256x256/apps" "$prefix/share/icons/hicolor/scalable/apps"
if [ "$here" != "$dest" ]; then rm -rf "$dest" && cp -a "$here" "$dest"; fi
ln -sf "$dest/tutormax-desktop" "$prefix/bin/tutormax-desktop"
ln -sf "$dest/tutormax-desktop" "$prefix/bin/tutormax"
cp "$dest/share/icons/hicolor/256x256/apps/tutormax-desktop.png" \\
   "$prefix/share/icons/hicolor/256x256/apps/"
cp "$dest/share/icons/hicolor/scalable/apps/tutormax-desktop.svg" \\
   "$prefix/share/icons/hicolor/scalable/apps/"
sed "s|^Exec=.*|Exec=$dest/tutormax-desktop %U|" \\
    "$dest/share/applications/tutormax-desktop.desktop" \\
    > "$prefix/share/applications/tutormax-desktop.desktop"
command -v update-desktop-database >/dev/null && \\
    update-desktop-database "$prefix/share/applications" || true
echo "Installed in $dest; start it from the menu or with $prefix/bin/tutormax-desktop"
"""


def linux_extras(icons: dict[str, Path]) -> None:
    """The CLI name, the menu entry, the icon and an installer script, in the bundle."""
    cli = BUNDLE / "tutormax"
    if cli.is_symlink() or cli.exists():
        cli.unlink()
    # launcher.py runs the CLI when invoked under this name.
    cli.symlink_to(NAME)
    apps = BUNDLE / "share" / "applications"
    png = BUNDLE / "share" / "icons" / "hicolor" / "256x256" / "apps"
    svg = BUNDLE / "share" / "icons" / "hicolor" / "scalable" / "apps"
    for d in (apps, png, svg):
        d.mkdir(parents=True, exist_ok=True)
    (apps / f"{NAME}.desktop").write_text(
        DESKTOP_ENTRY.format(exec=NAME, icon=NAME), encoding="utf-8"
    )
    shutil.copy2(icons["tutormax.png"], png / f"{NAME}.png")
    shutil.copy2(icons["tutormax.svg"], svg / f"{NAME}.svg")
    install = BUNDLE / "install.sh"
    install.write_text(INSTALL_SH, encoding="utf-8")
    install.chmod(0o755)


def linux_archive() -> Path:
    machine = platform.machine().lower() or "x86_64"
    archive = DIST / f"{NAME}-{version()}-linux-{machine}.tar.gz"
    archive.unlink(missing_ok=True)
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(BUNDLE, arcname=NAME)  # symlinks are stored as links
    return archive


def windows_installer() -> Path | None:
    iscc = shutil.which("ISCC") or shutil.which("iscc")
    default = Path(os.environ.get("PROGRAMFILES(X86)", "C:/Program Files (x86)"))
    candidate = default / "Inno Setup 6" / "ISCC.exe"
    if iscc is None and candidate.exists():
        iscc = str(candidate)
    if iscc is None:
        print("Inno Setup (ISCC) not found: the bundle is built, the installer is not.")
        return None
    iss = BUILD / "windows" / f"{NAME}.iss"
    subprocess.run(
        [iscc, f"/DAppVersion={version()}", f"/DSourceDir={BUNDLE}", f"/O{DIST}", str(iss)],
        check=True,
    )
    return DIST / f"{NAME}-{version()}-windows-x64-setup.exe"


def macos_dmg() -> Path | None:
    if shutil.which("hdiutil") is None:
        print("hdiutil not found: the .app is built, the .dmg is not.")
        return None
    subprocess.run(["sh", str(BUILD / "macos" / "make_dmg.sh"), version()], check=True, cwd=ROOT)
    return DIST / f"{NAME}-{version()}-macos.dmg"


# ---------------------------------------------------------------------- self-test


def run_self_test(scale: str) -> tuple[int, float]:
    exe = executable()
    if sys.platform == "win32":  # the console twin: the windowed desktop prints nowhere
        exe = BUNDLE / "tutormax.exe"
    if sys.platform == "darwin":
        exe = DIST / "TutorMax Desktop.app" / "Contents" / "MacOS" / NAME
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    started = time.perf_counter()
    # Run from a neutral folder: nothing of the source tree may be found by accident.
    code = subprocess.run(
        [str(exe), "--self-test", "--self-test-scale", scale], cwd=tempfile.gettempdir(), env=env
    ).returncode
    return code, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--if-needed", action="store_true", help="skip the build if up to date")
    p.add_argument("--self-test", action="store_true", help="run the bundle's --self-test")
    p.add_argument("--scale", choices=("tiny", "demo"), default="demo", help="self-test scale")
    args = p.parse_args(argv)

    report: dict[str, object] = {}
    if REPORT.exists():
        try:
            report = json.loads(REPORT.read_text(encoding="utf-8"))
        except ValueError:
            report = {}
    report.update(version=version(), platform=sys.platform)
    if args.if_needed and not is_stale():
        print(f"{BUNDLE} is up to date")
    else:
        work = work_dir()
        if work.resolve().is_relative_to(ROOT) and not str(work.resolve()).startswith(
            str(DIST.resolve())
        ):
            raise SystemExit(f"the work folder {work} must be outside the repository")
        icons = render_icons(work / "icons")
        seconds = build_bundle(work, work / "icons")
        report["build_seconds"] = round(seconds, 1)
        print(f"bundle built in {seconds:.0f} s")
        if sys.platform.startswith("linux"):
            linux_extras(icons)
            archive = linux_archive()
            report["archive"] = str(archive.relative_to(ROOT))
            report["archive_bytes"] = archive.stat().st_size
            print(f"archive {archive} ({archive.stat().st_size / 1e6:.0f} MB)")
        elif sys.platform == "win32":
            setup = windows_installer()
            report["installer"] = str(setup) if setup else None
        elif sys.platform == "darwin":
            dmg = macos_dmg()
            report["installer"] = str(dmg) if dmg else None
    report["bundle"] = str(BUNDLE.relative_to(ROOT))
    report["bundle_bytes"] = tree_size(BUNDLE)
    print(f"bundle {BUNDLE}: {report['bundle_bytes'] / 1e6:.0f} MB")
    code = 0
    if args.self_test:
        code, seconds = run_self_test(args.scale)
        report["self_test_seconds"] = round(seconds, 1)
        report["self_test_exit"] = code
        print(f"self-test of the bundle: exit {code} in {seconds:.0f} s")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
