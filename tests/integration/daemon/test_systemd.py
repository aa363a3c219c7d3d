"""sd_notify against a real datagram socket: READY, STATUS, WATCHDOG, STOPPING, in order."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from config.model import StorageConfig
from daemon.store import open_store
from daemon.systemd import Notifier, while_starting
from tests.integration.daemon.conftest import Env, wait_until


class Listener:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages


@pytest.fixture
def notify(monkeypatch: pytest.MonkeyPatch) -> Iterator[Listener]:
    with tempfile.TemporaryDirectory(prefix="sdn-") as tmp:
        listener = Listener(Path(tmp) / "notify")
        monkeypatch.setenv("NOTIFY_SOCKET", str(listener.path))
        monkeypatch.setenv("WATCHDOG_USEC", "200000")  # ping every 0.1 s
        yield listener
        listener.sock.close()


async def test_ready_status_watchdog_then_stopping(notify: Listener, env: Env) -> None:
    await wait_until(lambda: sum("WATCHDOG=1" in m for m in notify.drain()) >= 3)
    first = notify.messages[0]
    assert first.startswith("EXTEND_TIMEOUT_USEC=30000000\nSTATUS=starting (")
    ready = next(m for m in notify.messages if m.startswith("READY=1"))
    assert ready.startswith("READY=1\nSTATUS=")
    assert "2 chips" in ready
    env.daemon.stop.set()
    await wait_until(lambda: any(m.startswith("STOPPING=1") for m in notify.drain()))
    kinds = [m.split("=", 1)[0] for m in notify.messages]
    assert kinds.index("EXTEND_TIMEOUT_USEC") < kinds.index("READY")
    assert kinds.index("READY") < kinds.index("WATCHDOG") < kinds.index("STOPPING")
    assert "EXTEND_TIMEOUT_USEC" not in kinds[kinds.index("READY") :]


async def test_watchdog_stops_pinging_when_the_store_is_unreachable(
    notify: Listener, env: Env, pg_admin_dsn: str, tmp_path: Path
) -> None:
    await wait_until(lambda: any("WATCHDOG=1" in m for m in notify.drain()))
    database = await env.daemon.store.fetchval("SELECT current_database()")
    cfg = StorageConfig(dsn=pg_admin_dsn, pool_min_size=1, pool_max_size=1)
    async with open_store(cfg, state_dir=tmp_path, run_migrations=False) as admin:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            database,
        )
    await trio.sleep(0.5)  # let any ping already in flight arrive
    before = sum("WATCHDOG=1" in m for m in notify.drain())
    await trio.sleep(1.0)
    after = sum("WATCHDOG=1" in m for m in notify.drain())
    assert after == before


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier(environ={})
    assert not notifier.enabled
    assert not notifier.notify(READY=1)
    assert notifier.watchdog_s is None


def test_abstract_socket_addresses_are_supported() -> None:
    name = f"metad-test-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        assert Notifier(environ={"NOTIFY_SOCKET": "@" + name}).notify(READY=1)
        assert sock.recv(100) == b"READY=1"


@pytest.fixture
def listener() -> Iterator[Listener]:
    with tempfile.TemporaryDirectory(prefix="sdn-") as tmp:
        listener = Listener(Path(tmp) / "notify")
        yield listener
        listener.sock.close()


async def test_a_long_start_asks_for_more_time_until_ready(
    listener: Listener, autojump_clock: trio.testing.MockClock
) -> None:
    """Every 10 s for 30 s more, so systemd's start timeout never runs out while the
    start makes progress; nothing once READY."""
    notifier, ready = Notifier(environ={"NOTIFY_SOCKET": str(listener.path)}), trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(while_starting, notifier, ready)
        await trio.sleep(25)
        ready.set()
    assert listener.drain() == [
        f"EXTEND_TIMEOUT_USEC=30000000\nSTATUS=starting ({s} s)" for s in (0, 10, 20)
    ]


async def test_a_start_asks_for_more_time_only_so_long(
    listener: Listener, autojump_clock: trio.testing.MockClock
) -> None:
    """Past the limit systemd's own timeout rules again: a start that never ends is
    killed."""
    notifier, ready = Notifier(environ={"NOTIFY_SOCKET": str(listener.path)}), trio.Event()
    with trio.move_on_after(3600):
        await while_starting(notifier, ready, limit_s=100)
    assert len(listener.drain()) == 10  # 0, 10, ... 90 s
    assert trio.current_time() == pytest.approx(100)
