"""The webhook signature and verify-token checks: right ones pass, everything else fails closed."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import assume, given, settings, strategies as st

from daemon.webhook.signature import sign, verify, verify_token_matches

SECRET = b"app-secret-123"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_sign_is_meta_format() -> None:
    expected = hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == "sha256=" + expected


def test_right_signature_passes() -> None:
    assert verify(SECRET, BODY, sign(SECRET, BODY))


def test_uppercase_hex_and_prefix_pass() -> None:
    header = sign(SECRET, BODY)
    assert verify(SECRET, BODY, "sha256=" + header[7:].upper())
    assert verify(SECRET, BODY, header.upper())


def test_surrounding_whitespace_passes() -> None:
    assert verify(SECRET, BODY, "  " + sign(SECRET, BODY) + "\r\n")


def test_wrong_secret_fails() -> None:
    assert not verify(SECRET, BODY, sign(b"another-secret", BODY))


def test_changed_body_fails() -> None:
    assert not verify(SECRET, BODY + b" ", sign(SECRET, BODY))


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header_fails(header: str | None) -> None:
    assert not verify(SECRET, BODY, header)


def test_empty_secret_fails_closed() -> None:
    # The old system accepted everything when the secret was empty (behaviour.md §15.6 #32).
    assert not verify(b"", BODY, sign(b"", BODY))


def _hex() -> str:
    return sign(SECRET, BODY)[7:]


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(_hex(), id="no-prefix"),
        pytest.param("sha1=" + _hex(), id="sha1-prefix"),
        pytest.param("sha256:" + _hex(), id="colon"),
        pytest.param("sha256=" + _hex()[:-2], id="short"),
        pytest.param("sha256=" + _hex() + "00", id="long"),
        pytest.param("sha256=" + "zz" + _hex()[2:], id="not-hex"),
        pytest.param("sha256=" + _hex()[:30] + " " + _hex()[31:], id="inner-space"),
        pytest.param("sha256=" + "é" + _hex()[1:], id="non-ascii"),
        pytest.param("sha256=", id="prefix-only"),
        pytest.param("sha256=" + _hex() + "," + "sha256=" + _hex(), id="two-values"),
    ],
)
def test_malformed_header_fails(header: str) -> None:
    assert not verify(SECRET, BODY, header)


@settings(max_examples=300, deadline=None)
@given(secret=st.binary(min_size=1, max_size=64), body=st.binary(max_size=512))
def test_sign_then_verify_roundtrip(secret: bytes, body: bytes) -> None:
    assert verify(secret, body, sign(secret, body))


@settings(max_examples=500, deadline=None)
@given(body=st.binary(max_size=256), header=st.none() | st.text(max_size=80))
def test_no_body_passes_without_its_signature(body: bytes, header: str | None) -> None:
    right = sign(SECRET, body)
    assume(header is None or header.strip().lower() != right)
    assert not verify(SECRET, body, header)


@settings(max_examples=300, deadline=None)
@given(signed=st.binary(max_size=128), sent=st.binary(max_size=128))
def test_a_signature_does_not_transfer_to_another_body(signed: bytes, sent: bytes) -> None:
    assume(signed != sent)
    assert not verify(SECRET, sent, sign(SECRET, signed))


@pytest.mark.parametrize(
    ("expected", "given", "ok"),
    [
        ("tok-1", "tok-1", True),
        ("tok-1", "tok-2", False),
        ("tok-1", "tok-1 ", False),
        ("tok-1", "", False),
        ("tok-1", None, False),
        ("", "", False),  # an unset token matches nothing (behaviour.md §6.1)
        ("", None, False),
        ("ação", "ação", True),
        ("tok", "\udcff", False),  # a lone surrogate does not raise
    ],
)
def test_verify_token_matches(expected: str, given: str | None, ok: bool) -> None:
    assert verify_token_matches(expected, given) is ok
