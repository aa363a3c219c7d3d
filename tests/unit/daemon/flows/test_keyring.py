"""The endpoint's key ring with real key files: a replaced key is used at once, the one
it replaced still opens requests for the grace period, a bad new file changes nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from daemon.flows.keyring import KeyRing
from daemon.flows.keys import generate_private_key, write_key_pair


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ids(keys: list[rsa.RSAPrivateKey]) -> list[int]:
    """Each key's modulus: keys compare by it, and a failing assert prints no key."""
    return [k.public_key().public_numbers().n for k in keys]


@pytest.fixture(scope="module")
def new_key() -> rsa.RSAPrivateKey:
    return generate_private_key()


@pytest.fixture
def key_file(tmp_path: Path, business_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "flows" / "private_key.pem"
    write_key_pair(path, business_key, passphrase="pass")
    return path


def test_a_replaced_key_is_used_at_once_and_the_old_one_during_the_grace(
    key_file: Path, business_key: rsa.RSAPrivateKey, new_key: rsa.RSAPrivateKey
) -> None:
    clock = Clock()
    ring = KeyRing.load(key_file, "pass", grace_s=60, clock=clock)
    assert ids(ring.keys()) == ids([business_key])
    write_key_pair(key_file, new_key, passphrase="pass", replace=True)  # keygen --force
    assert ids(ring.keys()) == ids([new_key, business_key])
    assert ids([ring.current]) == ids([new_key])
    clock.now += 59.9
    assert ids(ring.keys()) == ids([new_key, business_key])
    clock.now += 0.1
    assert ids(ring.keys()) == ids([new_key])


def test_the_same_key_written_again_is_no_rotation(
    key_file: Path, business_key: rsa.RSAPrivateKey
) -> None:
    ring = KeyRing.load(key_file, "pass", clock=Clock())
    write_key_pair(key_file, business_key, passphrase="pass", replace=True)
    assert ids(ring.keys()) == ids([business_key])


def test_a_new_file_that_does_not_load_keeps_the_key_with_one_warning(
    key_file: Path,
    business_key: rsa.RSAPrivateKey,
    new_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ring = KeyRing.load(key_file, "pass", clock=Clock())
    write_key_pair(key_file, new_key, passphrase="another pass", replace=True)
    with caplog.at_level(logging.WARNING, "metad.flows"):
        assert ids(ring.keys()) == ids([business_key])
        assert ids(ring.keys()) == ids([business_key])
    (record,) = caplog.records
    assert "passphrase is wrong" in record.getMessage()
    assert str(key_file) in record.getMessage()
    write_key_pair(key_file, new_key, passphrase="pass", replace=True)
    assert ids(ring.keys()) == ids([new_key, business_key])


def test_a_key_refused_for_its_mode_loads_once_chmod_fixes_it(
    key_file: Path,
    business_key: rsa.RSAPrivateKey,
    new_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ring = KeyRing.load(key_file, "pass", clock=Clock())
    write_key_pair(key_file, new_key, passphrase="pass", replace=True)
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING, "metad.flows"):
        assert ids(ring.keys()) == ids([business_key])
    assert "open to other users" in caplog.text
    key_file.chmod(0o600)  # only the ctime changes
    assert ids(ring.keys())[0] == ids([new_key])[0]


def test_a_removed_file_keeps_the_key_loaded(
    key_file: Path, business_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    ring = KeyRing.load(key_file, "pass", clock=Clock())
    key_file.unlink()
    with caplog.at_level(logging.WARNING, "metad.flows"):
        assert ids(ring.keys()) == ids([business_key])
    assert "cannot be read" in caplog.text


def test_nothing_shows_the_key(key_file: Path) -> None:
    ring = KeyRing.load(key_file, "pass", clock=Clock())
    assert repr(ring) == f"KeyRing({str(key_file)!r})"
