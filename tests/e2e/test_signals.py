"""``metad run`` and stop signals at any moment: during the start, and during the shutdown.

Why: the daemon used to take SIGTERM/SIGINT only once its actors were up, so a SIGTERM
just after the embedded PostgreSQL had started killed the process on the spot (exit
143, no ``stopped`` line) and left that PostgreSQL running with nobody to stop it. And
it stopped listening after the first signal, so a second SIGTERM during the shutdown
did the same. A real process, real signals, the embedded server.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from tests.support import Daemon, embedded_state_dir, write_demo_config

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def root() -> Iterator[Path]:
    """Config and state outside pytest's tmp tree (see ``embedded_state_dir``)."""
    with embedded_state_dir() as path:
        yield path


class Notify:
    """systemd's side of ``$NOTIFY_SOCKET``: the datagrams metad sends."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)

    def messages(self) -> list[str]:
        got: list[str] = []
        while True:
            try:
                got.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return got


@pytest.fixture
def notify(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Notify]:
    listener = Notify(root / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(root / "notify"))
    yield listener
    listener.sock.close()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.kill()


def _postgres_on(pgdata: Path) -> list[psutil.Process]:
    """Live postgres processes serving ``pgdata`` (whoever their parent is)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(str(pgdata) in arg for arg in cmdline) and "postgres" in " ".join(cmdline):
            found.append(proc)
    return found


def _assert_stopped_cleanly(d: Daemon, root: Path) -> str:
    code, rest = d.rest(timeout=20)
    said = "\n".join([*d.lines, rest])
    assert code == 0, said
    assert "INFO metad.daemon stopped" in said, said
    pgdata = root / "state" / "pg"
    assert not (pgdata / "postmaster.pid").exists()
    assert _postgres_on(pgdata) == []
    return said


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_the_start_stops_the_embedded_server_and_exits_0(
    root: Path, notify: Notify, daemons: list[Daemon], signum: signal.Signals
) -> None:
    d = Daemon(write_demo_config(root))
    daemons.append(d)
    d.wait_for("embedded PostgreSQL ready", timeout=60)
    d.proc.send_signal(signum)
    said = _assert_stopped_cleanly(d, root)
    assert f"received {signum.name} during start-up" in said
    assert "READY" not in said
    # systemd hears the start is over: STOPPING=1, never READY=1, and no request for
    # more start time (nor a "starting" status) after it.
    sent = notify.messages()
    stopping = next(i for i, m in enumerate(sent) if m.startswith("STOPPING=1"))
    assert not any(m.startswith("READY=1") for m in sent)
    assert not any("EXTEND_TIMEOUT_USEC" in m for m in sent[stopping:])


def test_more_sigterms_during_the_shutdown_are_ignored_and_it_finishes(
    root: Path, daemons: list[Daemon]
) -> None:
    d = Daemon(write_demo_config(root))
    daemons.append(d)
    d.wait_for("READY", timeout=60)
    d.proc.send_signal(signal.SIGTERM)
    for _ in range(3):
        time.sleep(0.03)
        d.proc.send_signal(signal.SIGTERM)
    said = _assert_stopped_cleanly(d, root)
    assert said.count("received SIGTERM, shutting down") == 1
    assert said.count("received SIGTERM while stopping: ignored") == 1  # logged once


def test_a_sighup_during_the_start_is_not_a_kill(root: Path, daemons: list[Daemon]) -> None:
    """SIGHUP reloads the config once the reloader runs; before, its default action
    killed the daemon and left the embedded PostgreSQL behind."""
    d = Daemon(write_demo_config(root))
    daemons.append(d)
    d.wait_for("embedded PostgreSQL ready", timeout=60)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for("READY", timeout=60)
    d.proc.send_signal(signal.SIGTERM)
    said = _assert_stopped_cleanly(d, root)
    assert "received SIGHUP while starting: not reloaded" in said
