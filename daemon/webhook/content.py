"""What an inbound message carries: its typed content and the parts every message shares.

Why a module apart from :mod:`daemon.webhook.events`: message content is the largest set of
types (one per Meta message type) and is shared by inbound messages and by business-app
echoes; keeping it here keeps both modules short. Same conventions as
:mod:`daemon.webhook.events`: frozen slotted dataclasses, ``str`` ids, ``None`` for absent
details, ``raw`` kept out of equality and ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any, TypeAlias

__all__ = [
    "JSON",
    "ButtonReply",
    "ButtonTap",
    "Contacts",
    "Content",
    "Context",
    "ErrorDetail",
    "FlowReply",
    "ListReply",
    "Location",
    "Media",
    "Order",
    "OrderItem",
    "Reaction",
    "Referral",
    "RequestWelcome",
    "System",
    "Text",
    "Unknown",
    "Unsupported",
]

JSON: TypeAlias = dict[str, Any]
"""A decoded JSON object, as :func:`json.loads` returns it."""

# --- parts every message may carry --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One Meta error (``errors[]`` on a status, a message or a change value).

    ``code`` drives the reaction table (retry, template fallback, pause the chip...), so it
    is an ``int``; ``details`` is ``error_data.details``, the only human-readable reason
    Meta gives for most codes.
    """

    code: int | None
    title: str | None = None
    message: str | None = None
    details: str | None = None
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """What an inbound message replies to (``context``): the wamid of our message, if any.

    It links a button tap or a reply back to the outbox row that caused it.
    """

    from_wa_id: str | None
    message_id: str | None
    forwarded: bool = False
    frequently_forwarded: bool = False


@dataclass(frozen=True, slots=True)
class Referral:
    """A click-to-WhatsApp entry (``referral``): its presence opens the 72 h free entry
    point window, which the old system never detected (behaviour.md §6.3)."""

    source_type: str | None
    source_id: str | None
    source_url: str | None = None
    headline: str | None = None
    body: str | None = None
    media_type: str | None = None
    image_url: str | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    ctwa_clid: str | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


# --- inbound message content --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    body: str


@dataclass(frozen=True, slots=True)
class Media:
    """image, audio, video, document or sticker: a Meta media id to download, not a URL."""

    kind: str
    media_id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool = False
    animated: bool = False


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float | None
    longitude: float | None
    name: str | None = None
    address: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Contacts:
    """Shared contact cards, kept as Meta's objects: nothing in metad reads them yet."""

    contacts: tuple[JSON, ...]


@dataclass(frozen=True, slots=True)
class Reaction:
    """``emoji`` is ``None`` when the user removed an earlier reaction."""

    message_id: str
    emoji: str | None


@dataclass(frozen=True, slots=True)
class ButtonTap:
    """A quick-reply tap on a template button (message ``type: "button"``)."""

    payload: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class ButtonReply:
    """A tap on an interactive reply button (``interactive.button_reply``)."""

    id: str
    title: str | None


@dataclass(frozen=True, slots=True)
class ListReply:
    id: str
    title: str | None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class FlowReply:
    """A completed Flow (``interactive.nfm_reply``).

    ``response`` is ``response_json`` decoded; it is ``{}`` when that is not a JSON object
    (an error line says so) and ``raw_response_json`` keeps the original string.
    """

    name: str | None
    body: str | None
    response: JSON
    raw_response_json: str


@dataclass(frozen=True, slots=True)
class OrderItem:
    product_retailer_id: str | None
    quantity: int | None
    item_price: float | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class Order:
    catalog_id: str | None
    text: str | None
    items: tuple[OrderItem, ...]


@dataclass(frozen=True, slots=True)
class System:
    """A system notice, e.g. ``user_changed_number`` (``new_wa_id``) or a BSUID change."""

    type: str | None
    body: str | None
    new_wa_id: str | None = None
    wa_id: str | None = None
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A message type Meta does not deliver through the API; ``errors`` says which."""

    errors: tuple[ErrorDetail, ...]
    unsupported_type: str | None = None


@dataclass(frozen=True, slots=True)
class RequestWelcome:
    """The user opened a chat with the business for the first time."""


@dataclass(frozen=True, slots=True)
class Unknown:
    """A message ``type`` this module does not know, or one missing its content object."""

    type: str
    raw: JSON = dc_field(default_factory=dict, compare=False, repr=False)


Content: TypeAlias = (
    Text
    | Media
    | Location
    | Contacts
    | Reaction
    | ButtonTap
    | ButtonReply
    | ListReply
    | FlowReply
    | Order
    | System
    | Unsupported
    | RequestWelcome
    | Unknown
)
