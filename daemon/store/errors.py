"""The one exception type storage raises for operational failures, and its wording.

Why: the daemon must tell an operator *what* is wrong with storage (wrong DSN, server
down, embedded server unable to start) in one line, without an asyncpg traceback. Query
errors (constraint violations, bad SQL) are programming or data errors and propagate as
asyncpg raised them; ``StoreError`` is for "storage is not usable".
"""

from __future__ import annotations

import errno
import socket
from urllib.parse import parse_qs, urlsplit

__all__ = ["StoreError", "connect_error", "describe_dsn", "is_outage"]


class StoreError(Exception):
    """Storage cannot be used: the message names the cause and where to look."""


def describe_dsn(dsn: str) -> str:
    """Where a DSN points, without credentials: ``host:port/db`` or ``socket dir (db)``.

    Why: error messages must name the server but never echo a password.
    """
    try:
        parts = urlsplit(dsn)
        port = parts.port
        host = parts.hostname
    except ValueError:
        return "<unparsable DSN>"
    database = parts.path.lstrip("/") or "<default database>"
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if not host and socket_dir.startswith("/"):
        return f"unix socket {socket_dir} (database {database})"
    return f"{host or 'localhost'}:{port or 5432}/{database}"


def connect_error(dsn: str, exc: BaseException, *, timeout: float) -> StoreError:
    """Turn whatever connecting raised into one ``StoreError`` naming the cause."""
    return StoreError(
        f"cannot connect to PostgreSQL at {describe_dsn(dsn)}: {_reason(exc, timeout)}"
    )


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host ({exc.strerror or exc})"
    if isinstance(exc, FileNotFoundError):
        return "no server socket (is the server running?)"
    text = str(exc).strip() or type(exc).__name__
    # asyncpg joins per-address failures ("Multiple exceptions: [Errno 111] ...").
    if "Connect call failed" in text or "[Errno 111]" in text:
        return "connection refused"
    return text.splitlines()[0]


_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
"""Connection exceptions, admin/crash shutdown, "cannot connect now", too many clients."""
_OUTAGE_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ENOENT,  # a unix-socket server that is not running: no socket file
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    }
)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or an error it wraps or groups) says the database cannot be
    reached right now — refused, reset, shutting down, not accepting connections — as
    opposed to a query being wrong. Matched by SQLSTATE and errno, so callers need not
    import asyncpg (the supervisor uses it: such a crash waits for the store instead of
    counting towards giving up)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        if isinstance(e, TimeoutError) or (isinstance(e, OSError) and e.errno in _OUTAGE_ERRNOS):
            return True
        if isinstance(e, ConnectionError):
            return True
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_OUTAGE_SQLSTATES):
            return True
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)
    return False
