"""The one exception type storage raises for operational failures, and its wording.

Why: the daemon must tell an operator *what* is wrong with storage (wrong DSN, server
down, embedded server unable to start) in one line, without an asyncpg traceback. Query
errors (constraint violations, bad SQL) are programming or data errors and propagate as
asyncpg raised them; ``StoreError`` is for "storage is not usable".
"""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

__all__ = ["StoreError", "connect_error", "describe_dsn"]


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
