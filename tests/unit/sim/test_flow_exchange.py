"""The simulator's Meta side and the daemon's business side speak the same envelope."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from daemon.flows.crypto import open_request, parse_envelope, seal_response
from daemon.flows.keys import public_pem
from sim.flow_exchange import open_reply, seal_request


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_what_the_simulator_seals_the_daemon_opens_and_back(key: rsa.RSAPrivateKey) -> None:
    payload = {"version": "3.0", "action": "data_exchange", "data": {"shift_id": "sh_1"}}
    body, aes_key, iv = seal_request(public_pem(key), payload)
    opened = open_request(key, parse_envelope(body))
    assert opened.payload == payload
    reply = {"screen": "SUCCESS", "data": {"extension_message_response": {"params": {}}}}
    assert open_reply(seal_response(reply, opened.aes_key, opened.iv).encode(), aes_key, iv) == (
        reply
    )


def test_a_non_rsa_business_key_is_refused() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(Exception, match="not an RSA key"):
        seal_request(pem, {"action": "ping"})
