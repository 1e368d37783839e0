"""The packaged app's one executable: the desktop, the headless CLI, and its own helpers.

A PyInstaller bundle has no ``python -m``: the app's helper processes must be started
through the bundle's executable. So this entry point

- calls ``multiprocessing.freeze_support()`` first: a job, sync or discovery process
  (``services.jobs.run_in_subprocess``, multiprocessing *spawn*) and multiprocessing's
  resource tracker re-run this executable with multiprocessing's own arguments, and
  PyInstaller's runtime hook diverts them there to run their target and exit;
- runs the headless ``tutormax`` CLI when started with the hidden first argument
  :data:`CLI_FLAG` (how the app starts the built-in sandbox server, see
  :func:`cli_command`) or when invoked under the name ``tutormax`` (the archive ships a
  ``tutormax`` link to the same executable; the Windows bundle a console twin
  ``tutormax.exe`` beside the windowed desktop), except ``tutormax --self-test``, which
  is the desktop's self-test run where its report can be read;
- otherwise runs the desktop (``tutormax_desktop.gui.main``), ``--self-test`` included.

Unfrozen (a source checkout, an installed wheel) the same functions give ``python -m``
command lines, so the code that starts helper processes is the same in both.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Hidden: not in --help; only the app itself passes it.
CLI_FLAG = "--tutormax-cli"
CLI_NAME = "tutormax"


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def cli_command(*args: str) -> list[str]:
    """The argv that runs ``tutormax <args>`` in a new process, bundled or not."""
    if is_frozen():
        return [sys.executable, CLI_FLAG, *args]
    return [sys.executable, "-m", "tutormax_desktop.cli", *args]


def bundle_root() -> Path | None:
    """The folder of the bundle's executable; None when running from source."""
    return Path(sys.executable).resolve().parent if is_frozen() else None


def ensure_streams() -> None:
    """Give a windowed executable somewhere to print: a Windows GUI executable starts
    with ``sys.stdout``/``sys.stderr`` set to None, and the first print (a library's
    warning, argparse's --help) would raise instead of being lost."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def main(argv: Sequence[str] | None = None) -> int:
    import multiprocessing

    # Must come before anything else: in a spawned child this call never returns.
    multiprocessing.freeze_support()
    ensure_streams()
    args = list(sys.argv[1:] if argv is None else argv)
    as_cli = Path(sys.argv[0]).stem == CLI_NAME and args[:1] != ["--self-test"]
    if args[:1] == [CLI_FLAG] or as_cli:
        from tutormax_desktop import cli

        return cli.main(args[1:] if args[:1] == [CLI_FLAG] else args)
    from tutormax_desktop import gui

    return gui.main(args)


if __name__ == "__main__":
    raise SystemExit(main())
