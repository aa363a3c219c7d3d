"""A real daemon (in this trio run) on a real PostgreSQL, and an HTTP client for its endpoint.

The config knows the WABA, number and display number the shared fixtures and
``samples`` use, so fixture events are routed to actors; anything else is an unknown
number. A quiet simulator answers the daemon's Graph API calls (template sync, quality
polls) but sends no webhooks at all (``webhook_url=None``): the only webhooks are the
ones a test posts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from config import MetadConfig, parse_config
from config.secrets import SANDBOX_APP_SECRET, SANDBOX_VERIFY_TOKEN
from daemon.main import Daemon, run_daemon
from daemon.store.connection import Queries
from daemon.store.inbox import InboxStats
from daemon.webhook.signature import sign
from sim.knobs import SimKnobs
from sim.server import build_sim, serve_sim
from tests.integration.webhook.support import OTHER_PNID
from tests.unit.daemon.webhook.samples import DISPLAY, PNID, WABA

SECRET = SANDBOX_APP_SECRET.encode()
VERIFY_TOKEN = SANDBOX_VERIFY_TOKEN
MAX_BODY = 64 * 1024


def webhook_config(
    dsn: str,
    state: Path,
    *,
    graph_url: str = "http://127.0.0.1:1",
    max_body_bytes: int = MAX_BODY,
    ingest_workers: int = 0,
) -> MetadConfig:
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
base_url = "{graph_url}"
[webhook]
listen = "127.0.0.1:0"
max_body_bytes = {max_body_bytes}
ingest_workers = {ingest_workers}
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


@asynccontextmanager
async def running(dsn: str, state: Path, **settings: Any) -> AsyncIterator[Hook]:
    """A READY daemon on ``dsn`` with its state in ``state``, and a quiet Graph API."""
    async with trio.open_nursery() as outer, httpx.AsyncClient(timeout=10) as http:
        sim_cfg = webhook_config(dsn, state, **settings)
        sim = build_sim(sim_cfg, webhook_url=None, seed=3, knobs=SimKnobs.quiet())
        graph_url = await outer.start(partial(serve_sim, sim_cfg, sim=sim, listen="127.0.0.1:0"))
        cfg = webhook_config(dsn, state, graph_url=graph_url, **settings)
        async with trio.open_nursery() as inner:  # exits once the daemon has stopped
            daemon: Daemon = await inner.start(partial(run_daemon, cfg, handle_signals=False))
            try:
                yield Hook(daemon, http)
            finally:
                daemon.stop.set()
        outer.cancel_scope.cancel()  # the simulator


@pytest.fixture
async def hook(db_dsn: str, tmp_path: Path) -> AsyncIterator[Hook]:
    async with running(db_dsn, tmp_path) as h:
        yield h


async def add_outbox(
    db: Queries, *, state: str = "sent", wamid: str | None = None, chip: str = PNID
) -> int:
    """An outbox row as the send path leaves it (the chip's row is made if missing)."""
    await db.execute("INSERT INTO wabas (waba_id) VALUES ($1) ON CONFLICT DO NOTHING", WABA)
    await db.execute(
        "INSERT INTO chips (phone_number_id, waba_id, display_number) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        chip,
        WABA,
        DISPLAY,
    )
    outbox_id: int = await db.fetchval(
        "INSERT INTO outbox (chip, wa_id, kind, payload, state, wamid)"
        " VALUES ($1, $2, 'free_form', '{}'::jsonb, $3, $4) RETURNING id",
        chip,
        "5511987654321",
        state,
        wamid,
    )
    return outbox_id


async def outbox_state(db: Queries, outbox_id: int) -> tuple[str, str | None]:
    row = await db.fetchrow("SELECT state, wamid FROM outbox WHERE id = $1", outbox_id)
    assert row is not None
    return row["state"], row["wamid"]
