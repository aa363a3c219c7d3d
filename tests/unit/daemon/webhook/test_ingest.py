"""The webhook endpoint at ASGI level, in process and without sockets.

What is pinned here: the GET handshake, the answers of ``POST /webhook`` (200 stored, 400
not a JSON object, 401 signature missing or wrong, 413 too large, 503 storage down) and
what reaches the inbox for each, then property-based tests (hypothesis) throwing random
and mutated bodies and headers at the app: no exception escapes, nothing unsigned is
ever stored, a validly signed JSON object is 200 and anything else validly signed is 400.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, example, given, settings, strategies as st

from daemon.webhook.app import create_app
from daemon.webhook.ingest import WebhookIngest
from daemon.webhook.signature import sign
from tests.unit.daemon.webhook.samples import FIXTURES, fixture

SECRET = "test-app-secret"
TOKEN = "test-verify-token"
PATH = "/webhook"
MAX_BODY = 4096
# Without the shared directory, one name remains and ``fixture`` skips what uses it.
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json")) or ["message_text.json"]


@dataclass
class FakeInbox:
    """Records what the endpoint stores; ``fail`` makes ``append`` raise like a dead store."""

    bodies: list[bytes] = field(default_factory=list)
    rejected: int = 0
    fail: BaseException | None = None
    reject_fails: bool = False
    woken: int = 0
    """How often the endpoint called ``on_stored`` (the processor's wake-up)."""

    def wake(self) -> None:
        self.woken += 1

    async def append(self, body: bytes) -> None:
        await trio.lowlevel.checkpoint()
        if self.fail is not None:
            raise self.fail
        self.bodies.append(body)

    async def reject(self) -> None:
        await trio.lowlevel.checkpoint()
        if self.reject_fails:
            raise ConnectionError("store down")
        self.rejected += 1


@dataclass
class Reply:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


def make_app(inbox: FakeInbox | None = None, *, max_body: int = MAX_BODY) -> WebhookIngest:
    inbox = inbox if inbox is not None else FakeInbox()
    return create_app(
        path=PATH,
        app_secret=SECRET,
        verify_token=TOKEN,
        max_body_bytes=max_body,
        inbox=inbox,
        on_stored=inbox.wake,
    )


def signed(body: bytes, secret: str = SECRET) -> list[tuple[bytes, bytes]]:
    return [(b"x-hub-signature-256", sign(secret.encode(), body).encode())]


async def call(
    app: Any,
    method: str = "POST",
    path: str = PATH,
    *,
    body: bytes = b"",
    chunks: Sequence[bytes] | None = None,
    headers: Sequence[tuple[bytes, bytes]] = (),
    query: bytes = b"",
    content_length: bool = True,
) -> Reply:
    """One HTTP exchange with an ASGI app, the way hypercorn would drive it."""
    parts = list(chunks) if chunks is not None else [body]
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(parts) - 1}
        for i, c in enumerate(parts)
    ]
    all_headers = [(b"host", b"metad.test"), *headers]
    if content_length and chunks is None:
        all_headers.append((b"content-length", str(len(body)).encode()))

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await trio.sleep_forever()  # the client waits for the answer; the app ends this
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": all_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "extensions": {},
    }
    with trio.fail_after(5):
        await app(scope, receive, send)
    start = [m for m in sent if m["type"] == "http.response.start"]
    assert len(start) == 1, sent
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Reply(start[0]["status"], text, list(start[0]["headers"]))


def run(coro_fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Drive one exchange from a synchronous (hypothesis) test."""
    return trio.run(lambda: coro_fn(*args, **kwargs))


# --- the GET handshake --------------------------------------------------------------------


async def test_handshake_echoes_the_challenge() -> None:
    query = b"hub.mode=subscribe&hub.verify_token=" + TOKEN.encode() + b"&hub.challenge=1158201444"
    reply = await call(make_app(), "GET", query=query)
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
    reply = await call(make_app(), "GET", query=query)
    assert reply.status == 403
    assert b"1" not in reply.body  # the challenge is never echoed


async def test_other_routes_go_to_the_quart_app() -> None:
    app = make_app()
    assert (await call(app, "GET", "/healthz")).status == 200
    assert (await call(app, "POST", "/elsewhere", body=b"{}")).status == 404
    assert (await call(app, "PUT", PATH, body=b"{}", headers=signed(b"{}"))).status == 405
    assert app.counters.by_status == {}  # none of these touched the ingest path


# --- POST: the answers ----------------------------------------------------------------------


async def test_signed_object_is_stored_verbatim_and_answered_200() -> None:
    inbox = FakeInbox()
    app = make_app(inbox)
    raw = fixture("status_read.json")
    reply = await call(app, body=raw, headers=signed(raw))
    assert (reply.status, reply.body) == (200, b"OK")
    assert inbox.bodies == [raw]  # the exact bytes: the signature is over them
    assert inbox.rejected == 0
    assert inbox.woken == 1
    assert app.counters.stored == 1
    assert app.counters.by_status == {200: 1}


async def test_uppercase_hex_signature_is_accepted() -> None:
    inbox = FakeInbox()
    raw = b'{"object":"whatsapp_business_account","entry":[]}'
    header = "sha256=" + sign(SECRET.encode(), raw).removeprefix("sha256=").upper()
    reply = await call(
        make_app(inbox), body=raw, headers=[(b"x-hub-signature-256", header.encode())]
    )
    assert reply.status == 200
    assert inbox.bodies == [raw]


BODY = b'{"object":"whatsapp_business_account","entry":[]}'


GOOD = sign(SECRET.encode(), BODY)


def header(value: str | bytes, name: bytes = b"x-hub-signature-256") -> list[tuple[bytes, bytes]]:
    return [(name, value.encode() if isinstance(value, str) else value)]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([], id="missing"),
        pytest.param(header(""), id="empty"),
        pytest.param(signed(BODY, "another-secret"), id="other-secret"),
        pytest.param(signed(BODY + b" "), id="other-body"),
        pytest.param(header(GOOD[7:]), id="no-prefix"),
        pytest.param(header("sha1=" + "0" * 40), id="sha1"),
        pytest.param(header(GOOD[:-1]), id="short"),
        pytest.param(header(GOOD + "0"), id="long"),
        pytest.param(header(GOOD[:7] + " " + GOOD[7:]), id="inner-space"),
        pytest.param(header(GOOD, b"x-hub-signature"), id="other-header"),
        pytest.param(header(b"sha256=" + b"\xff" * 64), id="latin-1"),
    ],
)
async def test_missing_or_wrong_signature_is_401_and_only_counted(
    headers: list[tuple[bytes, bytes]],
) -> None:
    inbox = FakeInbox()
    app = make_app(inbox)
    reply = await call(app, body=BODY, headers=headers)
    assert reply.status == 401
    assert inbox.bodies == []
    assert inbox.rejected == 1
    assert app.counters.bad_signature == 1
    assert inbox.woken == 0


async def test_a_failing_rejection_count_still_answers_401() -> None:
    inbox = FakeInbox(reject_fails=True)
    reply = await call(make_app(inbox), body=BODY)
    assert reply.status == 401


async def test_signature_is_checked_before_json() -> None:
    """An unsigned non-JSON body is a 401, not a 400: nothing about it is trusted."""
    inbox = FakeInbox()
    reply = await call(make_app(inbox), body=b"not json")
    assert reply.status == 401
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
    app = make_app(inbox, max_body=1_000_000)
    reply = await call(app, body=raw, headers=signed(raw))
    assert reply.status == 400
    assert inbox.bodies == []
    assert inbox.rejected == 0
    assert app.counters.bad_json == 1


async def test_declared_length_over_the_limit_is_413_before_reading() -> None:
    inbox = FakeInbox()
    app = make_app(inbox)
    raw = b"{" + b" " * MAX_BODY + b"}"
    reply = await call(app, body=raw, headers=signed(raw))
    assert reply.status == 413
    assert inbox.bodies == []
    assert inbox.rejected == 0
    assert app.counters.too_large == 1


async def test_streamed_body_over_the_limit_is_413() -> None:
    """No content-length (chunked): the bound holds while reading."""
    inbox = FakeInbox()
    app = make_app(inbox)
    chunks = [b'{"pad":"', b"x" * (MAX_BODY // 2), b"x" * (MAX_BODY // 2), b'"}']
    raw = b"".join(chunks)
    reply = await call(app, chunks=chunks, headers=signed(raw))
    assert reply.status == 413
    assert inbox.bodies == []


async def test_understated_length_does_not_lift_the_bound() -> None:
    inbox = FakeInbox()
    raw = b'{"pad":"' + b"x" * MAX_BODY + b'"}'
    headers = [*signed(raw), (b"content-length", b"10")]
    reply = await call(make_app(inbox), body=raw, headers=headers, content_length=False)
    assert reply.status == 413


async def test_body_of_exactly_the_limit_is_accepted() -> None:
    inbox = FakeInbox()
    raw = b'{"pad":"' + b"x" * (MAX_BODY - 10) + b'"}'
    assert len(raw) == MAX_BODY
    chunks = [raw[:100], raw[100:2000], raw[2000:]]
    reply = await call(make_app(inbox), chunks=chunks, headers=signed(raw))
    assert reply.status == 200
    assert inbox.bodies == [raw]


@pytest.mark.parametrize("length", [b"abc", b"", b"-1", b"9" * 5000])
async def test_malformed_content_length_falls_back_to_the_read_bound(length: bytes) -> None:
    inbox = FakeInbox()
    headers = [*signed(BODY), (b"content-length", length)]
    reply = await call(make_app(inbox), body=BODY, headers=headers, content_length=False)
    assert reply.status == 200
    assert inbox.bodies == [BODY]


@pytest.mark.parametrize(
    "error",
    [ConnectionError("connection refused"), OSError("disk full"), RuntimeError("pool closed")],
)
async def test_storage_failure_is_503_so_meta_retries(error: Exception) -> None:
    inbox = FakeInbox(fail=error)
    app = make_app(inbox)
    raw = fixture("message_text.json")
    reply = await call(app, body=raw, headers=signed(raw))
    assert reply.status == 503
    assert app.counters.unavailable == 1
    assert app.counters.stored == 0
    assert inbox.woken == 0
    # The store comes back: the same delivery (Meta's retry) is now stored.
    inbox.fail = None
    assert (await call(app, body=raw, headers=signed(raw))).status == 200
    assert inbox.bodies == [raw]


async def test_storage_failure_of_the_real_writer_is_503() -> None:
    """The daemon's inbox over a stopped batch writer raises StoreError: still a 503."""
    from daemon.store.inbox import InboxRepository
    from daemon.store.writer import BatchWriter

    writer = BatchWriter(store=None, batch_rows=10, flush_ms=1)  # type: ignore[arg-type]
    inbox = InboxRepository(db=None, writer=writer)  # type: ignore[arg-type]
    app = create_app(
        path=PATH, app_secret=SECRET, verify_token=TOKEN, max_body_bytes=MAX_BODY, inbox=inbox
    )
    raw = fixture("status_read.json")
    assert (await call(app, body=raw, headers=signed(raw))).status == 503
    assert (await call(app, body=raw)).status == 401  # the failed count does not turn into 500


@pytest.mark.parametrize("name", FIXTURE_NAMES)
async def test_every_fixture_is_accepted_when_signed(name: str) -> None:
    inbox = FakeInbox()
    raw = fixture(name)
    reply = await call(make_app(inbox), body=raw, headers=signed(raw))
    assert reply.status == 200
    assert inbox.bodies == [raw]


async def test_concurrent_posts_are_each_answered_for_their_own_body() -> None:
    inbox = FakeInbox()
    app = make_app(inbox)
    bodies = [fixture(n) for n in FIXTURE_NAMES]
    statuses: list[int] = []

    async def post(raw: bytes, good: bool) -> None:
        reply = await call(app, body=raw, headers=signed(raw) if good else [])
        statuses.append(reply.status)

    async with trio.open_nursery() as nursery:
        for i, raw in enumerate(bodies):
            nursery.start_soon(post, raw, i % 2 == 0)
    good = [raw for i, raw in enumerate(bodies) if i % 2 == 0]
    assert sorted(statuses) == sorted([200] * len(good) + [401] * (len(bodies) - len(good)))
    assert sorted(inbox.bodies) == sorted(good)
    assert inbox.rejected == len(bodies) - len(good)


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

signature_headers = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.builds(lambda h: "sha256=" + h, st.text("0123456789abcdef", min_size=64, max_size=64)),
    st.builds(lambda h: "sha256=" + h, st.text(max_size=70)),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
)

junk_headers = st.lists(
    st.tuples(
        st.sampled_from([b"content-length", b"content-type", b"x-hub-signature", b"x-junk"]),
        st.binary(max_size=40),
    ),
    max_size=3,
)


def oracle(raw: bytes) -> int:
    """What a correctly signed body of at most the limit must be answered."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return 400
    return 200 if isinstance(doc, dict) else 400


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


def chunked(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(raw)) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


@PROPERTY
@given(body=st.binary(max_size=2048), header=signature_headers, extra=junk_headers)
@example(body=BODY, header=None, extra=[])
@example(body=BODY, header="sha256=" + "0" * 64, extra=[])
def test_property_nothing_unsigned_is_accepted(
    body: bytes, header: str | None, extra: list[tuple[bytes, bytes]]
) -> None:
    inbox = FakeInbox()
    headers = list(extra)
    if header is not None:
        headers.append((b"x-hub-signature-256", header.encode("utf-8", "surrogateescape")))
    reply = run(call, make_app(inbox), body=body, headers=headers, content_length=False)
    assert reply.status in (401, 413)  # 413 only when a junk content-length claims too much
    assert inbox.bodies == []


@PROPERTY
@given(name=st.sampled_from(FIXTURE_NAMES), data=st.data())
def test_property_a_mutated_body_fails_the_original_signature(
    name: str, data: st.DataObject
) -> None:
    raw = fixture(name)
    mutated = mutate(raw, data)
    inbox = FakeInbox()
    reply = run(call, make_app(inbox), body=mutated, headers=signed(raw))
    if mutated == raw:
        assert reply.status == 200
    else:
        assert reply.status == 401
        assert inbox.bodies == []
        assert inbox.rejected == 1


@PROPERTY
@given(name=st.sampled_from(FIXTURE_NAMES), data=st.data())
def test_property_a_mutated_body_signed_anew_is_200_iff_a_json_object(
    name: str, data: st.DataObject
) -> None:
    raw = mutate(fixture(name), data)
    inbox = FakeInbox()
    reply = run(call, make_app(inbox), body=raw, headers=signed(raw))
    assert reply.status == oracle(raw)
    assert inbox.bodies == ([raw] if reply.status == 200 else [])


@PROPERTY
@given(value=json_values, cuts=st.lists(st.integers(0, 4096), max_size=4))
def test_property_signed_json_objects_are_200_and_other_values_400(
    value: Any, cuts: list[int]
) -> None:
    raw = json.dumps(value).encode()
    inbox = FakeInbox()
    reply = run(call, make_app(inbox), chunks=chunked(raw, cuts), headers=signed(raw))
    if len(raw) > MAX_BODY:
        assert reply.status == 413
    elif isinstance(value, dict):
        assert reply.status == 200
        assert inbox.bodies == [raw]
    else:
        assert reply.status == 400
        assert inbox.bodies == []


@PROPERTY
@given(raw=st.binary(max_size=MAX_BODY), cuts=st.lists(st.integers(0, MAX_BODY), max_size=4))
@example(raw=b"{}", cuts=[1])
@example(raw=b"[" * 3000, cuts=[])
def test_property_signed_random_bytes_never_raise(raw: bytes, cuts: list[int]) -> None:
    inbox = FakeInbox()
    reply = run(call, make_app(inbox), chunks=chunked(raw, cuts), headers=signed(raw))
    assert reply.status == oracle(raw)
    assert inbox.rejected == 0
    assert inbox.bodies == ([raw] if reply.status == 200 else [])


@PROPERTY
@given(
    raw=st.binary(max_size=256),
    signed_ok=st.booleans(),
    fail=st.booleans(),
    extra=junk_headers,
    size=st.integers(1, 300),
)
def test_property_every_request_gets_exactly_one_known_answer(
    raw: bytes, signed_ok: bool, fail: bool, extra: list[tuple[bytes, bytes]], size: int
) -> None:
    inbox = FakeInbox(fail=ConnectionError("down") if fail else None, reject_fails=fail)
    headers = [*extra, *(signed(raw) if signed_ok else [])]
    app = make_app(inbox, max_body=size)
    reply = run(call, app, body=raw, headers=headers, content_length=False)
    assert reply.status in (200, 400, 401, 413, 503)
    assert sum(app.counters.by_status.values()) == 1
    if reply.status == 200:
        assert signed_ok
        assert not fail
        assert len(raw) <= size
        assert inbox.bodies == [raw]
    else:
        assert inbox.bodies == []
