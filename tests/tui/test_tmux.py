"""``metad tui`` in a real terminal (tmux) against a real daemon on the default-like config.

What the pilot tests cannot show: the console starts from the command line, finds the
daemon's socket from the config, draws in a real terminal, and its keys act on the
daemon. ``tmux capture-pane -p`` reads the screen as text. Skipped without tmux.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import REPO, Daemon, embedded_state_dir, metad_command, write_demo_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

CHIPS = ("+55 11 94000-0001", "+55 11 94000-0002")


class Tmux:
    """One tmux server of its own (``-L``), so the test never touches the user's."""

    def __init__(self) -> None:
        self.server = f"metad-test-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.server, *args], capture_output=True, text=True, check=True
        )
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "console")

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if condition(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"the console never showed it; last screen:\n{text}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.server, "kill-server"], capture_output=True)


@pytest.fixture
def root() -> Iterator[Path]:
    with embedded_state_dir() as path:
        yield path


@pytest.fixture
def daemon(root: Path) -> Iterator[tuple[Daemon, Path]]:
    config = write_demo_config(root)
    d = Daemon(config)
    try:
        d.wait_for("READY", timeout=90)
        yield d, config
    finally:
        d.kill()


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux()
    yield t
    t.kill()


def _ctl_status(config: Path) -> dict[str, dict[str, object]]:
    out = subprocess.run(
        metad_command("ctl", "-c", str(config), "status", "--json"),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return {c["phone_number_id"]: c for c in json.loads(out.stdout)["chips"]}


def test_the_fleet_screen_in_tmux_shows_the_real_chips_and_pauses_one(
    daemon: tuple[Daemon, Path], tmux: Tmux
) -> None:
    _, config = daemon
    # A detached session started without a terminal has COLUMNS=80 and LINES=24 in its
    # environment, which the console would take over the pane's real 160x40.
    command = shlex.join(["env", "-u", "COLUMNS", "-u", "LINES",
                          *metad_command("tui", "-c", str(config))])  # fmt: skip
    tmux.run("new-session", "-d", "-s", "console", "-x", "160", "-y", "40", "-c", str(REPO),
             command)  # fmt: skip
    screen = tmux.wait_for(lambda s: all(c in s for c in CHIPS) and "● connected" in s)
    assert "Number" in screen  # the fleet table's header
    assert "f Fleet" in screen  # the footer's keys
    assert "c Campaigns" in screen
    assert "2 chips" in screen
    # The cursor is on the first chip: p asks, Enter confirms with the default reason.
    tmux.run("send-keys", "-t", "console", "p")
    tmux.wait_for(lambda s: "Pause +55 11 94000-0001?" in s)
    tmux.run("send-keys", "-t", "console", "Enter")
    tmux.wait_for(lambda s: "PAUSED" in s)
    assert _ctl_status(config)["200000000000001"]["paused"] is True
    tmux.run("send-keys", "-t", "console", "q")
