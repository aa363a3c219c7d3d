"""The webhook endpoint over real HTTP in a running daemon on PostgreSQL.

Each answer is checked together with what it left in the store: a 200 means the body is
committed in ``webhook_inbox`` and later processed; 401 leaves only a rejected counter
row; 400 and 413 leave nothing. Every test runs twice: with the daemon's own front door
taking the POSTs and with ``[webhook] ingest_workers`` processes taking them (the same
HTTP/1.1 server in another process); both relay the GET handshake to the daemon's app
and must answer alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from daemon.webhook.payloads import parse
from tests.integration.webhook.conftest import (
    MAX_BODY,
    VERIFY_TOKEN,
    Hook,
    add_outbox,
    outbox_state,
    running,
    signature,
)
from tests.unit.daemon.webhook.samples import FIXTURES, fixture


@pytest.fixture(params=[0, 2], ids=["in-daemon", "ingest-workers"])
async def hook(db_dsn: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Hook]:
    async with running(db_dsn, tmp_path, ingest_workers=request.param) as h:
        yield h


# Without the shared directory, one name remains and ``fixture`` skips what uses it.
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json")) or ["message_text.json"]


async def _rows(hook: Hook) -> list[tuple[bytes, bool, str]]:
    rows = await hook.daemon.store.fetch(
        "SELECT body, signature_ok, state FROM webhook_inbox ORDER BY id"
    )
    return [(bytes(r["body"]), r["signature_ok"], r["state"]) for r in rows]


# --- the GET handshake ----------------------------------------------------------------------


async def test_handshake_echoes_the_challenge_and_refuses_a_wrong_token(hook: Hook) -> None:
    ok = await hook.http.get(
        hook.url,
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "8841"},
    )
    assert (ok.status_code, ok.text) == (200, "8841")
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "8841"},
        {"hub.mode": "subscribe", "hub.challenge": "8841"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "8841"},
        {},
    ):
        refused = await hook.http.get(hook.url, params=params)
        assert refused.status_code == 403, params
        assert "8841" not in refused.text
    assert await _rows(hook) == []


# --- POST: refusals -------------------------------------------------------------------------


async def test_missing_or_wrong_signature_is_401_and_only_counted(hook: Hook) -> None:
    raw = fixture("message_text.json")
    assert await hook.post(raw, signed=False) == 401
    wrong = {"X-Hub-Signature-256": signature(raw + b" ")["X-Hub-Signature-256"]}
    assert (await hook.http.post(hook.url, content=raw, headers=wrong)).status_code == 401
    other_secret = {"X-Hub-Signature-256": "sha256=" + "ab" * 32}
    assert (await hook.http.post(hook.url, content=raw, headers=other_secret)).status_code == 401

    assert await _rows(hook) == [(b"", False, "rejected")] * 3  # counted, body not kept
    stats = await hook.stats()
    assert (stats.rejected_signature, stats.received, stats.pending) == (3, 0, 0)


async def test_malformed_json_and_non_objects_are_400_and_not_stored(hook: Hook) -> None:
    for raw in (b"{not json", b"", b"[]", b'"text"', b"12", b"null", b"[" * 20_000):
        assert await hook.post(raw) == 400, raw[:20]
    assert await _rows(hook) == []


async def test_oversized_body_is_413_by_declared_length_and_streamed(hook: Hook) -> None:
    big = b'{"pad":"' + b"x" * MAX_BODY + b'"}'
    assert await hook.post(big) == 413  # content-length over the limit: refused unread

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * (MAX_BODY // 4)  # chunked, no content-length: the read bound

    # The server answers 413 before the body ends, and httpx stops reading the stream:
    # close it here, or its garbage collection warns (ResourceWarning) whenever it runs.
    body = stream()
    try:
        streamed = await hook.http.post(hook.url, content=body, headers=signature(b""))
    finally:
        await body.aclose()
    assert streamed.status_code == 413
    assert "content-length" not in streamed.request.headers
    assert await _rows(hook) == []
    # The connection pool is still usable: a normal body after the refusals goes in.
    raw = fixture("status_read.json")
    assert await hook.post(raw) == 200


# --- POST: every payload type ---------------------------------------------------------------


async def test_every_fixture_is_stored_processed_and_routed(hook: Hook) -> None:
    store = hook.daemon.store
    # The status fixtures report on these messages; statuses arrive read before sent.
    first = await add_outbox(store, state="accepted", wamid="wamid.OUTBOUND1")
    second = await add_outbox(store, state="sent", wamid="wamid.OUTBOUND2")
    fifth = await add_outbox(store, state="sent", wamid="wamid.OUTBOUND5")

    bodies = [fixture(name) for name in FIXTURE_NAMES]
    for raw in bodies:
        assert await hook.post(raw) == 200
    stats = await hook.processed()

    assert stats.received == stats.parsed == len(bodies)
    assert (stats.unparsed, stats.duplicates, stats.unknown_number) == (0, 0, 0)
    rows = await store.fetch("SELECT body, state, events FROM webhook_inbox ORDER BY id")
    assert [bytes(r["body"]) for r in rows] == bodies  # verbatim, in arrival order
    assert [r["events"] for r in rows] == [len(parse(raw).events) for raw in bodies]
    assert await store.fetchval("SELECT count(*) FROM webhook_orphans") == 0

    assert await outbox_state(store, first) == ("read", "wamid.OUTBOUND1")  # not back to sent
    assert await outbox_state(store, second) == ("delivered", "wamid.OUTBOUND2")
    assert await outbox_state(store, fifth) == ("failed", "wamid.OUTBOUND5")
    error = await store.fetchval("SELECT error FROM outbox WHERE id = $1", fifth)
    assert error["code"] == 131049


async def test_posts_on_many_connections_are_all_stored(hook: Hook) -> None:
    """Concurrent deliveries share group commits; each 200 is still its own durable row."""
    bodies = [fixture(FIXTURE_NAMES[i % len(FIXTURE_NAMES)]) + b" " * i for i in range(60)]
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(limits=limits, timeout=10) as http:

        async def post(raw: bytes) -> None:
            response = await http.post(hook.url, content=raw, headers=signature(raw))
            statuses.append(response.status_code)

        async with trio.open_nursery() as nursery:
            for raw in bodies:
                nursery.start_soon(post, raw)
    assert statuses == [200] * len(bodies)
    stats = await hook.processed()
    assert stats.received == stats.parsed == len(bodies)
    stored = {
        bytes(r["body"]) for r in await hook.daemon.store.fetch("SELECT body FROM webhook_inbox")
    }
    assert stored == set(bodies)
