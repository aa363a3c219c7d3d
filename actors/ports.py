"""The ports actors depend on.

Why: actors hold rules and state; storage and the Graph API are edges that live in
``daemon/``. Actors see only these Protocols, so a unit test hands them in-memory fakes
and ``daemon.store`` / ``daemon.graph`` implement them for real.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from actors.reactions import Reaction

__all__ = [
    "Booking",
    "BudgetPort",
    "ChipJournal",
    "ChipRecord",
    "ChipRepo",
    "GraphPort",
    "OutboxRow",
    "PortError",
    "PortOutcome",
    "RecentSend",
    "SendAccepted",
    "SendFailed",
    "SendInDoubt",
    "TemplateRecord",
    "TemplateRepo",
    "TemplateSource",
    "WabaRecord",
    "WabaRepo",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChipRecord:
    """The persisted basic state of one phone number ("chip")."""

    phone_number_id: str
    waba_id: str
    display_number: str
    status: str = "CONNECTED"
    quality_rating: str = "UNKNOWN"
    messaging_limit_tier: str = "TIER_250"
    throughput_mps: int = 80
    paused: bool = False
    pause_reason: str | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WabaRecord:
    """The persisted basic state of one WhatsApp Business Account."""

    waba_id: str
    name: str = ""
    status: str = "ACTIVE"
    restricted: bool = False
    updated_at: dt.datetime | None = None


class ChipRepo(Protocol):
    async def load(self, phone_number_id: str) -> ChipRecord | None: ...

    async def save(self, record: ChipRecord) -> None: ...


class WabaRepo(Protocol):
    async def load(self, waba_id: str) -> WabaRecord | None: ...

    async def save(self, record: WabaRecord) -> None: ...

    async def load_effects(self, waba_id: str) -> list[tuple[float, dict[str, Any]]]: ...

    async def save_effect(self, waba_id: str, at: float, effect: dict[str, Any]) -> None: ...


class PortError(Exception):
    """An edge (Graph API, storage) could not do what an actor asked; the message says
    why. Actors treat it as an outcome to report, not as a bug to crash on."""


# --- templates ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateRecord:
    """A message template of one WABA, as Meta last described it."""

    waba_id: str
    name: str
    language: str
    id: str | None = None
    category: str = "UTILITY"
    status: str = "PENDING"
    quality: str | None = None
    parameter_format: str = "POSITIONAL"
    components: tuple[Mapping[str, Any], ...] = ()
    reason: str | None = None

    @property
    def usable(self) -> bool:
        return self.status == "APPROVED"


class TemplateRepo(Protocol):
    async def load_templates(self, waba_id: str) -> list[TemplateRecord]: ...

    async def save_templates(self, records: Sequence[TemplateRecord]) -> None: ...


class TemplateSource(Protocol):
    async def templates(self, waba_id: str) -> list[TemplateRecord]:
        """Every template of the WABA, all pages."""
        ...


# --- what a chip needs from the Graph API -------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendAccepted:
    wamid: str
    wa_id: str


@dataclass(frozen=True, slots=True)
class SendFailed:
    code: int | None
    message: str
    reaction: Reaction


@dataclass(frozen=True, slots=True)
class SendInDoubt:
    reason: str


PortOutcome = SendAccepted | SendFailed | SendInDoubt


class GraphPort(Protocol):
    async def send(
        self,
        phone_number_id: str,
        payload: Mapping[str, Any],
        callback_data: str,
        endpoint: str = "messages",
    ) -> PortOutcome:
        """``endpoint``: ``messages``, or ``marketing_messages`` (Marketing Messages API)."""
        ...

    async def phone_number(self, phone_number_id: str) -> Mapping[str, object]:
        """The poll body: quality_rating, status, messaging_limit_tier, throughput…"""
        ...


# --- what a chip asks of the budget -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Booking:
    """One message's estimated cost, to be reserved before it is sent."""

    ref: str
    amount: Decimal
    waba: str | None = None
    campaign: str | None = None


class BudgetPort(Protocol):
    async def reserve(self, bookings: Sequence[Booking]) -> list[str | None]:
        """Book each of ``bookings`` in order; per booking None when booked, else why not.

        Several at once because a chip journals its sends in batches: one call (one
        mailbox hop, one wait) for the batch instead of one per message."""
        ...

    async def release(self, ref: str) -> None: ...


# --- what a chip journals ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A message a chip journals before anything else happens to it."""

    chip: str
    key: str
    """The contact key (wa_id, or the normalised phone)."""
    kind: str
    """How it goes: ``free_form`` or ``template``."""
    payload: Mapping[str, Any]
    decision: Mapping[str, Any]
    campaign_id: str | None = None
    recipient_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecentSend:
    key: str
    at: float
    business_initiated: bool


class ChipJournal(Protocol):
    """Everything a chip writes so a restart rebuilds the same state."""

    async def load_windows(self, chip: str) -> list[tuple[str, str, float]]: ...

    async def save_windows(
        self, chip: str, changes: Sequence[tuple[str, str, float | None]]
    ) -> None: ...

    async def load_aliases(self, chip: str) -> list[tuple[str, str]]:
        """Aliases of the contacts this chip holds windows or recent sends for."""
        ...

    async def save_aliases(self, pairs: Sequence[tuple[str, str]]) -> None: ...

    async def load_transitions(self, chip: str) -> list[dict[str, Any]]: ...

    async def save_transitions(self, chip: str, transitions: Sequence[dict[str, Any]]) -> None: ...

    async def recent_sends(self, chip: str, since: float) -> list[RecentSend]: ...

    async def settle_abandoned(self, chip: str) -> int:
        """After a restart, or once a chip removed from the config has stopped: held rows
        are cancelled, rows caught mid-POST are in doubt. Returns how many rows."""
        ...

    async def outbox_new(self, rows: Sequence[OutboxRow]) -> list[int | None]:
        """Journal new messages as ``queued``, in one commit; per row its outbox id, or
        None when its campaign recipient already has a live outbox row (the database's
        exactly-once guard). Raises the first row's failure, if one failed."""
        ...

    async def outbox_sending(self, outbox_ids: Sequence[int]) -> None:
        """Mark rows ``sending`` in one commit, before their POSTs (see ``outbox_set``)."""
        ...

    async def outbox_set(
        self,
        outbox_id: int,
        state: str,
        *,
        wamid: str | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> None: ...
