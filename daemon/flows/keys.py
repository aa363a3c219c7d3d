"""The business key pair of the Flows endpoint: make it, store it, load it.

Why here and careful: the private key opens every Flow answer a user types (names, CRM
numbers), so it is written mode 0600 from the first byte (never chmod-ed afterwards),
optionally encrypted with a passphrase, and nothing here ever puts key material in a
message or a log. The public key sits beside it as ``<name>.pub`` so the simulator and
an operator can read it without the passphrase.

Two writers may race for the first key in sandbox mode (``metad run`` and ``metad flows
public-key``): the private key is linked into place atomically, the loser adopts the
winner's key, and the public file is always derived from the key that won.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "KEY_BITS",
    "KeyFileError",
    "ensure_key_pair",
    "generate_private_key",
    "load_private_key",
    "public_pem",
    "write_key_pair",
]

KEY_BITS = 2048
"""Meta expects a 2048-bit RSA key."""


class KeyFileError(Exception):
    """A key file that cannot be read, decrypted or used. Names the path, never the key."""


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """The SubjectPublicKeyInfo PEM Meta takes as ``business_public_key``."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _private_pem(key: rsa.RSAPrivateKey, passphrase: str | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _write_new(path: Path, data: bytes, mode: int) -> Path:
    """A temp file beside ``path`` holding ``data``, created with ``mode``; returns it."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return Path(name)


def _write_public(private: Path, key: rsa.RSAPrivateKey) -> None:
    public = private.with_name(private.name + ".pub")
    tmp = _write_new(public, public_pem(key).encode(), 0o644)
    os.replace(tmp, public)


def write_key_pair(
    private: Path, key: rsa.RSAPrivateKey, *, passphrase: str | None, replace: bool = False
) -> None:
    """Store ``key`` at ``private`` (0600) and its public half at ``<private>.pub``.

    Without ``replace`` an existing key is never overwritten (FileExistsError): a lost
    private key means every flow has to be re-keyed at Meta.
    """
    private.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = _write_new(private, _private_pem(key, passphrase), 0o600)
    try:
        if replace:
            os.replace(tmp, private)
        else:
            os.link(tmp, private)  # atomic, and fails if a key is already there
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _write_public(private, key)


def load_private_key(path: Path, passphrase: str | None) -> rsa.RSAPrivateKey:
    """The RSA private key at ``path``, or KeyFileError saying why (without the key)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    secret = passphrase.encode() if passphrase else None
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except TypeError:
        if secret is None:
            raise KeyFileError(f"{path} is encrypted: set [flows] passphrase") from None
        raise KeyFileError(f"{path} is not encrypted, but a passphrase is set") from None
    except ValueError:
        raise KeyFileError(f"{path} is not a PEM private key, or the passphrase is wrong") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < KEY_BITS:
        raise KeyFileError(f"{path} is not a {KEY_BITS}-bit RSA key")
    _check_private(path)
    return key


def _check_private(path: Path) -> None:
    """Refuse a key other users may read (or write): whoever reads it reads every Flow
    answer. Checked once the file is known to hold a key, so a wrong file is named as
    such first."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if mode & 0o007:
        raise KeyFileError(
            f"{path} is open to other users (mode {mode:04o}); run: chmod 600 {path}"
        )


def ensure_key_pair(private: Path, passphrase: str | None) -> rsa.RSAPrivateKey:
    """The key at ``private``, made on first use (sandbox mode); the .pub kept in step."""
    if not private.exists():
        with contextlib.suppress(FileExistsError):  # another process won the race
            write_key_pair(private, generate_private_key(), passphrase=passphrase)
    key = load_private_key(private, passphrase)
    if not private.with_name(private.name + ".pub").exists():
        _write_public(private, key)
    return key
