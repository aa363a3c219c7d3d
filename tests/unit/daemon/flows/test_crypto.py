"""The envelope: what Meta seals opens here, our reply opens on Meta's side, nothing else."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from daemon.flows.crypto import (
    MalformedEnvelope,
    UndecryptableRequest,
    flip_iv,
    open_request,
    parse_envelope,
    seal_response,
)
from tests.unit.daemon.flows.meta_side import open_response, seal_request

PAYLOAD = {"version": "3.0", "action": "INIT", "flow_token": "ft-1", "data": {"crm": "123/SP"}}


def test_a_request_sealed_the_way_meta_does_opens(business_key: rsa.RSAPrivateKey) -> None:
    sealed = seal_request(business_key.public_key(), PAYLOAD)
    opened = open_request(business_key, parse_envelope(sealed.body))
    assert opened.payload == PAYLOAD
    assert (opened.aes_key, opened.iv) == (sealed.aes_key, sealed.iv)


def test_the_reply_opens_under_the_same_key_and_the_inverted_iv(
    business_key: rsa.RSAPrivateKey,
) -> None:
    sealed = seal_request(business_key.public_key(), PAYLOAD)
    opened = open_request(business_key, parse_envelope(sealed.body))
    reply = {"screen": "DETAILS", "data": {"ok": "ção"}}
    text = seal_response(reply, opened.aes_key, opened.iv)
    assert open_response(text, sealed.aes_key, sealed.iv) == reply
    with pytest.raises(Exception):  # noqa: B017, PT011 - under the original IV it must not open
        open_response(text, sealed.aes_key, flip_iv(sealed.iv))


def test_flip_iv_inverts_every_bit() -> None:
    assert flip_iv(bytes([0x00, 0xFF, 0x0F, 0xA5])) == bytes([0xFF, 0x00, 0xF0, 0x5A])


def test_another_businesss_key_does_not_open_it(business_key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sealed = seal_request(other.public_key(), PAYLOAD)
    with pytest.raises(UndecryptableRequest, match="unwrap"):
        open_request(business_key, parse_envelope(sealed.body))


def _tampered(body: bytes, field: str, change: bytes) -> bytes:
    doc = json.loads(body)
    raw = bytearray(base64.b64decode(doc[field]))
    raw[-1] ^= change[0]
    doc[field] = base64.b64encode(bytes(raw)).decode()
    return json.dumps(doc).encode()


@pytest.mark.parametrize("field", ["encrypted_flow_data", "initial_vector", "encrypted_aes_key"])
def test_a_flipped_bit_anywhere_is_undecryptable(
    business_key: rsa.RSAPrivateKey, field: str
) -> None:
    sealed = seal_request(business_key.public_key(), PAYLOAD)
    with pytest.raises(UndecryptableRequest):
        open_request(business_key, parse_envelope(_tampered(sealed.body, field, b"\x01")))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"initial_vector": "not base64!"}, "not base64"),
        ({"initial_vector": base64.b64encode(b"12 bytes....").decode()}, "12 bytes"),
        ({"encrypted_flow_data": base64.b64encode(b"short").decode()}, "shorter than its tag"),
    ],
)
def test_broken_fields_are_undecryptable(
    business_key: rsa.RSAPrivateKey, change: dict[str, str], reason: str
) -> None:
    doc = json.loads(seal_request(business_key.public_key(), PAYLOAD).body)
    doc.update(change)
    with pytest.raises(UndecryptableRequest, match=reason):
        open_request(business_key, parse_envelope(json.dumps(doc).encode()))


def test_a_plaintext_that_is_not_an_object_is_undecryptable(
    business_key: rsa.RSAPrivateKey,
) -> None:
    sealed = seal_request(business_key.public_key(), ["INIT"])  # type: ignore[arg-type]
    with pytest.raises(UndecryptableRequest, match="not a JSON object"):
        open_request(business_key, parse_envelope(sealed.body))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"nope",
        b'{"encrypted_flow_data": "x"}',
        b'{"encrypted_flow_data": 1, "encrypted_aes_key": "a", "initial_vector": "b"}',
        b"[" * 100_000,
    ],
)
def test_a_body_that_is_not_the_envelope_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        parse_envelope(body)


def test_nothing_secret_in_the_repr(business_key: rsa.RSAPrivateKey) -> None:
    sealed = seal_request(business_key.public_key(), PAYLOAD)
    opened = open_request(business_key, parse_envelope(sealed.body))
    assert sealed.aes_key.hex() not in repr(opened)
    assert repr(sealed.aes_key) not in repr(opened)
