"""The browser tests' Chromium is found, or installed as .ci/run does, or clearly missing."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import ChromiumMisconfigured, ChromiumMissing, ensure_chromium


class FakeMachine:
    """PATH and apt-get, pretend: apt-get puts chromium on PATH (or fails, if told to)."""

    def __init__(self, *, chromium: bool = False, apt_get: bool = True, fails: str = "") -> None:
        self.programs = {"apt-get": "/usr/bin/apt-get"} if apt_get else {}
        if chromium:
            self.programs["chromium"] = "/usr/bin/chromium"
        self.fails = fails
        self.ran: list[list[str]] = []

    def which(self, name: str) -> str | None:
        return self.programs.get(name)

    def run(self, argv: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        assert options["env"]["DEBIAN_FRONTEND"] == "noninteractive"
        self.ran.append(argv)
        if self.fails and self.fails in argv:
            return subprocess.CompletedProcess(argv, 100, "", "E: Unable to locate package\n")
        if "install" in argv:
            self.programs["chromium"] = "/usr/bin/chromium"
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_uses_the_installed_chromium() -> None:
    """A Chromium on PATH is used as it is: nothing is installed."""
    machine = FakeMachine(chromium=True)
    found = ensure_chromium({}, which=machine.which, run=machine.run, is_root=True)
    assert found == "/usr/bin/chromium" and machine.ran == []


def test_installs_debians_chromium_as_root() -> None:
    """Missing, as root with apt-get: installs Debian's package, as .ci/run does."""
    machine = FakeMachine()
    found = ensure_chromium({}, which=machine.which, run=machine.run, is_root=True)
    assert found == "/usr/bin/chromium"
    assert machine.ran == [
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "chromium"],
    ]


@pytest.mark.parametrize(
    ("machine", "root", "says"),
    [
        (FakeMachine(), False, "sudo apt-get install chromium"),
        (FakeMachine(apt_get=False), True, "no apt-get"),
        (FakeMachine(fails="install"), True, "exited with 100: E: Unable to locate package"),
    ],
)
def test_says_why_when_chromium_cannot_be_had(machine: FakeMachine, root: bool, says: str) -> None:
    """Not root, no apt-get, or a failed install: ChromiumMissing says why (a skip reason)."""
    with pytest.raises(ChromiumMissing, match=says):
        ensure_chromium({}, which=machine.which, run=machine.run, is_root=root)


def test_an_explicit_chromium_must_exist(tmp_path: Path) -> None:
    """WAASP_TEST_CHROMIUM is used when it exists, and is an error (not a skip) when not."""
    program = tmp_path / "chrome"
    program.touch()
    machine = FakeMachine()
    env = {"WAASP_TEST_CHROMIUM": str(program)}
    assert ensure_chromium(env, which=machine.which, run=machine.run) == str(program)
    with pytest.raises(ChromiumMisconfigured, match="no such program"):
        ensure_chromium({"WAASP_TEST_CHROMIUM": str(tmp_path / "nope")}, which=machine.which)
    assert machine.ran == []
