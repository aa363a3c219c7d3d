"""Meta's side of the data exchange, written out independently of ``daemon.flows.crypto``.

Why a separate implementation: a round trip through our own seal and open functions
would pass even if both had the same mistake. This follows Meta's published recipe step
by step (fresh AES-128 key, RSA-OAEP-SHA256 wrap, AES-GCM with a 16-byte IV and the tag
appended; the answer under the inverted IV) with the primitives themselves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

APP_SECRET = b"test-app-secret"


@dataclass(frozen=True)
class Sealed:
    body: bytes
    aes_key: bytes
    iv: bytes


def seal_request(public_key: rsa.RSAPublicKey, payload: dict[str, Any]) -> Sealed:
    aes_key, iv = os.urandom(16), os.urandom(16)
    wrapped = public_key.encrypt(
        aes_key,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    encryptor = Cipher(algorithms.AES(aes_key), modes.GCM(iv)).encryptor()
    sealed = encryptor.update(json.dumps(payload).encode()) + encryptor.finalize()
    body = {
        "encrypted_flow_data": base64.b64encode(sealed + encryptor.tag).decode(),
        "encrypted_aes_key": base64.b64encode(wrapped).decode(),
        "initial_vector": base64.b64encode(iv).decode(),
    }
    return Sealed(json.dumps(body).encode(), aes_key, iv)


def open_response(text: bytes | str, aes_key: bytes, iv: bytes) -> Any:
    raw = base64.b64decode(text)
    flipped = bytes(~b & 0xFF for b in iv)
    decryptor = Cipher(algorithms.AES(aes_key), modes.GCM(flipped, raw[-16:])).decryptor()
    return json.loads(decryptor.update(raw[:-16]) + decryptor.finalize())


def signature(body: bytes, secret: bytes = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
