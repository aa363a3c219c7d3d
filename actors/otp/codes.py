"""Passcodes: drawn with :mod:`secrets`, stored only as a salted scrypt hash.

Why scrypt and a salt per row: a 6-digit code has a million values, so a plain hash of
a leaked row is reversed instantly; scrypt makes each guess cost milliseconds and memory,
and the salt makes every row a separate search. Comparison is constant time
(:func:`hmac.compare_digest`) so timing says nothing about how close a guess was.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

__all__ = ["SCRYPT_N", "check_code", "hash_code", "new_code", "new_salt"]

SCRYPT_N = 2**14
"""scrypt cost (16 MiB, ~20-50 ms); tests pass a smaller ``n`` to stay fast."""
_R, _P, _LEN = 8, 1, 32


def new_code(digits: int = 6, *, choice: Callable[[str], str] = secrets.choice) -> str:
    """A numeric code of ``digits`` digits (leading zeros kept: it is text)."""
    if not 4 <= digits <= 10:
        raise ValueError("a code has 4 to 10 digits")
    return "".join(choice("0123456789") for _ in range(digits))


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def hash_code(code: str, salt: bytes, *, n: int = SCRYPT_N) -> bytes:
    return hashlib.scrypt(code.encode(), salt=salt, n=n, r=_R, p=_P, dklen=_LEN, maxmem=64 << 20)


def check_code(code: str, salt: bytes, expected: bytes, *, n: int = SCRYPT_N) -> bool:
    """True when ``code`` hashes to ``expected`` (constant-time comparison)."""
    return hmac.compare_digest(hash_code(code.strip(), salt, n=n), expected)
