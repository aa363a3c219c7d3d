"""Turning a stored webhook body into typed events, plus the rules for duplicates and order.

Why it never raises for a JSON object: the body is already stored and answered 200 when
this runs (the ingest path only checks the signature and that it is a JSON object). Meta
changes payloads over time, so anything of a shape not understood here becomes an
:class:`~daemon.webhook.events.UnknownChange` (counted, logged, kept for replay) and the
rest of the body still becomes events. Only bytes that are not a JSON object at all raise,
with the single :class:`MalformedBody`, which the endpoint answers with 400.

Why plain dict walking: the webhook path targets thousands of events per second, so each
value is type-checked once, where it is read, straight into frozen slotted dataclasses.
The walker is strict where it must be (an event without the id that routes or
deduplicates it is useless and becomes an ``UnknownChange``) and lenient elsewhere (a
missing caption or an unreadable timestamp still yields the event, with an error line).

Layout: this module is the public face (parse, the result, the dedupe and ordering
rules, the envelope walk); ``_messages`` reads the per-user fields (messages, statuses,
echoes, preferences) and message content, ``_fields`` the account-level fields, and
``_read`` holds the typed readers both share. Event types are in :mod:`.events` and
:mod:`.content`.

Pure and sans-IO: bytes in, values out; no clock, no logging.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import orjson

from daemon.webhook import _messages, _read, events as e
from daemon.webhook._fields import SINGLE_VALUE_READERS
from daemon.webhook.content import JSON

__all__ = [
    "WABA_OBJECT",
    "MalformedBody",
    "ParseResult",
    "advances",
    "body_dedupe_key",
    "parse",
    "parse_document",
    "status_rank",
]

WABA_OBJECT = "whatsapp_business_account"
"""The ``object`` of every WhatsApp Business Account webhook."""


class MalformedBody(ValueError):
    """The body is not JSON, or is JSON but not an object: the endpoint answers 400."""


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What one body meant.

    ``events`` in body order; ``unknown`` the pieces that became no event; ``errors``
    human-readable notes on recoverable problems inside events that were produced (an
    unreadable timestamp, a Flow reply whose ``response_json`` is not an object...).
    """

    events: tuple[e.Event, ...]
    unknown: tuple[e.UnknownChange, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every piece of the body was understood without a problem."""
        return not self.unknown and not self.errors


def body_dedupe_key(body: bytes) -> str:
    """The sha256 hex of the raw body: Meta's retries resend the very same bytes."""
    return hashlib.sha256(body).hexdigest()


def parse(body: bytes) -> ParseResult:
    """Parse one webhook body; raises only :class:`MalformedBody` (not a JSON object)."""
    try:
        doc = orjson.loads(body)
    except ValueError as exc:  # orjson's: not JSON, not UTF-8, or nested deeper than 1,024
        raise MalformedBody(f"body is not JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise MalformedBody(f"body is a JSON {type(doc).__name__}, not an object")
    return parse_document(doc)


def parse_document(doc: JSON) -> ParseResult:
    """Parse an already decoded body. Never raises."""
    sink = _read.Sink()
    obj = doc.get("object")
    entries = doc.get("entry")
    if obj != WABA_OBJECT:
        sink.skip(None, None, f"object is {_describe(obj)}, not {WABA_OBJECT!r}", doc)
    elif not isinstance(entries, list) or not entries:
        sink.skip(None, None, "entry is missing, empty or not a list", doc)
    else:
        for entry in entries:
            _entry(entry, sink)
    return ParseResult(tuple(sink.events), tuple(sink.unknown), tuple(sink.errors))


# --- status order -------------------------------------------------------------------------

_STATUS_RANK = {
    "accepted": 0,
    "held_for_quality_assessment": 1,
    "sent": 2,
    "delivered": 3,
    "failed": 4,
    "read": 5,
    "played": 6,
    "deleted": 7,
}


def status_rank(status: str) -> int:
    """The place of ``status`` in the one total order statuses may only climb; -1 unknown.

    accepted (the send answer) < held_for_quality_assessment < sent < delivered < failed <
    read < played (voice message played) < deleted. Why a total order: webhooks arrive out
    of order and in duplicate, and "keep the highest" converges to the same state whatever
    the arrival order. Why failed above delivered but below read: Meta reports a failure
    after ``sent`` (or rarely after ``delivered``) and the failure carries the error code
    that matters, so it wins over those; a ``read`` is the recipient's own device saying
    the message was shown, which no failure can undo, so it wins over ``failed``. deleted
    (the user deleted the message) is the last word on a message, after which nothing
    about it changes.
    """
    return _STATUS_RANK.get(status.lower(), -1)


def advances(current: str | None, new: str) -> bool:
    """Whether a stored ``current`` status should be replaced by ``new``.

    Never for an unknown ``new`` (it is logged, not applied), never sideways or back (a
    duplicate or a late ``delivered`` after ``read`` changes nothing).
    """
    rank = status_rank(new)
    if rank < 0:
        return False
    return current is None or rank > status_rank(current)


# --- the walker -----------------------------------------------------------------------------

Handler: TypeAlias = Callable[[str, JSON, _read.Sink], None]

_MULTI_ITEM: dict[str, Handler] = {
    "messages": _messages.messages,
    "smb_message_echoes": _messages.echoes,
    "user_preferences": _messages.user_preferences,
}


def _describe(value: Any) -> str:
    """A short, safe description of an unexpected value for a reason string."""
    if isinstance(value, str):
        return repr(value[:60])
    return "missing" if value is None else f"a {type(value).__name__}"


def _entry(entry: Any, sink: _read.Sink) -> None:
    if not isinstance(entry, dict):
        sink.skip(None, None, "entry is not an object", entry)
        return
    waba_id = _read.ident(entry, "id")
    changes = entry.get("changes")
    if waba_id is None:
        sink.skip(None, None, "entry without an id", entry)
        return
    if not isinstance(changes, list) or not changes:
        sink.skip(None, waba_id, "entry without a list of changes", entry)
        return
    for change in changes:
        if not isinstance(change, dict):
            sink.skip(None, waba_id, "change is not an object", change)
            continue
        field = change.get("field")
        value = change.get("value")
        if not isinstance(field, str):
            sink.skip(None, waba_id, "change without a field name", change)
        elif not isinstance(value, dict):
            sink.skip(field, waba_id, "change value is not an object", change)
        else:
            try:
                _change(field, waba_id, value, sink)
            except Exception as exc:  # a parser bug must not lose the rest of the body
                sink.skip(field, waba_id, f"internal parser error: {exc!r}", value)


def _change(field: str, waba_id: str, value: JSON, sink: _read.Sink) -> None:
    handler = _MULTI_ITEM.get(field)
    if handler is not None:
        handler(waba_id, value, sink)
        return
    reader = SINGLE_VALUE_READERS.get(field)
    if reader is None:
        sink.skip(field, waba_id, "field not handled", value)
        return
    event = reader(waba_id, value)
    if event is None:
        sink.skip(field, waba_id, "value without its required key", value)
    else:
        sink.events.append(event)
