"""Typed webhook events: what one Meta webhook POST means, as frozen slotted dataclasses.

Why plain dataclasses and not pydantic models: the webhook path must sustain thousands of
events per second and every event is built exactly once from JSON that
:mod:`daemon.webhook.payloads` has already walked and checked; a second validation pass
would only cost time. Frozen, because events are passed between actors as messages;
slotted, because there are many of them.

Conventions:

- Identifiers (WABA, phone number, template, flow ids) are always ``str``: Meta sends some
  of them as JSON numbers, and numbers that big do not belong in arithmetic anyway.
- Timestamps are ``int`` Unix seconds. ``0`` means Meta's value was missing or unreadable
  (the parse result then carries an error line); consumers substitute the receipt time.
- Optional details are ``None`` when absent, never ``""``, so absence is visible.
- ``raw`` keeps the JSON object the event came from, for debugging and for fields not
  typed here. It is excluded from equality and ``repr``.
- ``kind`` (a class constant) names the event for logs, metrics and routing tables.
- Events holding decoded JSON (``FlowReply.response``, ``Contacts``, template ``*_info``)
  compare by value but are not hashable; key them by ``dedupe_key`` instead.

The message content types live in :mod:`daemon.webhook.content` and are re-exported here,
so consumers import every event type from this one module.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any, ClassVar, TypeAlias

from daemon.webhook.content import (
    JSON,
    ButtonReply,
    ButtonTap,
    Contacts,
    Content,
    Context,
    ErrorDetail,
    FlowReply,
    ListReply,
    Location,
    Media,
    Order,
    OrderItem,
    Reaction,
    Referral,
    RequestWelcome,
    System,
    Text,
    Unknown,
    Unsupported,
)

__all__ = [
    "AccountUpdate",
    "BanInfo",
    "ButtonReply",
    "ButtonTap",
    "CapabilityUpdate",
    "Contacts",
    "Content",
    "Context",
    "Conversation",
    "ErrorDetail",
    "Event",
    "FlowReply",
    "FlowsEvent",
    "InboundMessage",
    "ListReply",
    "Location",
    "Media",
    "MessageEcho",
    "Order",
    "OrderItem",
    "PhoneNameUpdate",
    "PhoneQualityUpdate",
    "Pricing",
    "Reaction",
    "Referral",
    "RequestWelcome",
    "Restriction",
    "SecurityEvent",
    "StatusUpdate",
    "System",
    "TemplateCategoryUpdate",
    "TemplateQualityUpdate",
    "TemplateStatusUpdate",
    "Text",
    "Unknown",
    "UnknownChange",
    "Unsupported",
    "UserPreferences",
    "WebhookErrors",
]


# --- parts of statuses --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pricing:
    """``pricing`` on a status: Meta's own word on what the message costs (cost ledger)."""

    billable: bool | None
    pricing_model: str | None
    category: str | None
    type: str | None


@dataclass(frozen=True, slots=True)
class Conversation:
    """``conversation`` on older (conversation-based pricing) status payloads."""

    id: str | None
    expiration_timestamp: int | None
    origin_type: str | None


# --- messages field -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One entry of ``value.messages[]``: something a user sent to one of our numbers.

    ``from_wa_id`` (the phone-number id) may be ``None`` for username users, who are known
    by ``bsuid`` only; at least one of the two is always present.
    """

    kind: ClassVar[str] = "message"

    phone_number_id: str
    display_phone_number: str | None
    waba_id: str
    wamid: str
    from_wa_id: str | None
    bsuid: str | None
    timestamp: int
    type: str
    content: Content
    profile_name: str | None = None
    username: str | None = None
    context: Context | None = None
    referral: Referral | None = None
    errors: tuple[ErrorDetail, ...] = ()
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)

    @property
    def dedupe_key(self) -> str:
        """Meta retries for days; the wamid identifies the message across retries."""
        return self.wamid

    @property
    def button_payload(self) -> str | None:
        """The payload of a template quick reply or the id of an interactive reply
        button: what a tap carries back of the message it answers (shift offers,
        campaign cards)."""
        if isinstance(self.content, ButtonTap):
            return self.content.payload
        if isinstance(self.content, ButtonReply):
            return self.content.id
        return None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One entry of ``value.statuses[]``: the fate of a message we sent.

    ``biz_opaque_callback_data`` echoes what the send carried (the outbox id), which is
    how an "in doubt" send is settled. Order is not guaranteed: use
    :func:`daemon.webhook.payloads.advances` before applying ``status``.
    """

    kind: ClassVar[str] = "status"

    phone_number_id: str
    display_phone_number: str | None
    waba_id: str
    wamid: str
    status: str
    timestamp: int
    recipient_id: str | None = None
    recipient_bsuid: str | None = None
    biz_opaque_callback_data: str | None = None
    errors: tuple[ErrorDetail, ...] = ()
    pricing: Pricing | None = None
    conversation: Conversation | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)

    @property
    def dedupe_key(self) -> tuple[str, str]:
        """One message has several statuses; each (wamid, status) happens once."""
        return (self.wamid, self.status)


@dataclass(frozen=True, slots=True)
class WebhookErrors:
    """``value.errors[]`` of a ``messages`` change: a problem not tied to one message."""

    kind: ClassVar[str] = "webhook_errors"

    phone_number_id: str
    waba_id: str
    errors: tuple[ErrorDetail, ...]
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MessageEcho:
    """``smb_message_echoes``: a message the business sent from the WhatsApp Business app
    (coexistence), so the conversation state includes it."""

    kind: ClassVar[str] = "message_echo"

    phone_number_id: str
    display_phone_number: str | None
    waba_id: str
    wamid: str
    from_number: str | None
    to: str | None
    to_bsuid: str | None
    timestamp: int
    type: str
    content: Content
    context: Context | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)

    @property
    def dedupe_key(self) -> str:
        return self.wamid


@dataclass(frozen=True, slots=True)
class UserPreferences:
    """One entry of ``user_preferences[]``: a user stopping or resuming marketing messages.

    ``value`` is ``"stop"`` or ``"resume"``; a stop must block marketing sends at once.
    """

    kind: ClassVar[str] = "user_preferences"

    phone_number_id: str | None
    waba_id: str
    wa_id: str | None
    bsuid: str | None
    category: str | None
    value: str
    timestamp: int
    detail: str | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


# --- templates ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemplateStatusUpdate:
    """``message_template_status_update``: APPROVED, REJECTED, PAUSED, DISABLED...

    Keyed by ``waba_id`` + ``template_id`` (the old system ignored the WABA and updated
    every template of that name, behaviour.md §6.5).
    """

    kind: ClassVar[str] = "template_status"

    waba_id: str
    event: str
    template_id: str | None
    name: str | None
    language: str | None
    reason: str | None = None
    category: str | None = None
    other_info: JSON | None = None
    rejection_info: JSON | None = None
    disable_info: JSON | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TemplateQualityUpdate:
    """``message_template_quality_update``: scores GREEN, YELLOW, RED, UNKNOWN."""

    kind: ClassVar[str] = "template_quality"

    waba_id: str
    template_id: str | None
    name: str | None
    language: str | None
    previous_score: str | None
    new_score: str
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TemplateCategoryUpdate:
    """``template_category_update``: Meta re-categorised a template (a price change)."""

    kind: ClassVar[str] = "template_category"

    waba_id: str
    template_id: str | None
    name: str | None
    language: str | None
    previous_category: str | None
    new_category: str
    correct_category: str | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


# --- phone numbers and account ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhoneQualityUpdate:
    """``phone_number_quality_update``: FLAGGED, UNFLAGGED, DOWNGRADE, UPGRADE... and the
    messaging-limit tier (``TIER_1K``...). Keyed by display number: Meta sends no id."""

    kind: ClassVar[str] = "phone_quality"

    waba_id: str
    display_phone_number: str | None
    event: str
    current_limit: str | None = None
    old_limit: str | None = None
    max_daily_conversations_per_business: str | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PhoneNameUpdate:
    """``phone_number_name_update``: the display-name review outcome."""

    kind: ClassVar[str] = "phone_name"

    waba_id: str
    display_phone_number: str | None
    decision: str
    requested_verified_name: str | None = None
    rejection_reason: str | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Restriction:
    """One ``restriction_info[]`` entry; ``expiration`` is Unix seconds or ``None``."""

    restriction_type: str | None
    expiration: int | None


@dataclass(frozen=True, slots=True)
class BanInfo:
    waba_ban_state: str | None
    waba_ban_date: str | None


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """``account_update``: restrictions, violations, bans, deletion of the WABA..."""

    kind: ClassVar[str] = "account_update"

    waba_id: str
    event: str
    phone_number: str | None = None
    restrictions: tuple[Restriction, ...] = ()
    ban_info: BanInfo | None = None
    violation_type: str | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CapabilityUpdate:
    """``business_capability_update``: portfolio-wide limits. The per-business messaging
    limit is a tier name in new payloads and a number in old ones, so it is a ``str``."""

    kind: ClassVar[str] = "capability_update"

    waba_id: str
    max_daily_conversation_per_phone: int | None = None
    max_daily_conversations_per_business: str | None = None
    max_phone_numbers_per_business: int | None = None
    max_phone_numbers_per_waba: int | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class FlowsEvent:
    """``flows``: a Flow's status changed, or an endpoint health alert fired."""

    kind: ClassVar[str] = "flows"

    waba_id: str
    event: str
    flow_id: str | None = None
    message: str | None = None
    old_status: str | None = None
    new_status: str | None = None
    alert_state: str | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """``security``: PIN changed or a two-step verification reset was requested."""

    kind: ClassVar[str] = "security"

    waba_id: str
    display_phone_number: str | None
    event: str
    requester: str | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class UnknownChange:
    """A piece of the body that became no typed event: an unknown ``field``, a change of an
    unexpected shape, or an item missing what identifies it.

    Never an exception: Meta adds fields and types over time, and an unparsed piece must
    be counted and logged, not answered with an error (Meta would retry it for a week).
    """

    kind: ClassVar[str] = "unknown"

    field: str | None
    waba_id: str | None
    reason: str
    value: Any = dc_field(default=None, compare=False, repr=False)


Event: TypeAlias = (
    InboundMessage
    | StatusUpdate
    | WebhookErrors
    | MessageEcho
    | UserPreferences
    | TemplateStatusUpdate
    | TemplateQualityUpdate
    | TemplateCategoryUpdate
    | PhoneQualityUpdate
    | PhoneNameUpdate
    | AccountUpdate
    | CapabilityUpdate
    | FlowsEvent
    | SecurityEvent
)
