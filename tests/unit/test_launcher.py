"""The bundle's one executable: desktop, CLI and helper processes from one entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tutormax_desktop import launcher

ROOT = Path(__file__).resolve().parents[2]


def test_helper_commands_use_python_m_from_source_and_the_executable_when_frozen(monkeypatch):
    assert launcher.cli_command("sandbox", "serve") == [
        sys.executable, "-m", "tutormax_desktop.cli", "sandbox", "serve",
    ]  # fmt: skip
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/tutormax-desktop/tutormax-desktop")
    assert launcher.is_frozen()
    assert launcher.cli_command("sandbox", "serve") == [
        "/opt/tutormax-desktop/tutormax-desktop", launcher.CLI_FLAG, "sandbox", "serve",
    ]  # fmt: skip
    assert launcher.bundle_root() == Path("/opt/tutormax-desktop")


@pytest.mark.parametrize(
    ("argv0", "args", "expected"),
    [
        ("/opt/t/tutormax-desktop", [launcher.CLI_FLAG, "--version"], "tutormax 0."),
        ("/opt/t/tutormax", ["--version"], "tutormax 0."),
        ("/opt/t/tutormax-desktop", ["--version"], "tutormax-desktop 0."),
    ],
)
def test_the_entry_point_runs_the_cli_or_the_desktop(monkeypatch, capsys, argv0, args, expected):
    monkeypatch.setattr(sys, "argv", [argv0, *args])
    with pytest.raises(SystemExit) as exited:
        launcher.main()
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(expected)


def test_the_cli_flag_works_through_a_real_process():
    # What the desktop does to start its sandbox server when frozen, minus the freezing.
    out = subprocess.run(
        [sys.executable, "-m", "tutormax_desktop.launcher", launcher.CLI_FLAG, "worker", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: tutormax worker")


def test_the_cli_name_with_self_test_runs_the_desktops_self_test(monkeypatch):
    # tutormax.exe (the Windows console twin) is where the self-test's report is read.
    seen: list[tuple[str, list[str]]] = []
    from tutormax_desktop import cli, gui

    monkeypatch.setattr(gui, "main", lambda args: seen.append(("gui", args)) or 0)
    monkeypatch.setattr(cli, "main", lambda args: seen.append(("cli", args)) or 0)
    monkeypatch.setattr(sys, "argv", ["C:/TutorMax/tutormax.exe", "--self-test", "--keep"])
    assert launcher.main() == 0
    monkeypatch.setattr(sys, "argv", ["C:/TutorMax/tutormax.exe", "alerts", "list"])
    assert launcher.main() == 0
    assert seen == [("gui", ["--self-test", "--keep"]), ("cli", ["alerts", "list"])]


def test_a_windowed_executable_without_streams_can_still_print(monkeypatch):
    # A Windows GUI executable starts with sys.stdout and sys.stderr set to None.
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    launcher.ensure_streams()
    print("a library's warning")
    print("argparse's usage", file=sys.stderr)
    assert not sys.stdout.closed and not sys.stderr.closed
    sys.stdout.close()
    sys.stderr.close()


def test_the_spec_builds_a_windowed_desktop_and_a_console_cli_on_windows():
    spec = (ROOT / "build" / "tutormax-desktop.spec").read_text()
    # Read, not run (PyInstaller runs specs only inside a build): the Windows branch
    # must ask for a windowed desktop and a console executable named tutormax.
    assert "console=not WINDOWS" in spec
    assert 'name="tutormax"' in spec and "console=True" in spec
    assert "COLLECT(*executables" in spec
    iss = (ROOT / "build" / "windows" / "tutormax-desktop.iss").read_text()
    assert 'DestName: "tutormax.exe"' not in iss  # the bundle has it; no copy of the GUI one
    assert '{app}\\tutormax.exe"; Parameters: "--self-test --keep"' in iss
