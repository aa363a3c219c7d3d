"""Authenticity checks for Meta's webhook calls: the POST signature and the GET verify token.

Why a module of its own: both checks guard the fleet's only inbound door, and the old
system got both wrong (behaviour.md §15.6 #32: the signature check failed open when the
app secret was empty, and the verify token was compared with ``==``). Here every check
fails closed and compares in constant time, so a caller cannot forget either.

Pure and sans-IO: bytes and strings in, a boolean out.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_PREFIX", "sign", "verify", "verify_token_matches"]

SIGNATURE_PREFIX = "sha256="
"""What Meta puts before the hex digest in ``X-Hub-Signature-256``."""

_HEX_LEN = 2 * hashlib.sha256().digest_size
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta would send for ``body``.

    Used by the simulator and the tests to produce genuine signatures, so they exercise
    the same code path as production instead of a hand-rolled copy.
    """
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the HMAC-SHA256 of the raw ``body`` under the app ``secret``.

    Fails closed: an empty secret, a missing header, a header without the ``sha256=``
    prefix or with anything but 64 hex digits after it are all ``False`` — never an
    exception, because the caller answers 401 either way. The hex may be in either case
    (Meta sends lowercase; proxies and test tools sometimes uppercase it); the comparison
    is of the raw digests with :func:`hmac.compare_digest`, so timing reveals nothing.
    """
    if not secret or not header:
        return False
    header = header.strip()
    if header[: len(SIGNATURE_PREFIX)].lower() != SIGNATURE_PREFIX:
        return False
    given_hex = header[len(SIGNATURE_PREFIX) :]
    # bytes.fromhex would skip inner whitespace, so check the digits explicitly.
    if len(given_hex) != _HEX_LEN or not _HEX_DIGITS.issuperset(given_hex):
        return False
    given = bytes.fromhex(given_hex)
    expected = hmac.new(secret, body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, given)


def verify_token_matches(expected: str, given: str | None) -> bool:
    """Whether the ``hub.verify_token`` of the GET handshake is the configured one.

    Constant time, and an empty configured token matches nothing (the old system let an
    empty ``hub.verify_token=`` through when the setting was empty, behaviour.md §6.1).
    Strings are compared as UTF-8 bytes; ``surrogatepass`` keeps odd query strings from
    raising instead of simply not matching.
    """
    if not expected or given is None:
        return False
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )
