"""What a webhook POST's body must be, at :meth:`WebhookIngest.take`, and the app behind
the front door, at ASGI level, in process and without sockets.

What is pinned here: the GET handshake and the app's other routes (a webhook POST that
reaches the app is 405: only the front door stores webhooks); the answers of ``take``
(200 stored, 400 not a JSON object, 401 signature missing or wrong, 503 storage down)
and what reaches the inbox for each; then property-based tests (hypothesis) throwing
random and mutated bodies and signatures at it: no exception escapes, nothing unsigned is
ever stored, a validly signed JSON object is 200 and anything else validly signed is 400.

The HTTP side of the same endpoint (the body bound and 413, content-length and chunked
framing, which header is the signature, keep-alive after each answer, one counted answer
per request) is pinned in test_front_properties.py, through the front door.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, example, given, settings, strategies as st

from daemon.webhook.app import create_app
from daemon.webhook.ingest import REASONS, WebhookIngest
from tests.unit.daemon.webhook.clients import (
    MAX_BODY,
    PATH,
    SECRET,
    TOKEN,
    FakeInbox,
    Reply,
    asgi_call,
    call,
    make_app,
    oracle,
    signature_of,
    signed,
)
from tests.unit.daemon.webhook.samples import FIXTURES, fixture

__all__ = ["MAX_BODY", "PATH", "FakeInbox", "Reply", "call", "make_app", "signed"]
"""Imported from here by tests elsewhere (tests/reliability/test_regressions.py,
tests/unit/daemon/flows/test_endpoint.py); they live in clients.py."""

# Without the shared directory, one name remains and ``fixture`` skips what uses it.
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json")) or ["message_text.json"]


def app() -> Any:
    """The app the front door relays to, without the Flows endpoint."""
    return create_app(path=PATH, verify_token=TOKEN)


def run(coro_fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Drive one coroutine from a synchronous (hypothesis) test."""
    return trio.run(lambda: coro_fn(*args, **kwargs))


# --- the app behind the front door ---------------------------------------------------------


async def test_handshake_echoes_the_challenge() -> None:
    query = b"hub.mode=subscribe&hub.verify_token=" + TOKEN.encode() + b"&hub.challenge=1158201444"
    reply = await asgi_call(app(), "GET", query=query)
    assert (reply.status, reply.body) == (200, b"1158201444")


@pytest.mark.parametrize(
    "query",
    [
        b"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        b"hub.mode=subscribe&hub.challenge=1",
        b"hub.mode=subscribe&hub.verify_token=&hub.challenge=1",
        b"hub.mode=unsubscribe&hub.verify_token=" + TOKEN.encode() + b"&hub.challenge=1",
        b"hub.verify_token=" + TOKEN.encode() + b"&hub.challenge=1",
        b"hub.mode=subscribe&hub.verify_token=" + TOKEN.upper().encode() + b"&hub.challenge=1",
        b"",
    ],
)
async def test_handshake_refuses_anything_else_with_403(query: bytes) -> None:
    reply = await asgi_call(app(), "GET", query=query)
    assert reply.status == 403
    assert b"1" not in reply.body  # the challenge is never echoed


async def test_the_app_serves_its_routes_and_never_takes_a_webhook_post() -> None:
    """Whatever reaches the app's Unix socket directly cannot store a webhook: that is
    the front door's alone (it holds the body bound and counts the answers)."""
    a = app()
    assert (await asgi_call(a, "GET", "/healthz")).status == 200
    assert (await asgi_call(a, "POST", "/elsewhere", body=b"{}")).status == 404
    assert (await asgi_call(a, "PUT", PATH, body=b"{}", headers=signed(b"{}"))).status == 405
    assert (await asgi_call(a, "POST", PATH, body=b"{}", headers=signed(b"{}"))).status == 405


async def test_flows_go_in_front_of_the_quart_app() -> None:
    seen: list[str] = []

    def flows(behind: Any) -> Any:
        async def route(scope: Any, receive: Any, send: Any) -> None:
            if scope["path"].startswith("/flows/"):
                seen.append(scope["path"])
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"sealed"})
            else:
                await behind(scope, receive, send)

        return route

    both = create_app(path=PATH, verify_token=TOKEN, flows=flows)
    assert (await asgi_call(both, "POST", "/flows/shift_booking")).body == b"sealed"
    assert (await asgi_call(both, "GET", "/healthz")).status == 200
    assert seen == ["/flows/shift_booking"]


# --- take: the answers ----------------------------------------------------------------------

BODY = b'{"object":"whatsapp_business_account","entry":[]}'
GOOD = signature_of(BODY)


async def test_signed_object_is_stored_verbatim_and_answered_200() -> None:
    inbox = FakeInbox()
    ingest = make_app(inbox)
    raw = fixture("status_read.json")
    assert await ingest.take(raw, signature_of(raw)) == 200
    assert REASONS[200] == b"OK"
    assert inbox.bodies == [raw]  # the exact bytes: the signature is over them
    assert inbox.rejected == 0
    assert inbox.woken == 1
    assert ingest.counters.stored == 1
    assert ingest.counters.by_status == {}  # counted by the front door, which answers


async def test_uppercase_hex_signature_is_accepted() -> None:
    inbox = FakeInbox()
    header = "sha256=" + GOOD.removeprefix("sha256=").upper()
    assert await make_app(inbox).take(BODY, header) == 200
    assert inbox.bodies == [BODY]


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(signature_of(BODY, "another-secret"), id="other-secret"),
        pytest.param(signature_of(BODY + b" "), id="other-body"),
        pytest.param(GOOD[7:], id="no-prefix"),
        pytest.param("sha1=" + "0" * 40, id="sha1"),
        pytest.param(GOOD[:-1], id="short"),
        pytest.param(GOOD + "0", id="long"),
        pytest.param(GOOD[:7] + " " + GOOD[7:], id="inner-space"),
        pytest.param("sha256=" + "\xff" * 64, id="latin-1"),
    ],
)
async def test_missing_or_wrong_signature_is_401_and_only_counted(signature: str | None) -> None:
    inbox = FakeInbox()
    ingest = make_app(inbox)
    assert await ingest.take(BODY, signature) == 401
    assert inbox.bodies == []
    assert inbox.rejected == 1
    assert ingest.counters.bad_signature == 1
    assert inbox.woken == 0


async def test_a_failing_rejection_count_still_answers_401() -> None:
    inbox = FakeInbox(reject_fails=True)
    assert await make_app(inbox).take(BODY, None) == 401


async def test_signature_is_checked_before_json() -> None:
    """An unsigned non-JSON body is a 401, not a 400: nothing about it is trusted."""
    inbox = FakeInbox()
    assert await make_app(inbox).take(b"not json", None) == 401
    assert inbox.rejected == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b'{"object": "whatsapp_business_account", "entry": [',
        b"\xff\xfe{}",
        b"[]",
        b'[{"object":"whatsapp_business_account"}]',
        b'"a string"',
        b"42",
        b"null",
        b"true",
        b"{} {}",
        b"[" * 50_000 + b"]" * 50_000,  # too deep for json.loads: RecursionError
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    ],
    ids=lambda raw: raw[:24].decode("latin-1"),
)
async def test_signed_but_not_a_json_object_is_400_and_not_stored(raw: bytes) -> None:
    inbox = FakeInbox()
    ingest = make_app(inbox, max_body=1_000_000)
    assert await ingest.take(raw, signature_of(raw)) == 400
    assert inbox.bodies == []
    assert inbox.rejected == 0
    assert ingest.counters.bad_json == 1


@pytest.mark.parametrize(
    "error",
    [ConnectionError("connection refused"), OSError("disk full"), RuntimeError("pool closed")],
)
async def test_storage_failure_is_503_so_meta_retries(error: Exception) -> None:
    inbox = FakeInbox(fail=error)
    ingest = make_app(inbox)
    raw = fixture("message_text.json")
    assert await ingest.take(raw, signature_of(raw)) == 503
    assert ingest.counters.unavailable == 1
    assert ingest.counters.stored == 0
    assert inbox.woken == 0
    # The store comes back: the same delivery (Meta's retry) is now stored.
    inbox.fail = None
    assert await ingest.take(raw, signature_of(raw)) == 200
    assert inbox.bodies == [raw]


async def test_storage_failure_of_the_real_writer_is_503() -> None:
    """The daemon's inbox over a stopped batch writer raises StoreError: still a 503."""
    from daemon.store.inbox import InboxRepository
    from daemon.store.writer import BatchWriter

    writer = BatchWriter(store=None, batch_rows=10, flush_ms=1)  # type: ignore[arg-type]
    inbox = InboxRepository(db=None, writer=writer)  # type: ignore[arg-type]
    ingest = WebhookIngest(
        path=PATH, app_secret=SECRET.encode(), max_body_bytes=MAX_BODY, inbox=inbox
    )
    raw = fixture("status_read.json")
    assert await ingest.take(raw, signature_of(raw)) == 503
    assert await ingest.take(raw, None) == 401  # the failed count does not turn into 500


@pytest.mark.parametrize("name", FIXTURE_NAMES)
async def test_every_fixture_is_accepted_when_signed(name: str) -> None:
    inbox = FakeInbox()
    raw = fixture(name)
    assert await make_app(inbox).take(raw, signature_of(raw)) == 200
    assert inbox.bodies == [raw]


async def test_concurrent_posts_are_each_answered_for_their_own_body() -> None:
    inbox = FakeInbox()
    ingest = make_app(inbox)
    bodies = [fixture(n) for n in FIXTURE_NAMES]
    statuses: list[int] = []

    async def post(raw: bytes, good: bool) -> None:
        statuses.append(await ingest.take(raw, signature_of(raw) if good else None))

    async with trio.open_nursery() as nursery:
        for i, raw in enumerate(bodies):
            nursery.start_soon(post, raw, i % 2 == 0)
    good = [raw for i, raw in enumerate(bodies) if i % 2 == 0]
    assert sorted(statuses) == sorted([200] * len(good) + [401] * (len(bodies) - len(good)))
    assert sorted(inbox.bodies) == sorted(good)
    assert inbox.rejected == len(bodies) - len(good)


async def test_call_reaches_the_ingest_through_the_front_door() -> None:
    """``call`` (used by tests elsewhere) takes a WebhookIngest over HTTP/1.1."""
    inbox = FakeInbox()
    reply = await call(make_app(inbox), body=BODY, headers=signed(BODY))
    assert (reply.status, reply.body) == (200, b"OK")
    assert inbox.bodies == [BODY]


# --- properties -----------------------------------------------------------------------------

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)

signatures = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.builds(lambda h: "sha256=" + h, st.text("0123456789abcdef", min_size=64, max_size=64)),
    st.builds(lambda h: "sha256=" + h, st.text(max_size=70)),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
)


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate", "append", "swap"]))
    i = data.draw(st.integers(0, max(0, len(raw) - 1)))
    if kind == "flip" and raw:
        return raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1 :]
    if kind == "delete":
        return raw[:i] + raw[i + 1 :]
    if kind == "insert":
        return raw[:i] + data.draw(st.binary(min_size=1, max_size=8)) + raw[i:]
    if kind == "truncate":
        return raw[:i]
    if kind == "append":
        return raw + data.draw(st.binary(min_size=1, max_size=8))
    j = data.draw(st.integers(0, max(0, len(raw) - 1)))
    b = bytearray(raw)
    if b:
        b[i], b[j] = b[j], b[i]
    return bytes(b)


@PROPERTY
@given(body=st.binary(max_size=2048), signature=signatures)
@example(body=BODY, signature=None)
@example(body=BODY, signature="sha256=" + "0" * 64)
def test_property_nothing_unsigned_is_accepted(body: bytes, signature: str | None) -> None:
    inbox = FakeInbox()
    assert run(make_app(inbox).take, body, signature) == 401
    assert inbox.bodies == []
    assert inbox.rejected == 1


@PROPERTY
@given(name=st.sampled_from(FIXTURE_NAMES), data=st.data())
def test_property_a_mutated_body_fails_the_original_signature(
    name: str, data: st.DataObject
) -> None:
    raw = fixture(name)
    mutated = mutate(raw, data)
    inbox = FakeInbox()
    status = run(make_app(inbox).take, mutated, signature_of(raw))
    if mutated == raw:
        assert status == 200
    else:
        assert status == 401
        assert inbox.bodies == []
        assert inbox.rejected == 1


@PROPERTY
@given(name=st.sampled_from(FIXTURE_NAMES), data=st.data())
def test_property_a_mutated_body_signed_anew_is_200_iff_a_json_object(
    name: str, data: st.DataObject
) -> None:
    raw = mutate(fixture(name), data)
    inbox = FakeInbox()
    status = run(make_app(inbox).take, raw, signature_of(raw))
    assert status == oracle(raw)
    assert inbox.bodies == ([raw] if status == 200 else [])


@PROPERTY
@given(value=json_values)
def test_property_signed_json_objects_are_200_and_other_values_400(value: Any) -> None:
    raw = json.dumps(value).encode()
    inbox = FakeInbox()
    status = run(make_app(inbox).take, raw, signature_of(raw))
    if isinstance(value, dict):
        assert status == 200
        assert inbox.bodies == [raw]
    else:
        assert status == 400
        assert inbox.bodies == []


@PROPERTY
@given(raw=st.binary(max_size=MAX_BODY))
@example(raw=b"{}")
@example(raw=b"[" * 3000)
def test_property_signed_random_bytes_never_raise(raw: bytes) -> None:
    inbox = FakeInbox()
    status = run(make_app(inbox).take, raw, signature_of(raw))
    assert status == oracle(raw)
    assert inbox.rejected == 0
    assert inbox.bodies == ([raw] if status == 200 else [])
