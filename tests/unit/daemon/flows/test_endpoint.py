"""``POST /flows/<name>`` as Meta's client meets it: each answer, in the right order."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, example, given, settings, strategies as st

from daemon.flows.endpoint import FlowsEndpoint
from daemon.flows.handlers.shift_booking import MemoryShiftBoard, ShiftBooking
from daemon.flows.keyring import KeyRing
from daemon.flows.keys import generate_private_key, write_key_pair
from daemon.flows.protocol import FlowRequest, FlowResponse, InvalidFlowToken
from tests.unit.daemon.flows.meta_side import (
    APP_SECRET,
    open_response,
    seal_request,
    signature,
)
from tests.unit.daemon.webhook.test_ingest import Reply, call

ALLOWED = {200, 400, 404, 413, 421, 427, 432}
"""Every answer the endpoint may give to what a caller sends (500 only for handler bugs)."""


class Broken:
    async def __call__(self, request: FlowRequest) -> FlowResponse:
        raise RuntimeError("bug")


class Picky:
    async def __call__(self, request: FlowRequest) -> FlowResponse:
        raise InvalidFlowToken(request.flow_token)


def endpoint(key: rsa.RSAPrivateKey | KeyRing, max_body: int = 64 * 1024) -> FlowsEndpoint:
    return FlowsEndpoint(
        app_secret=APP_SECRET,
        private_key=key,
        handlers={
            "shift_booking": ShiftBooking(MemoryShiftBoard.demo()),
            "broken": Broken(),
            "picky": Picky(),
        },
        max_body_bytes=max_body,
    )


async def post(
    app: Any, body: bytes, *, flow: str = "shift_booking", sign: bool = True, method: str = "POST"
) -> Reply:
    headers = [(b"x-hub-signature-256", signature(body).encode())] if sign else []
    return await call(app, method, f"/flows/{flow}", body=body, headers=headers)


async def exchange(app: Any, key: rsa.RSAPrivateKey, payload: dict[str, Any], **kw: Any) -> Any:
    sealed = seal_request(key.public_key(), payload)
    reply = await post(app, sealed.body, **kw)
    assert reply.status == 200, reply
    assert reply.headers[0] == (b"content-type", b"text/plain; charset=utf-8")
    return open_response(reply.body, sealed.aes_key, sealed.iv)


async def test_ping_answers_active(business_key: rsa.RSAPrivateKey) -> None:
    app = endpoint(business_key)
    ping = {"version": "3.0", "action": "ping"}
    assert await exchange(app, business_key, ping) == {"data": {"status": "active"}}


async def test_an_error_notification_is_acknowledged(business_key: rsa.RSAPrivateKey) -> None:
    doc = {"version": "3.0", "action": "INIT", "flow_token": "t", "data": {"error": "oops"}}
    assert await exchange(endpoint(business_key), business_key, doc) == {
        "data": {"acknowledged": True}
    }


async def test_init_reaches_the_flows_handler(business_key: rsa.RSAPrivateKey) -> None:
    doc = {"version": "3.0", "action": "INIT", "flow_token": "t"}
    reply = await exchange(endpoint(business_key), business_key, doc)
    assert reply["screen"] == "SHIFTS"
    assert len(reply["data"]["shifts"]) == 4


async def test_a_wrong_signature_is_432_before_anything_is_decrypted(
    business_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    app = endpoint(business_key)
    sealed = seal_request(business_key.public_key(), {"action": "ping"})
    wrong = [(b"x-hub-signature-256", signature(sealed.body, b"other secret").encode())]
    reply = await call(app, "POST", "/flows/shift_booking", body=sealed.body, headers=wrong)
    assert reply.status == 432
    assert (await post(app, sealed.body, sign=False)).status == 432
    assert (await post(app, sealed.body, flow="no_such_flow", sign=False)).status == 432
    assert app.counters.by_status == {432: 3}


async def test_a_request_for_another_key_is_421(business_key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sealed = seal_request(other.public_key(), {"action": "ping"})
    assert (await post(endpoint(business_key), sealed.body)).status == 421


async def test_bad_ciphertext_is_421(business_key: rsa.RSAPrivateKey) -> None:
    doc = json.loads(seal_request(business_key.public_key(), {"action": "ping"}).body)
    data = bytearray(base64.b64decode(doc["encrypted_flow_data"]))
    data[0] ^= 0x80
    doc["encrypted_flow_data"] = base64.b64encode(bytes(data)).decode()
    assert (await post(endpoint(business_key), json.dumps(doc).encode())).status == 421


@pytest.mark.parametrize("body", [b"", b"{}", b"[1]", b'{"encrypted_flow_data": "AAAA"}'])
async def test_a_body_that_is_not_the_envelope_is_400(
    business_key: rsa.RSAPrivateKey, body: bytes
) -> None:
    assert (await post(endpoint(business_key), body)).status == 400


async def test_a_decrypted_request_of_the_wrong_shape_is_400(
    business_key: rsa.RSAPrivateKey,
) -> None:
    sealed = seal_request(business_key.public_key(), {"action": "teleport"})
    assert (await post(endpoint(business_key), sealed.body)).status == 400


async def test_an_unknown_flow_is_404_once_signed(business_key: rsa.RSAPrivateKey) -> None:
    sealed = seal_request(business_key.public_key(), {"action": "ping"})
    assert (await post(endpoint(business_key), sealed.body, flow="nope")).status == 404


async def test_a_refused_flow_token_is_427(business_key: rsa.RSAPrivateKey) -> None:
    sealed = seal_request(business_key.public_key(), {"action": "INIT", "flow_token": "old"})
    assert (await post(endpoint(business_key), sealed.body, flow="picky")).status == 427


async def test_a_handler_bug_is_500_and_logged(
    business_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    sealed = seal_request(business_key.public_key(), {"action": "INIT", "flow_token": "t"})
    with caplog.at_level(logging.ERROR, "metad.flows"):
        reply = await post(endpoint(business_key), sealed.body, flow="broken")
    assert reply.status == 500
    assert "handler failed" in caplog.text


async def test_only_post(business_key: rsa.RSAPrivateKey) -> None:
    assert (await post(endpoint(business_key), b"", method="GET")).status == 405


async def test_a_body_over_the_limit_is_413(business_key: rsa.RSAPrivateKey) -> None:
    assert (await post(endpoint(business_key, max_body=100), b"x" * 101)).status == 413


async def test_other_paths_go_to_the_app_behind(business_key: rsa.RSAPrivateKey) -> None:
    seen: list[str] = []

    async def behind(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = endpoint(business_key).in_front_of(behind)
    assert (await call(app, "GET", "/healthz")).status == 204
    assert (await call(app, "POST", "/flowsy")).status == 204
    assert seen == ["/healthz", "/flowsy"]
    sealed = seal_request(business_key.public_key(), {"action": "ping"})
    assert (await post(app, sealed.body)).status == 200


async def test_the_private_key_is_never_logged_or_shown(
    business_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    app = endpoint(business_key)
    with caplog.at_level(logging.DEBUG):
        for payload in ({"action": "ping"}, {"action": "x"}, {"action": "INIT"}):
            await post(app, seal_request(business_key.public_key(), payload).body)
        await post(app, b'{"encrypted_flow_data":"a","encrypted_aes_key":"b","initial_vector":"c"}')
    pem = business_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    body = "".join(pem.splitlines()[1:-1])
    assert body[:40] not in caplog.text
    assert body[:40] not in repr(app)


async def test_during_a_rotation_both_keys_open_requests_then_only_the_new_one(
    business_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    """After ``keygen --force`` Meta may still seal with the old public key a while."""
    key_file = tmp_path / "k.pem"
    write_key_pair(key_file, business_key, passphrase=None)
    now = [0.0]
    app = endpoint(KeyRing.load(key_file, None, grace_s=60, clock=lambda: now[0]))
    ping = {"version": "3.0", "action": "ping"}
    assert await exchange(app, business_key, ping) == {"data": {"status": "active"}}
    new = generate_private_key()
    write_key_pair(key_file, new, passphrase=None, replace=True)
    assert await exchange(app, new, ping) == {"data": {"status": "active"}}
    assert await exchange(app, business_key, ping) == {"data": {"status": "active"}}
    now[0] = 60.0
    assert (await post(app, seal_request(business_key.public_key(), ping).body)).status == 421
    assert await exchange(app, new, ping) == {"data": {"status": "active"}}


# --- fuzzing: whatever arrives, the answer is one of the allowed ones --------------------

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_b64 = st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())
_envelope = st.fixed_dictionaries(
    {
        "encrypted_flow_data": _b64 | st.text(),
        "encrypted_aes_key": _b64 | st.text(),
        "initial_vector": _b64 | st.text(),
    }
)


@pytest.fixture(scope="module")
def fuzz_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _run(coro: Any, *args: Any, **kwargs: Any) -> Any:
    return trio.run(lambda: coro(*args, **kwargs))


@PROPERTY
@given(body=st.binary(max_size=1024) | _json.map(lambda d: json.dumps(d).encode()))
@example(body=b'{"encrypted_flow_data": "", "encrypted_aes_key": "", "initial_vector": ""}')
def test_property_signed_garbage_never_crashes_it(fuzz_key: rsa.RSAPrivateKey, body: bytes) -> None:
    reply = _run(post, endpoint(fuzz_key), body)
    assert reply.status in {400, 421}


@PROPERTY
@given(doc=_envelope)
def test_property_forged_envelopes_are_421(fuzz_key: rsa.RSAPrivateKey, doc: Any) -> None:
    reply = _run(post, endpoint(fuzz_key), json.dumps(doc).encode())
    assert reply.status in {400, 421}


@PROPERTY
@given(body=st.binary(max_size=512), sig=st.text(max_size=80))
def test_property_unsigned_bodies_are_432(
    fuzz_key: rsa.RSAPrivateKey, body: bytes, sig: str
) -> None:
    headers = [(b"x-hub-signature-256", sig.encode("utf-8", "surrogateescape"))]
    reply = _run(
        call, endpoint(fuzz_key), "POST", "/flows/shift_booking", body=body, headers=headers
    )
    assert reply.status == 432


@PROPERTY
@given(
    payload=st.dictionaries(
        st.sampled_from(["action", "screen", "data", "flow_token", "version"]) | st.text(),
        _json,
    )
    | st.fixed_dictionaries(
        {
            "action": st.sampled_from(["ping", "INIT", "data_exchange", "BACK"]),
            "screen": st.none() | st.sampled_from(["SHIFTS", "CONFIRM"]) | st.text(),
            "flow_token": st.none() | st.text(),
            "data": st.dictionaries(st.sampled_from(["shift_id", "error"]) | st.text(), _json),
        }
    ),
)
def test_property_any_sealed_payload_gets_a_protocol_answer(
    fuzz_key: rsa.RSAPrivateKey, payload: dict[str, Any]
) -> None:
    sealed = seal_request(fuzz_key.public_key(), payload)
    reply = _run(post, endpoint(fuzz_key), sealed.body)
    assert reply.status in ALLOWED - {432}
    if reply.status == 200:
        answer = open_response(reply.body, sealed.aes_key, sealed.iv)
        assert isinstance(answer.get("data"), dict)
