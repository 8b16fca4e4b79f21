"""Chromium for the dashboard's browser tests: the one on this machine, or Debian's package
installed the way ``.ci/run`` installs it (as root, with apt-get). Never a browser download.

``WAASP_TEST_CHROMIUM`` names the program to use instead of looking for one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = (("apt-get", "update", "-qq"), ("apt-get", "install", "-y", "-qq", "chromium"))
INSTALL_TIMEOUT = 900.0

Which = Callable[[str], str | None]
Run = Callable[..., subprocess.CompletedProcess[str]]


class ChromiumMissing(Exception):
    """No Chromium here, and none can be installed: the reason says what to do."""


class ChromiumMisconfigured(Exception):
    """WAASP_TEST_CHROMIUM names a program that does not exist."""


def installed(which: Which = shutil.which) -> str | None:
    """The Chromium program on PATH, if there is one."""
    return next((path for name in NAMES if (path := which(name))), None)


def ensure_chromium(
    environ: Mapping[str, str] = os.environ,
    *,
    which: Which = shutil.which,
    run: Run = subprocess.run,
    is_root: bool | None = None,
) -> str:
    """Return the path of a Chromium to drive, installing Debian's package when it is missing
    and this process may (root, apt-get). Raise ChromiumMissing when none can be had."""
    if explicit := environ.get("WAASP_TEST_CHROMIUM"):
        if not Path(explicit).exists():
            raise ChromiumMisconfigured(f"WAASP_TEST_CHROMIUM={explicit}: no such program")
        return explicit
    if found := installed(which):
        return found
    root = os.geteuid() == 0 if is_root is None else is_root
    if not root:
        raise ChromiumMissing(
            "Chromium is not installed, and only root can install it here: run "
            "`sudo apt-get install chromium` (or set WAASP_TEST_CHROMIUM to a Chromium)"
        )
    if which("apt-get") is None:
        raise ChromiumMissing(
            "Chromium is not installed, and there is no apt-get to install it with: install "
            "Chromium (or set WAASP_TEST_CHROMIUM to one)"
        )
    print("tests: installing Debian's chromium for the browser tests", file=sys.stderr)
    for argv in INSTALL:
        _install_step(argv, environ, run)
    if found := installed(which):
        return found
    raise ChromiumMissing("apt-get installed chromium, but no chromium program is on PATH")


def _install_step(argv: Sequence[str], environ: Mapping[str, str], run: Run) -> None:
    command = " ".join(argv)
    env = {**environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = run(
            list(argv),
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChromiumMissing(f"Chromium could not be installed: `{command}`: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise ChromiumMissing(
            f"Chromium could not be installed: `{command}` exited with {done.returncode}: {last[0]}"
        )
