"""The control protocol: JSON-RPC 2.0, one JSON object per line, over a Unix socket.

Why sans-IO: the daemon (trio) and the console (asyncio, Textual) both speak it, so the
codec imports neither event loop — bytes in, messages out. A line longer than
:data:`MAX_LINE` is refused on both sides (a runaway peer cannot exhaust memory).

Server → client notifications (no ``id``): ``event`` (one event of a ``subscribe``
stream) and ``resync`` (the subscriber fell behind and was cut off: take a fresh
``status.snapshot`` and subscribe again). Nothing here ever blocks the daemon.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "MAX_LINE",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "REFUSED",
    "UNAVAILABLE",
    "LineDecoder",
    "LineTooLong",
    "Notification",
    "ProtocolError",
    "Request",
    "Response",
    "decode",
    "encode",
    "error_response",
    "notification",
    "request",
    "result_response",
]

MAX_LINE = 8 * 1024 * 1024
"""Bytes per line, both directions (a 1,000-chip snapshot is well under 1 MiB)."""

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
UNAVAILABLE = -32001
"""The actor or subsystem asked could not answer (stopping, crashed, timed out)."""
REFUSED = -32002
"""The daemon understood and said no (unknown chip, refused send …); the message says why."""


class LineTooLong(Exception):
    pass


class ProtocolError(Exception):
    """A message that is not JSON-RPC 2.0; ``code`` is the JSON-RPC error code."""

    def __init__(self, code: int, message: str, request_id: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class Request:
    id: int | str | None
    method: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Response:
    id: int | str | None
    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Notification:
    method: str
    params: dict[str, Any] = field(default_factory=dict)


Message = Request | Response | Notification


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
"""Made once: ``json.dumps`` with these options builds a new encoder per call (a tenth of
the cost of encoding a chip event, which a subscribed daemon does 2,000 times a second)."""


def encode(doc: dict[str, Any]) -> bytes:
    line = _ENCODER.encode(doc).encode()
    if len(line) >= MAX_LINE:
        raise LineTooLong(f"message of {len(line)} bytes exceeds {MAX_LINE}")
    return line + b"\n"


def request(request_id: int | str, method: str, params: dict[str, Any] | None = None) -> bytes:
    return encode({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})


def notification(method: str, params: dict[str, Any]) -> bytes:
    return encode({"jsonrpc": "2.0", "method": method, "params": params})


def result_response(request_id: int | str | None, result: Any) -> bytes:
    return encode({"jsonrpc": "2.0", "id": request_id, "result": result})


def error_response(
    request_id: int | str | None, code: int, message: str, data: Any = None
) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return encode({"jsonrpc": "2.0", "id": request_id, "error": error})


def decode(line: bytes) -> Message:
    """One line to a message; raises :class:`ProtocolError` with the JSON-RPC code."""
    try:
        doc = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(PARSE_ERROR, f"parse error: {exc}") from None
    if not isinstance(doc, dict) or doc.get("jsonrpc") != "2.0":
        raise ProtocolError(INVALID_REQUEST, "not a JSON-RPC 2.0 object")
    raw_id = doc.get("id")
    request_id = raw_id if isinstance(raw_id, int | str) and not isinstance(raw_id, bool) else None
    if "method" in doc:
        method, params = doc["method"], doc.get("params", {})
        if not isinstance(method, str) or not method:
            raise ProtocolError(INVALID_REQUEST, "method must be a non-empty string", request_id)
        if not isinstance(params, dict):
            raise ProtocolError(INVALID_PARAMS, "params must be an object", request_id)
        if "id" in doc:
            if request_id is None:
                raise ProtocolError(INVALID_REQUEST, "id must be a number or a string")
            return Request(request_id, method, params)
        return Notification(method, params)
    if "result" in doc or "error" in doc:
        error = doc.get("error")
        if error is not None and not isinstance(error, dict):
            raise ProtocolError(INVALID_REQUEST, "error must be an object", request_id)
        return Response(request_id, doc.get("result"), error)
    raise ProtocolError(INVALID_REQUEST, "neither a request nor a response", request_id)


class LineDecoder:
    """Splits a byte stream into lines, refusing any longer than ``max_line``."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max = max_line
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        lines: list[bytes] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            lines.append(bytes(self._buffer[:end]))
            del self._buffer[: end + 1]
        if len(self._buffer) > self._max:
            self._buffer.clear()
            raise LineTooLong(f"line exceeds {self._max} bytes")
        return [line for line in lines if line.strip()]
