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
