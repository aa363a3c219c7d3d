"""The Flows data-exchange envelope, business side: open Meta's request, seal our reply.

Why exactly this scheme (cloud-api.md §7, behaviour.md §7.18): Meta draws a fresh
AES-128 key per request, wraps it with the business's RSA public key (OAEP, SHA-256 for
both the hash and MGF1, no label) and seals the JSON with AES-128-GCM under a 16-byte
IV, the 16-byte tag appended. The reply goes back under the same key with the IV's
every bit inverted. The old system used a symmetric-key guess at this and could never
have talked to Meta; here a request sealed the way Meta does it opens, and nothing else.

Pure: bytes and keys in, bytes and dicts out. Every failure to open is one
:class:`UndecryptableRequest` (the endpoint answers 421 so Meta's client fetches the
key again); a body that is not the envelope at all is :class:`MalformedEnvelope` (400).
Neither message ever carries key material.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "AES_KEY_BYTES",
    "IV_BYTES",
    "TAG_BYTES",
    "Envelope",
    "MalformedEnvelope",
    "OpenedRequest",
    "UndecryptableRequest",
    "flip_iv",
    "oaep",
    "open_request",
    "parse_envelope",
    "seal_response",
]

AES_KEY_BYTES = 16
IV_BYTES = 16
TAG_BYTES = 16
_FIELDS = ("encrypted_flow_data", "encrypted_aes_key", "initial_vector")


def oaep() -> padding.OAEP:
    """RSA-OAEP with SHA-256 and MGF1-SHA-256, no label: how Meta wraps the AES key."""
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class MalformedEnvelope(ValueError):
    """The body is not ``{encrypted_flow_data, encrypted_aes_key, initial_vector}``."""


class UndecryptableRequest(ValueError):
    """The envelope does not open with our key (wrong key, tampered, bad base64)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """The three base64 strings of a data-exchange request, as sent."""

    encrypted_flow_data: str
    encrypted_aes_key: str
    initial_vector: str


@dataclass(frozen=True, slots=True)
class OpenedRequest:
    """A decrypted request and what sealing its reply needs. The key is not shown."""

    payload: dict[str, Any]
    aes_key: bytes = field(repr=False)
    iv: bytes = field(repr=False)


def parse_envelope(body: bytes) -> Envelope:
    """The envelope in a raw request body, or MalformedEnvelope."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedEnvelope("the body is not JSON") from None
    if not isinstance(doc, dict):
        raise MalformedEnvelope("the body is not a JSON object")
    values = [v for name in _FIELDS if isinstance(v := doc.get(name), str) and v]
    if len(values) != len(_FIELDS):
        raise MalformedEnvelope(f"the body needs the strings {', '.join(_FIELDS)}")
    return Envelope(*values)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise UndecryptableRequest(f"{what} is not base64") from None


def flip_iv(iv: bytes) -> bytes:
    """The IV with every bit inverted: the nonce of the reply."""
    return bytes(b ^ 0xFF for b in iv)


def open_request(private_key: rsa.RSAPrivateKey, envelope: Envelope) -> OpenedRequest:
    """Unwrap the AES key, decrypt and parse the flow data; UndecryptableRequest if not.

    The plaintext must be a JSON object; anything else means it was not sealed by Meta
    for us, which is the same answer (421) as a failed tag.
    """
    wrapped = _b64(envelope.encrypted_aes_key, "encrypted_aes_key")
    iv = _b64(envelope.initial_vector, "initial_vector")
    sealed = _b64(envelope.encrypted_flow_data, "encrypted_flow_data")
    if len(iv) != IV_BYTES:
        raise UndecryptableRequest(f"initial_vector has {len(iv)} bytes, not {IV_BYTES}")
    if len(sealed) < TAG_BYTES:
        raise UndecryptableRequest("encrypted_flow_data is shorter than its tag")
    try:
        aes_key = private_key.decrypt(wrapped, oaep())
    except ValueError:
        raise UndecryptableRequest("encrypted_aes_key does not unwrap with our key") from None
    if len(aes_key) != AES_KEY_BYTES:
        raise UndecryptableRequest(f"the AES key has {len(aes_key)} bytes, not {AES_KEY_BYTES}")
    try:
        plain = AESGCM(aes_key).decrypt(iv, sealed, None)
    except InvalidTag:
        raise UndecryptableRequest("encrypted_flow_data fails its GCM tag") from None
    try:
        payload = json.loads(plain)
    except (ValueError, RecursionError):
        raise UndecryptableRequest("the decrypted flow data is not JSON") from None
    if not isinstance(payload, dict):
        raise UndecryptableRequest("the decrypted flow data is not a JSON object")
    return OpenedRequest(payload, aes_key, iv)


def seal_response(doc: dict[str, Any], aes_key: bytes, iv: bytes) -> str:
    """``doc`` as the reply body: base64(AES-GCM(key, flipped IV) ciphertext ‖ tag)."""
    plain = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.b64encode(AESGCM(aes_key).encrypt(flip_iv(iv), plain, None)).decode("ascii")
