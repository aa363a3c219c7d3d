"""The endpoint's private key as the key file holds it now, and the key it replaced.

Why not the key loaded at start: ``metad flows keygen --force`` replaces the key file
while the daemon runs and registers the new public key at Meta at once; an endpoint
holding on to its first key would answer 421 to every request until a restart. So the
ring looks at the file (``stat``: device, inode, mtime, ctime, size — microseconds, against
the millisecond of an RSA decryption) on every request and loads it again when it
changed.

Why the replaced key is kept a while: Meta may still seal requests with the public key
it had before (requests in flight, keys cached for a short time), so for
:data:`GRACE_S` after the change was seen the old key still opens what the new one
cannot. A file that changed but does not load (wrong passphrase, open to other users,
removed) leaves the key in use as it is, with one warning per change naming the file
and the reason, never the key.

Loading is synchronous (about 0.1 s, RSA key checks): it happens once per rotation,
in the request that first sees the new file; the stat before it is microseconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from daemon.flows.keys import KeyFileError, load_private_key

__all__ = ["GRACE_S", "KeyRing"]

log = logging.getLogger("metad.flows")

GRACE_S = 15 * 60.0
"""How long the replaced key still opens requests after the new one was loaded."""

Stamp = tuple[int, int, int, int, int]
"""(st_dev, st_ino, st_mtime_ns, st_ctime_ns, st_size): changes when the file is replaced,
rewritten or chmod-ed (a key refused for its mode loads once ``chmod 600`` fixes it)."""


def _stamp(path: Path) -> Stamp | None:
    """The file's identity now, or None when it cannot be looked at."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def _same(a: rsa.RSAPrivateKey, b: rsa.RSAPrivateKey) -> bool:
    return a.public_key().public_numbers() == b.public_key().public_numbers()


class KeyRing:
    """The private key of ``path``, re-read when the file changes; during a rotation
    also the key it replaced. Use :meth:`load` (it stamps the file before reading it,
    so a change racing the first read is seen at the next request)."""

    def __init__(
        self,
        path: Path,
        passphrase: str | None,
        key: rsa.RSAPrivateKey,
        stamp: Stamp | None,
        *,
        grace_s: float = GRACE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._passphrase = passphrase
        self._current = key
        self._stamp = stamp
        self._previous: rsa.RSAPrivateKey | None = None
        self._previous_until = 0.0
        self._grace_s = grace_s
        self._clock = clock

    def __repr__(self) -> str:  # never the key
        return f"KeyRing({str(self.path)!r})"

    @classmethod
    def load(
        cls,
        path: Path,
        passphrase: str | None,
        *,
        grace_s: float = GRACE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> KeyRing:
        """The ring of the key at ``path`` (KeyFileError as :func:`load_private_key`)."""
        stamp = _stamp(path)
        key = load_private_key(path, passphrase)
        return cls(path, passphrase, key, stamp, grace_s=grace_s, clock=clock)

    @property
    def current(self) -> rsa.RSAPrivateKey:
        """The key in use (as last loaded; :meth:`keys` looks at the file first)."""
        return self._current

    def keys(self) -> list[rsa.RSAPrivateKey]:
        """The keys to try on a request, newest first: the file's (re-read if it
        changed) and, during the grace period, the one it replaced."""
        now = self._clock()
        self._refresh(now)
        if self._previous is not None and now < self._previous_until:
            return [self._current, self._previous]
        self._previous = None
        return [self._current]

    def _refresh(self, now: float) -> None:
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return
        self._stamp = stamp  # one warning per change; fixing the file changes it again
        if stamp is None:
            log.warning(
                "Flows key %s cannot be read; still decrypting with the key loaded", self.path
            )
            return
        try:
            key = load_private_key(self.path, self._passphrase)
        except KeyFileError as exc:
            log.warning("Flows key changed but does not load (%s); still using the key loaded", exc)
            return
        if not _same(key, self._current):
            self._rotate(key, now)

    def _rotate(self, key: rsa.RSAPrivateKey, now: float) -> None:
        self._previous, self._previous_until = self._current, now + self._grace_s
        self._current = key
        log.info(
            "Flows key %s replaced: decrypting with the new key; the previous one still "
            "opens requests for %d s",
            self.path,
            self._grace_s,
        )
