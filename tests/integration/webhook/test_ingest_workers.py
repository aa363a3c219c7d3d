"""``[webhook] ingest_workers``: the worker processes around a running daemon.

The answers themselves are tested on both paths in test_endpoint.py and test_outage.py;
here is what only the workers have: they are restarted when they die, their counters
reach the daemon, and they go away with it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import trio

from daemon.health import readiness
from tests.integration.webhook.conftest import running
from tests.integration.webhook.support import message_body


def worker_pids() -> set[int]:
    """This process's children running the ingest worker (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"daemon.webhook.worker" in cmdline:
            found.add(int(entry.name))
    return found


async def _until(check: object, timeout: float = 15.0) -> None:
    with trio.fail_after(timeout):
        while not check():  # type: ignore[operator]
            await trio.sleep(0.05)


async def test_a_killed_worker_is_restarted_and_nothing_acknowledged_is_lost(
    db_dsn: str, tmp_path: Path
) -> None:
    async with running(db_dsn, tmp_path, ingest_workers=2) as hook:
        first = worker_pids()
        assert len(first) == 2
        for i in range(10):
            assert await hook.post(message_body(f"wamid.W.before.{i}", at=1764000000)) == 200

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        # Meta's way: whatever was not answered 200 is delivered again. Every delivery
        # ends in a 200 once the survivor (or the restarted worker) takes it.
        acknowledged = 0
        with trio.fail_after(20):
            for i in range(40):
                while True:
                    try:
                        answer = await hook.post(message_body(f"wamid.W.after.{i}", at=1764000000))
                    except httpx.TransportError:
                        answer = None  # a kept-alive connection to the killed worker: reset
                    if answer == 200:
                        acknowledged += 1
                        break
                    await trio.sleep(0.05)
        await _until(lambda: len(worker_pids()) == 2 and victim not in worker_pids())
        status = hook.daemon.ingest_workers
        assert status is not None
        await _until(lambda: len(status.up) == 2)
        assert status.restarts == 1
        assert await readiness(hook.daemon) == []
        stats = await hook.processed()
        assert acknowledged == 40
        # A body committed just before its worker died was answered by nobody: its
        # retry is stored again and counted a duplicate, never applied twice.
        assert stats.parsed == 50
        assert stats.received == stats.parsed + stats.duplicates
        # The in-memory counters reach the daemon every half second: the killed worker's
        # last half second is lost with it (the store keeps the durable counts above).
        await _until(lambda: hook.daemon.webhook.counters.stored >= 40)
        assert hook.daemon.webhook.counters.by_status.get(200, 0) >= 40
    assert worker_pids() == set()  # gone with the daemon


async def test_workers_relay_health_and_count_refusals(db_dsn: str, tmp_path: Path) -> None:
    async with running(db_dsn, tmp_path, ingest_workers=1) as hook:
        base = hook.url.rsplit("/", 1)[0]
        health = await hook.http.get(f"{base}/healthz")
        assert (health.status_code, health.text) == (200, "ok")
        assert "connection" not in health.headers  # the client's connection goes on
        assert await hook.post(b"{}", signed=False) == 401
        assert await hook.post(b"[]") == 400
        await _until(lambda: hook.daemon.webhook.counters.bad_json == 1)
        counters = hook.daemon.webhook.counters
        assert (counters.bad_signature, counters.stored) == (1, 0)
        assert (await hook.stats()).rejected_signature == 1
