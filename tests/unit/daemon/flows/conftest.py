from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa


@pytest.fixture(scope="session")
def business_key() -> rsa.RSAPrivateKey:
    """One 2048-bit key for the session (making one costs ~0.1 s)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
