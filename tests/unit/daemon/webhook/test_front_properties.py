"""Properties of the front door's per-connection server, driven on in-memory streams
(:func:`~tests.unit.daemon.webhook.clients.front_call`), for speed: nothing unsigned is
accepted, the body bound holds whatever the chunking or declared length, and every
request gets exactly one known, counted answer.
"""

from __future__ import annotations

from typing import Any

import trio
from hypothesis import HealthCheck, example, given, settings, strategies as st

from daemon.webhook.ingest import REASONS
from tests.unit.daemon.webhook.clients import (
    MAX_BODY,
    FakeInbox,
    front_call,
    front_exchange,
    make_app,
    oracle,
    request_bytes,
    signed,
)
from tests.unit.daemon.webhook.front_door import BODY

# --- properties, on in-memory streams -------------------------------------------------------

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(coro_fn: Any, *args: Any, **kwargs: Any) -> Any:
    return trio.run(lambda: coro_fn(*args, **kwargs))


field_values = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
"""Header values: any bytes but the line ends (those would write another request)."""

junk_headers = st.lists(
    st.tuples(
        st.sampled_from([b"content-type", b"x-hub-signature", b"x-junk", b"connection"]),
        field_values,
    ),
    max_size=3,
)


def chunked(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(raw)) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


@PROPERTY
@given(body=st.binary(max_size=2048), signature=st.none() | field_values, extra=junk_headers)
@example(body=BODY, signature=None, extra=[])
@example(body=BODY, signature=b"sha256=" + b"0" * 64, extra=[])
def test_property_nothing_unsigned_is_accepted(
    body: bytes, signature: bytes | None, extra: list[tuple[bytes, bytes]]
) -> None:
    inbox = FakeInbox()
    headers = list(extra)
    if signature is not None:
        headers.append((b"x-hub-signature-256", signature))
    reply = run(front_call, make_app(inbox), body=body, headers=headers)
    assert reply.status in (400, 401)  # 400: a junk header the HTTP layer refuses
    assert inbox.bodies == []


@PROPERTY
@given(
    raw=st.binary(max_size=2 * MAX_BODY)
    | st.dictionaries(st.text(), st.text()).map(lambda d: repr(d).replace("'", '"').encode()),
    cuts=st.lists(st.integers(0, 2 * MAX_BODY), max_size=4),
)
@example(raw=b"{}", cuts=[1])
@example(raw=b'{"a":"' + b"x" * (MAX_BODY - 8) + b'"}', cuts=[MAX_BODY // 2])
@example(raw=b'{"a":"' + b"x" * (MAX_BODY - 7) + b'"}', cuts=[MAX_BODY // 2])
def test_property_a_signed_chunked_body_is_bounded_then_judged(raw: bytes, cuts: list[int]) -> None:
    """Whatever its chunking: over the bound 413 and not stored; else take's answer."""
    inbox = FakeInbox()
    ingest = make_app(inbox)
    reply = run(front_call, ingest, chunks=chunked(raw, cuts), headers=signed(raw))
    if len(raw) > MAX_BODY:
        assert reply.status == 413
        assert ingest.counters.too_large == 1
    else:
        assert reply.status == oracle(raw)
    assert inbox.rejected == 0
    assert inbox.bodies == ([raw] if reply.status == 200 else [])


@PROPERTY
@given(
    raw=st.sampled_from([BODY, b"{}", b'{"pad":"' + b"x" * MAX_BODY + b'"}']),
    length=st.integers(0, 2 * MAX_BODY + 100).map(lambda n: b"%d" % n) | field_values,
)
@example(raw=BODY, length=b"%d" % len(BODY))
def test_property_a_declared_length_never_lifts_the_bound(raw: bytes, length: bytes) -> None:
    """Whatever length is declared, a body is stored only when it is framed exactly as
    signed and within the bound; nothing over the bound is even read."""
    inbox = FakeInbox()
    ingest = make_app(inbox)
    headers = [*signed(raw), (b"content-length", length)]
    replies = run(
        front_exchange, ingest, request_bytes(body=raw, headers=headers, content_length=False)
    )
    exact = length == b"%d" % len(raw)
    if exact and len(raw) <= MAX_BODY:
        assert [r.status for r in replies] == [200]
        assert inbox.bodies == [raw]
    else:
        assert inbox.bodies == []
        assert all(r.status in (400, 401, 413) for r in replies)
    if length.isdigit() and int(length) > MAX_BODY:
        assert [r.status for r in replies] == [413]


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
    ingest = make_app(inbox, max_body=size)
    replies = run(front_exchange, ingest, request_bytes(body=raw, headers=headers))
    assert len(replies) == 1
    (reply,) = replies
    assert reply.status in (200, 400, 401, 413, 503)
    if reply.body == b"malformed HTTP request":  # a junk header: refused before routing
        assert ingest.counters.by_status == {}
    else:
        assert ingest.counters.by_status == {reply.status: 1}
        assert reply.body == REASONS[reply.status]
    if reply.status == 200:
        assert signed_ok
        assert not fail
        assert len(raw) <= size
        assert inbox.bodies == [raw]
    else:
        assert inbox.bodies == []
