"""Key files: 0600 from the first byte, passphrases honoured, never overwritten by mistake."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from daemon.flows.keys import (
    KeyFileError,
    ensure_key_pair,
    load_private_key,
    public_pem,
    write_key_pair,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_key_pair_is_written_private_0600_public_beside_it(
    tmp_path: Path, business_key: rsa.RSAPrivateKey
) -> None:
    private = tmp_path / "keys" / "flows.pem"
    write_key_pair(private, business_key, passphrase=None)
    assert _mode(private) == 0o600
    assert _mode(private.parent) == 0o700
    public = tmp_path / "keys" / "flows.pem.pub"
    assert public.read_text() == public_pem(business_key)
    loaded = load_pem_public_key(public.read_bytes())
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert loaded.public_numbers() == business_key.public_key().public_numbers()
    assert [p.name for p in sorted(private.parent.iterdir())] == ["flows.pem", "flows.pem.pub"]


def test_an_existing_key_is_not_overwritten_unless_asked(
    tmp_path: Path, business_key: rsa.RSAPrivateKey
) -> None:
    private = tmp_path / "k.pem"
    private.write_text("precious")
    with pytest.raises(FileExistsError):
        write_key_pair(private, business_key, passphrase=None)
    assert private.read_text() == "precious"
    write_key_pair(private, business_key, passphrase=None, replace=True)
    assert load_private_key(private, None).private_numbers() == business_key.private_numbers()


def test_a_passphrase_encrypts_the_key(tmp_path: Path, business_key: rsa.RSAPrivateKey) -> None:
    private = tmp_path / "k.pem"
    write_key_pair(private, business_key, passphrase="correct horse")
    assert b"ENCRYPTED" in private.read_bytes()
    key = load_private_key(private, "correct horse")
    assert key.private_numbers() == business_key.private_numbers()
    with pytest.raises(KeyFileError, match="passphrase is wrong"):
        load_private_key(private, "wrong")
    with pytest.raises(KeyFileError, match=r"encrypted: set \[flows\] passphrase"):
        load_private_key(private, None)


def test_load_errors_name_the_file_and_never_the_key(
    tmp_path: Path, business_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        load_private_key(tmp_path / "none.pem", None)
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFileError, match="not a PEM private key"):
        load_private_key(junk, None)
    plain = tmp_path / "plain.pem"
    write_key_pair(plain, business_key, passphrase=None)
    with pytest.raises(KeyFileError, match="not encrypted") as info:
        load_private_key(plain, "s3cr3t-Phr4se")
    assert "s3cr3t-Phr4se" not in str(info.value)


def test_ensure_makes_one_key_once(tmp_path: Path) -> None:
    private = tmp_path / "state" / "flows" / "private_key.pem"
    first = ensure_key_pair(private, None)
    second = ensure_key_pair(private, None)
    assert first.private_numbers() == second.private_numbers()
    (tmp_path / "state" / "flows" / "private_key.pem.pub").unlink()
    ensure_key_pair(private, None)
    assert (tmp_path / "state" / "flows" / "private_key.pem.pub").read_text() == public_pem(first)
