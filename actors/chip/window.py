"""Conversation windows of one chip's contacts: what may be sent and what is free.

Meta's rules (cloud-api.md 6, behaviour.md 7.2):

- *customer-service window*: every message from the user opens or renews it for 24 h.
  Inside it any message may be sent, free-form (non-template) messages are free and so are
  utility templates. Only the user renews it; nothing the business sends does.
- *free-entry-point window*: a click-to-WhatsApp referral makes everything free for 72 h.
  It does NOT permit free-form messages by itself — those still need the service window
  (the old system treated CTWA as a 72 h free-form window, behaviour.md 15.2 #12). A
  referral always arrives on an inbound message, so the caller calls both
  :meth:`WindowBook.on_inbound` and :meth:`WindowBook.on_referral`.
  Meta starts the 72 h when the business answers (within 24 h); counting from the
  referral instead ends it earlier, never later, so it never promises a free send.

Safety margin (behaviour.md 15.2 #13): a send is not instant, and a window that closes
while the message is in flight turns it into a 131047 or a paid message. A window counts
as open only while ``expires_at - now > safety_margin_s``; at exactly
``expires_at - safety_margin_s`` it is already CLOSED.

Webhooks are retried and reordered, so an expiry only ever moves forward; ``at`` should be
the message's own ``timestamp``, not the time the webhook arrived, so a delivery retried
hours later opens nothing that Meta has not.

Memory: the bench goal is 1,000,000 windows over 50 chips within 300 MB for the whole
process, so a window is one ``float`` in a ``dict[str, float]`` per kind — no object per
window. Keys are interned on insert so chips sharing a contact share its key string.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from config.model import WindowsConfig

__all__ = [
    "CATEGORIES",
    "FREE_ENTRY",
    "SERVICE",
    "WindowBook",
    "WindowChange",
    "WindowKind",
    "WindowState",
]

WindowKind: TypeAlias = Literal["service", "free_entry"]
SERVICE: Final = "service"
FREE_ENTRY: Final = "free_entry"

CATEGORIES: Final = frozenset(
    {"marketing", "utility", "authentication", "authentication_international", "service"}
)
"""Meta's pricing categories; ``service`` is a free-form (non-template) message."""
_FREE_IN_SERVICE: Final = frozenset({"service", "utility"})


@dataclass(frozen=True, slots=True)
class WindowChange:
    """One change to journal: the window ``kind`` of ``key`` now expires at ``expires_at``.

    ``expires_at`` is None when the entry was removed (only :meth:`WindowBook.rekey`
    does that; expiry needs no journal, storage drops rows past their time itself).
    """

    key: str
    kind: WindowKind
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class WindowState:
    """A contact's windows as seen at one instant (margin applied).

    ``seconds_left`` is how long the service window stays usable for free-form messages:
    ``service_expires_at - safety_margin_s - now`` while open, else 0.0.
    """

    service_open: bool
    free_entry_open: bool
    service_expires_at: float | None
    free_entry_expires_at: float | None
    seconds_left: float


class WindowBook:
    """The service and free-entry windows of one chip, keyed by contact key.

    Keys come from :class:`actors.chip.contacts.ContactBook`, so the 12- and 13-digit
    forms of a Brazilian mobile are one window.
    """

    __slots__ = ("_free", "_free_s", "_margin", "_service", "_service_s")

    def __init__(self, cfg: WindowsConfig) -> None:
        self._margin = float(cfg.safety_margin_s)
        self._service_s = float(cfg.service_hours) * 3600.0
        self._free_s = float(cfg.free_entry_hours) * 3600.0
        self._service: dict[str, float] = {}
        self._free: dict[str, float] = {}

    def __len__(self) -> int:
        """Entries held (both kinds, expired ones not yet dropped included)."""
        return len(self._service) + len(self._free)

    @staticmethod
    def _extend(book: dict[str, float], key: str, expires_at: float) -> bool:
        """Set ``key``'s expiry to ``expires_at`` unless it already reaches that far."""
        current = book.get(key)
        if current is None:
            book[sys.intern(key)] = expires_at
            return True
        if expires_at > current:
            book[key] = expires_at
            return True
        return False

    def on_inbound(self, key: str, at: float) -> WindowChange | None:
        """A message from the user at ``at``: the service window runs to at least
        ``at + service_hours``. Returns the change to journal, None if nothing moved
        (a duplicate or an older message delivered late)."""
        expires_at = at + self._service_s
        if self._extend(self._service, key, expires_at):
            return WindowChange(key, SERVICE, expires_at)
        return None

    def on_referral(self, key: str, at: float) -> WindowChange | None:
        """A click-to-WhatsApp referral at ``at``: everything is free until
        ``at + free_entry_hours``. Does not open the service window; call
        :meth:`on_inbound` for the message that carried the referral."""
        expires_at = at + self._free_s
        if self._extend(self._free, key, expires_at):
            return WindowChange(key, FREE_ENTRY, expires_at)
        return None

    def state(self, key: str, now: float) -> WindowState:
        """Both windows of ``key`` at ``now``; open means more than the margin remains."""
        margin = self._margin
        service = self._service.get(key)
        free = self._free.get(key)
        seconds_left = 0.0
        service_open = False
        if service is not None and service - now > margin:
            service_open = True
            seconds_left = service - margin - now
        return WindowState(
            service_open=service_open,
            free_entry_open=free is not None and free - now > margin,
            service_expires_at=service,
            free_entry_expires_at=free,
            seconds_left=seconds_left,
        )

    def may_send_free_form(self, key: str, now: float) -> bool:
        """True if a free-form message may go now: only the service window allows it."""
        service = self._service.get(key)
        return service is not None and service - now > self._margin

    def is_free(self, key: str, now: float, category: str) -> bool:
        """True if a message of pricing ``category`` sent now costs nothing.

        Free-entry window open: every category. Service window open: ``service``
        (free-form) and ``utility`` templates. ``service`` outside any window is not
        free — it cannot be sent at all (see :meth:`may_send_free_form`).
        Raises ValueError for an unknown category.
        """
        if category not in CATEGORIES:
            raise ValueError(f"unknown pricing category: {category!r}")
        margin = self._margin
        free = self._free.get(key)
        if free is not None and free - now > margin:
            return True
        if category in _FREE_IN_SERVICE:
            service = self._service.get(key)
            return service is not None and service - now > margin
        return False

    def expire(self, now: float) -> int:
        """Drop windows whose expiry is at or before ``now``; return how many.

        Entries inside the margin stay until they really expire: they are closed for
        sending already, and a renewal may still extend them.
        """
        dropped = 0
        for book in (self._service, self._free):
            dead = [k for k, e in book.items() if e <= now]
            for k in dead:
                del book[k]
            dropped += len(dead)
        return dropped

    def open_count(self, now: float, kind: WindowKind = SERVICE) -> int:
        """How many contacts have a window of ``kind`` open at ``now`` (margin applied)."""
        margin = self._margin
        book = self._service if kind == SERVICE else self._free
        return sum(1 for e in book.values() if e - now > margin)

    def load(self, rows: Iterable[tuple[str, str, float]], now: float | None = None) -> int:
        """Rebuild from journaled ``(key, kind, expires_at)`` rows, in any order.

        The latest expiry per (key, kind) wins; rows already expired at ``now`` (when
        given) are skipped. Returns the number of rows kept. Raises ValueError for an
        unknown kind.
        """
        kept = 0
        for key, kind, expires_at in rows:
            if kind == SERVICE:
                book = self._service
            elif kind == FREE_ENTRY:
                book = self._free
            else:
                raise ValueError(f"unknown window kind: {kind!r}")
            if now is not None and expires_at <= now:
                continue
            self._extend(book, key, float(expires_at))
            kept += 1
        return kept

    def close_service(self, key: str) -> WindowChange | None:
        """Meta says the service window is closed (error 131047) though we held it open:
        Meta is right. Returns the removal to journal, None if none was open."""
        if self._service.pop(key, None) is None:
            return None
        return WindowChange(key, SERVICE, None)

    def rekey(self, old: str, new: str) -> list[WindowChange]:
        """Fold ``old``'s windows into ``new`` (a contact learned under two keys; see
        ``ContactBook.learn_detailed``). Each kind keeps the later expiry. Returns the
        changes to journal, removals of ``old`` included."""
        changes: list[WindowChange] = []
        if old == new:
            return changes
        kinds: tuple[tuple[WindowKind, dict[str, float]], ...] = (
            (SERVICE, self._service),
            (FREE_ENTRY, self._free),
        )
        for kind, book in kinds:
            expires_at = book.pop(old, None)
            if expires_at is None:
                continue
            changes.append(WindowChange(old, kind, None))
            if self._extend(book, new, expires_at):
                changes.append(WindowChange(new, kind, expires_at))
        return changes
