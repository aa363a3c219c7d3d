"""A real daemon (in this trio run) on a real PostgreSQL, and an HTTP client for its endpoint.

The config knows the WABA, number and display number the shared fixtures and
``samples`` use, so fixture events are routed to actors; anything else is an unknown
number. No simulator is served (``serve = false``) and the Graph API points nowhere:
the chips' quality polls fail quietly, and the only webhooks are the ones a test posts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from config import MetadConfig, parse_config
from config.secrets import SANDBOX_APP_SECRET, SANDBOX_VERIFY_TOKEN
from daemon.main import Daemon, run_daemon
from daemon.store.inbox import InboxStats
from daemon.webhook.signature import sign
from tests.unit.daemon.webhook.samples import DISPLAY, PNID, WABA

SECRET = SANDBOX_APP_SECRET.encode()
VERIFY_TOKEN = SANDBOX_VERIFY_TOKEN
OTHER_PNID = "106540352242999"
MAX_BODY = 64 * 1024


def webhook_config(dsn: str, state: Path, *, max_body_bytes: int = MAX_BODY) -> MetadConfig:
    return parse_config(
        f"""
[daemon]
state_dir = "{state}"
runtime_dir = "{state}/run"
shutdown_timeout_s = 3
[supervisor]
backoff_min_s = 0.01
[storage]
dsn = "{dsn}"
writer_flush_ms = 1
[graph]
base_url = "http://127.0.0.1:1"
[webhook]
listen = "127.0.0.1:0"
max_body_bytes = {max_body_bytes}
[sandbox]
enabled = true
serve = false
[[wabas]]
id = "{WABA}"
[[chips]]
phone_number_id = "{PNID}"
display_number = "+{DISPLAY}"
waba = "{WABA}"
[[chips]]
phone_number_id = "{OTHER_PNID}"
display_number = "+5511940009999"
waba = "{WABA}"
""",
        file="test.toml",
    )


def signature(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"}


@dataclass
class Hook:
    """A running daemon and a client for its webhook endpoint."""

    daemon: Daemon
    http: httpx.AsyncClient

    @property
    def url(self) -> str:
        return self.daemon.webhook_url

    async def post(self, body: bytes, *, signed: bool = True) -> int:
        headers = signature(body) if signed else {"Content-Type": "application/json"}
        response = await self.http.post(self.url, content=body, headers=headers)
        return response.status_code

    async def stats(self) -> InboxStats:
        return await self.daemon.store.inbox.stats()

    async def processed(self, timeout: float = 10.0) -> InboxStats:
        """Wait until the processor has handled every stored row; return the counts."""
        with trio.fail_after(timeout):
            while True:
                stats = await self.stats()
                if stats.pending == 0:
                    return stats
                await trio.sleep(0.01)


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    with trio.fail_after(timeout):
        while not await check():
            await trio.sleep(0.01)


@asynccontextmanager
async def running(cfg: MetadConfig) -> AsyncIterator[Hook]:
    async with trio.open_nursery() as nursery, httpx.AsyncClient(timeout=10) as http:
        daemon: Daemon = await nursery.start(partial(run_daemon, cfg, handle_signals=False))
        try:
            yield Hook(daemon, http)
        finally:
            daemon.stop.set()


@pytest.fixture
async def hook(db_dsn: str, tmp_path: Path) -> AsyncIterator[Hook]:
    async with running(webhook_config(db_dsn, tmp_path)) as h:
        yield h
