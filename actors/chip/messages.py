"""Messages a :class:`~actors.chip.actor.ChipActor` understands, and what it answers.

Frozen, keyword-only dataclasses carrying values and at most one reply slot; the union
``ChipMsg`` lets mypy prove the actor handles every one (``assert_never``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from actors.chip.quality import QualityObservation
from actors.core import ReplyTo
from actors.ports import ChipRecord, PortOutcome, TemplateRecord
from actors.waba.killswitch import KillSwitch

__all__ = [
    "STATUSES_A_CHIP_TAKES",
    "ChipMsg",
    "ChipSnapshot",
    "Drain",
    "GetSnapshot",
    "Inbound",
    "Pause",
    "QualityEvent",
    "Refused",
    "Resume",
    "Send",
    "SendResult",
    "Sent",
    "StatusEvent",
    "Tick",
    "Uncertain",
    "WabaSwitch",
    "WabaTemplates",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChipSnapshot:
    record: ChipRecord
    restarts: int
    """How many times this actor was rebuilt since the daemon started."""
    mode: str
    """Quality mode: FULL, RAMPING, SLOWED, PAUSED_BUSINESS, PAUSED_ALL."""
    policy: str
    """Why the chip may or may not send right now, in words."""
    open_windows: int
    queued: int
    in_flight: int
    mps: float
    """Current allowed messages per second (throughput × quality × slowdown)."""
    tier_used: int
    tier_limit: int | None
    draining: bool
    accepted: int = 0
    """Messages Meta accepted from this chip since the actor (re)started."""
    failed: int = 0


# --- sending ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    outbox_id: int
    wamid: str
    method: str
    """``free_form`` or ``template``."""


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str
    outbox_id: int | None = None


@dataclass(frozen=True, slots=True)
class Uncertain:
    """The request may have reached Meta; never re-sent blindly (a status settles it)."""

    outbox_id: int
    reason: str


SendResult: TypeAlias = Sent | Refused | Uncertain


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Send one message to ``to`` (a phone number in any form, a wa_id or a BSUID).

    ``content`` is a free-form message object (``{"type": "text", "text": {...}}``), only
    allowed inside the contact's service window; ``template`` (``{"name", "language",
    "components"}``) is used outside it, or when Meta says the window has closed.
    """

    to: str
    content: Mapping[str, Any] | None = None
    template: Mapping[str, Any] | None = None
    category: str = "utility"
    """The template's category: marketing, utility or authentication."""
    campaign_id: str | None = None
    recipient_id: str | None = None
    intent: str | None = None
    """What the message is for (reply, follow_up, confirmation, reminder, update, otp,
    marketing). With an intent and no ``template`` the chip picks the cheapest legal
    method and template itself, from its WABA's approved templates."""
    variables: Mapping[str, str] | None = None
    """Template parameters by slot key (``"1"``, or the named parameter)."""
    languages: tuple[str, ...] = ("pt_BR", "en_US")
    template_names: tuple[str, ...] = ()
    via: str = "messages"
    """``messages`` or ``marketing_messages`` (Meta's Marketing Messages API)."""
    plan: Mapping[str, Any] | None = None
    """The cost decision that chose the template, stored with the outbox row."""
    reply: ReplyTo[SendResult]


# --- from webhooks and polls -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    """A message from a contact: opens or renews its windows."""

    wa_id: str | None
    bsuid: str | None = None
    at: float
    referral: bool = False


STATUSES_A_CHIP_TAKES: Final = frozenset({"delivered", "read", "failed"})
"""The statuses a chip acts on: a delivery or read ends a free-form send's wait for its
template fallback, a failure may call for the fallback or a quality hold. A ``sent`` changes
nothing in it (the processor moves the outbox row, the budget settles the price), and at
campaign rate telling it anyway was a third of the status messages of every chip."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusEvent:
    """A status webhook for a message this chip sent (one of :data:`STATUSES_A_CHIP_TAKES`)."""

    outbox_id: int | None
    wamid: str
    status: str
    at: float
    error_code: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityEvent:
    observation: QualityObservation
    throughput_mps: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WabaSwitch:
    """The WABA's kill switch changed; the chip lays it over its own policy."""

    switch: KillSwitch


@dataclass(frozen=True, slots=True, kw_only=True)
class WabaTemplates:
    """Every template of the chip's WABA as Meta last described it."""

    records: tuple[TemplateRecord, ...]


# --- operator actions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSnapshot:
    reply: ReplyTo[ChipSnapshot]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause:
    reason: str
    reply: ReplyTo[ChipRecord]


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    reply: ReplyTo[ChipRecord]


@dataclass(frozen=True, slots=True, kw_only=True)
class Drain:
    """Take no new sends; finish what is queued. Resume ends it."""

    reply: ReplyTo[ChipRecord]


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """Periodic: advance quality ramps, expire windows, retry queued sends."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendDone:
    """Internal: the Graph API answered (or did not) for one dispatched message."""

    outbox_id: int
    outcome: PortOutcome


ChipMsg: TypeAlias = (
    Send
    | Inbound
    | StatusEvent
    | QualityEvent
    | WabaSwitch
    | WabaTemplates
    | GetSnapshot
    | Pause
    | Resume
    | Drain
    | Tick
    | SendDone
)
