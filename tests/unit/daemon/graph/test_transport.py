"""Retry and outcome rules of the client, with httpx.MockTransport (no network, no sleeping)."""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx
import pytest
import trio

from daemon.graph import (
    Accepted,
    Failed,
    GraphClient,
    GraphError,
    GraphTimeouts,
    InDoubt,
    Reaction,
    RetryPolicy,
)

ERR_500 = (
    b'{"error":{"message":"(#131000) Something went wrong","code":131000,"type":"OAuthException"}}'
)
OK_SEND = (
    b'{"messaging_product":"whatsapp","contacts":[{"input":"55","wa_id":"55"}],'
    b'"messages":[{"id":"wamid.X"}]}'
)


def _client(handler: Callable[[httpx.Request], httpx.Response], slept: list[float]) -> GraphClient:
    async def sleep(s: float) -> None:
        slept.append(s)

    return GraphClient(
        "http://graph.test/",
        "21.0",
        token_for=lambda owner: f"tok-{owner}",
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        retry=RetryPolicy(max_attempts=3),
        rng=random.Random(0),
        sleep=sleep,
    )


async def test_urls_tokens_and_versions() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json={"id": "1", "quality_rating": "GREEN"})

    c = _client(handler, [])
    await c.get_phone_number("1", fields=["quality_rating"])
    assert str(seen[0].url) == "http://graph.test/v21.0/1?fields=quality_rating"
    assert seen[0].headers["authorization"] == "Bearer tok-1"


async def test_get_is_retried_on_5xx_then_raises() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500, content=ERR_500)

    with pytest.raises(GraphError) as exc:
        await _client(handler, slept).get_phone_number("1")
    assert len(calls) == 3
    assert len(slept) == 2
    assert exc.value.code == 131000


async def test_get_is_retried_on_read_timeout() -> None:
    calls: list[int] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=req)
        return httpx.Response(200, json={"id": "1"})

    assert (await _client(handler, []).get_phone_number("1")).id == "1"
    assert len(calls) == 2


async def test_non_idempotent_post_is_not_retried_without_an_explicit_error() -> None:
    calls: list[int] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(502, content=b"<html>bad gateway</html>")

    with pytest.raises(GraphError) as exc:
        await _client(handler, []).create_flow("9", "f", ["OTHER"])
    assert len(calls) == 1
    assert exc.value.body == "<html>bad gateway</html>"


@pytest.mark.parametrize(
    ("respond", "kind", "reaction"),
    [
        (lambda r: httpx.Response(200, content=OK_SEND), Accepted, None),
        (lambda r: httpx.Response(500, content=ERR_500), Failed, Reaction.RETRY_BACKOFF),
        (lambda r: httpx.Response(503, content=b"down"), InDoubt, None),
        (lambda r: httpx.Response(200, content=b"not json"), InDoubt, None),
        (lambda r: httpx.Response(404, content=b"<html>"), Failed, Reaction.FIX_REQUEST),
    ],
)
async def test_send_outcomes(
    respond: Callable[[httpx.Request], httpx.Response], kind: type, reaction: Reaction | None
) -> None:
    out = await _client(respond, []).send_text("1", "55", "oi")
    assert isinstance(out, kind)
    if reaction is not None:
        assert isinstance(out, Failed)
        assert out.reaction is reaction


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError, Failed),
        (httpx.ConnectTimeout, Failed),
        (httpx.ReadTimeout, InDoubt),
        (httpx.RemoteProtocolError, InDoubt),
        (httpx.WriteError, InDoubt),
    ],
)
async def test_send_transport_failures(exc: type[httpx.TransportError], kind: type) -> None:
    calls: list[int] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise exc("boom", request=req)

    out = await _client(handler, []).send_text("1", "55", "oi")
    assert isinstance(out, kind)
    assert len(calls) == 1


async def test_missing_token_fails_before_sending() -> None:
    c = GraphClient("http://graph.test", "v21.0", token_for={"1": "t"})
    out = await c.send_text("2", "55", "oi")
    assert isinstance(out, Failed)
    assert out.reaction is Reaction.STOP_TOKEN
    assert not out.error.sent
    with pytest.raises(GraphError):
        await c.get_phone_number("2")
    await c.aclose()


async def test_from_config_takes_tokens_and_timeouts_from_the_config() -> None:
    from config import MetadConfig, resolve_secrets

    cfg = MetadConfig.model_validate(
        {
            "sandbox": {"enabled": True},
            "graph": {"base_url": "http://127.0.0.1:8089", "send_timeout_s": 3.0},
            "wabas": [{"id": "1"}],
            "chips": [
                {"phone_number_id": "11", "display_number": "+55 11 94000-0001", "waba": "1"}
            ],
        }
    )
    async with GraphClient.from_config(cfg, resolve_secrets(cfg)) as client:
        assert client.token("11") == client.token("1") == "metad-sandbox-token-1"
        assert client.timeouts.send_s == 3.0
        assert client.url("11/messages") == "http://127.0.0.1:8089/v21.0/11/messages"


def _slow_client(max_connections: int, connect_s: float, busy: list[int]) -> GraphClient:
    async def handler(req: httpx.Request) -> httpx.Response:
        busy.append(busy[-1] + 1)
        await trio.sleep(0.05)
        busy.append(busy[-1] - 1)
        return httpx.Response(200, content=OK_SEND)

    return GraphClient(
        "http://graph.test/",
        "21.0",
        token_for=lambda owner: "t",
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        timeouts=GraphTimeouts(connect_s=connect_s),
        max_connections=max_connections,
    )


async def test_requests_wait_for_a_connection_slot_outside_httpx() -> None:
    busy = [0]
    c = _slow_client(3, 5.0, busy)
    outs: list[object] = []

    async def one() -> None:
        outs.append(await c.send_text("1", "55", "oi"))

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(one)
    assert max(busy) == 3
    assert len(outs) == 10
    assert all(isinstance(o, Accepted) for o in outs)


async def test_a_send_that_never_gets_a_connection_was_not_sent() -> None:
    busy = [0]
    c = _slow_client(1, 0.01, busy)
    outs: list[object] = []

    async def one() -> None:
        outs.append(await c.send_text("1", "55", "oi"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(one)
        nursery.start_soon(one)
    failed = [o for o in outs if isinstance(o, Failed)]
    assert len(failed) == 1
    assert not failed[0].error.sent
    assert failed[0].error.transport == "PoolTimeout"


async def test_an_answer_naming_a_user_id_and_no_wa_id_is_accepted() -> None:
    """A send to a business-scoped user id may be answered with ``user_id`` only: the
    message was accepted, not an "unreadable answer" left in doubt."""
    answer = (
        b'{"messaging_product":"whatsapp","contacts":[{"input":"BR.Xk9","user_id":"BR.Xk9"}],'
        b'"messages":[{"id":"wamid.B"}]}'
    )
    out = await _client(lambda r: httpx.Response(200, content=answer), []).send_text(
        "1", "BR.Xk9", "oi"
    )
    assert isinstance(out, Accepted)
    assert (out.wamid, out.wa_id) == ("wamid.B", "BR.Xk9")
