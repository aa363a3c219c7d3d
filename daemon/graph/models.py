"""Typed payloads of ``POST /{phone_number_id}/messages`` and its answer.

Why typed: a malformed send is refused by Meta (codes 100, 131008, 131009, 132000…)
after the daemon has already reserved budget and a rate-limit slot. Checking the limits
Meta documents (docs/cloud-api.md §2: 3 reply buttons, 20-char titles, 10 list rows,
2–10 carousel cards of one shape, callback data ≤ 512 chars) here turns those into a
local ValueError before anything is spent. Request models forbid unknown keys (a typo is
a bug); answer models ignore them (Meta adds fields over time).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ActionParam",
    "BodyComponent",
    "ButtonComponent",
    "ButtonsAction",
    "ButtonsInteractive",
    "CarouselCard",
    "CarouselComponent",
    "Context",
    "CouponCodeParam",
    "CtaUrlAction",
    "CtaUrlInteractive",
    "CtaUrlParameters",
    "CurrencyParam",
    "DateTimeParam",
    "DocumentParam",
    "FlowAction",
    "FlowActionPayload",
    "FlowInteractive",
    "FlowParameters",
    "HeaderComponent",
    "ImageParam",
    "Interactive",
    "InteractiveHeader",
    "InteractiveText",
    "Language",
    "ListAction",
    "ListInteractive",
    "ListRow",
    "ListSection",
    "Location",
    "LocationParam",
    "Media",
    "MediaKind",
    "MessageReaction",
    "MessageType",
    "OutboundMessage",
    "PayloadParam",
    "ReplyButton",
    "ReplyButtonBody",
    "SendContact",
    "SendMessageId",
    "SendResponse",
    "SuccessResponse",
    "Template",
    "TemplateComponent",
    "TemplateParameter",
    "Text",
    "TextParam",
    "VideoParam",
]


class _Req(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Resp(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


MediaKind = Literal["image", "video", "audio", "document", "sticker"]
MessageType = Literal[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "reaction",
    "template",
    "interactive",
]


class Text(_Req):
    body: str = Field(min_length=1, max_length=4096)
    preview_url: bool = False


class Media(_Req):
    """A media object by uploaded ``id`` or public ``link`` (exactly one of them)."""

    id: str | None = None
    link: str | None = None
    caption: str | None = Field(default=None, max_length=1024)
    filename: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Media:
        if (self.id is None) == (self.link is None):
            raise ValueError("media needs exactly one of id or link")
        return self


class Location(_Req):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class MessageReaction(_Req):
    """A reaction to a message; an empty ``emoji`` removes an earlier reaction."""

    message_id: str
    emoji: str


class Context(_Req):
    """Quote an earlier message (a reply)."""

    message_id: str


# --- template parameters -------------------------------------------------------------


class TextParam(_Req):
    type: Literal["text"] = "text"
    text: str
    parameter_name: str | None = None
    """Set for templates with ``parameter_format: named``; omitted for positional ones."""


class CurrencyValue(_Req):
    fallback_value: str
    code: str
    amount_1000: int


class CurrencyParam(_Req):
    type: Literal["currency"] = "currency"
    currency: CurrencyValue
    parameter_name: str | None = None


class DateTimeValue(_Req):
    fallback_value: str


class DateTimeParam(_Req):
    type: Literal["date_time"] = "date_time"
    date_time: DateTimeValue
    parameter_name: str | None = None


class ImageParam(_Req):
    type: Literal["image"] = "image"
    image: Media


class VideoParam(_Req):
    type: Literal["video"] = "video"
    video: Media


class DocumentParam(_Req):
    type: Literal["document"] = "document"
    document: Media


class LocationParam(_Req):
    type: Literal["location"] = "location"
    location: Location


class PayloadParam(_Req):
    type: Literal["payload"] = "payload"
    payload: str


class CouponCodeParam(_Req):
    type: Literal["coupon_code"] = "coupon_code"
    coupon_code: str = Field(max_length=15)


class ActionParam(_Req):
    """Flow button (``flow_token``, ``flow_action_data``) or catalog thumbnail action."""

    type: Literal["action"] = "action"
    action: dict[str, Any]


TemplateParameter = Annotated[
    TextParam
    | CurrencyParam
    | DateTimeParam
    | ImageParam
    | VideoParam
    | DocumentParam
    | LocationParam
    | PayloadParam
    | CouponCodeParam
    | ActionParam,
    Field(discriminator="type"),
]


class HeaderComponent(_Req):
    type: Literal["header"] = "header"
    parameters: list[TemplateParameter] = Field(min_length=1, max_length=1)


class BodyComponent(_Req):
    type: Literal["body"] = "body"
    parameters: list[TemplateParameter] = Field(default_factory=list)


class ButtonComponent(_Req):
    type: Literal["button"] = "button"
    sub_type: Literal["quick_reply", "url", "copy_code", "flow", "catalog"]
    index: int = Field(ge=0, le=9)
    parameters: list[TemplateParameter] = Field(default_factory=list)


CardComponent = Annotated[
    HeaderComponent | BodyComponent | ButtonComponent, Field(discriminator="type")
]


class CarouselCard(_Req):
    card_index: int = Field(ge=0, le=9)
    components: list[CardComponent]

    def shape(self) -> tuple[str | None, tuple[str, ...]]:
        """(header parameter type, button sub_types): must match across a carousel."""
        header = next((c for c in self.components if isinstance(c, HeaderComponent)), None)
        buttons = tuple(c.sub_type for c in self.components if isinstance(c, ButtonComponent))
        return (header.parameters[0].type if header else None, buttons)


class CarouselComponent(_Req):
    type: Literal["carousel"] = "carousel"
    cards: list[CarouselCard] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _same_shape(self) -> CarouselComponent:
        shapes = {card.shape() for card in self.cards}
        if len(shapes) > 1:
            raise ValueError("carousel cards need one header type and the same buttons")
        indexes = [card.card_index for card in self.cards]
        if sorted(indexes) != list(range(len(indexes))):
            raise ValueError("card_index must run 0..n-1 without gaps")
        return self


TemplateComponent = Annotated[
    HeaderComponent | BodyComponent | ButtonComponent | CarouselComponent,
    Field(discriminator="type"),
]


class Language(_Req):
    code: str = Field(min_length=2)
    policy: Literal["deterministic"] | None = None


class Template(_Req):
    """A template send: its name and language in the WABA, plus the filled parameters."""

    name: str = Field(min_length=1, max_length=512)
    language: Language
    components: list[TemplateComponent] = Field(default_factory=list)

    @classmethod
    def simple(cls, name: str, language: str, *body_params: str) -> Template:
        """A template with positional body text parameters only (the common case)."""
        comps: list[TemplateComponent] = []
        if body_params:
            comps.append(BodyComponent(parameters=[TextParam(text=t) for t in body_params]))
        return cls(name=name, language=Language(code=language), components=comps)


# --- interactive ---------------------------------------------------------------------


class InteractiveText(_Req):
    text: str = Field(min_length=1, max_length=1024)


class InteractiveHeader(_Req):
    type: Literal["text", "image", "video", "document"]
    text: str | None = Field(default=None, max_length=60)
    image: Media | None = None
    video: Media | None = None
    document: Media | None = None

    @model_validator(mode="after")
    def _content(self) -> InteractiveHeader:
        if getattr(self, self.type) is None:
            raise ValueError(f"a {self.type} header needs its {self.type} field")
        return self


class ReplyButtonBody(_Req):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class ReplyButton(_Req):
    type: Literal["reply"] = "reply"
    reply: ReplyButtonBody


class ButtonsAction(_Req):
    buttons: list[ReplyButton] = Field(min_length=1, max_length=3)


class ListRow(_Req):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class ListSection(_Req):
    title: str | None = Field(default=None, max_length=24)
    rows: list[ListRow] = Field(min_length=1)


class ListAction(_Req):
    button: str = Field(min_length=1, max_length=20)
    sections: list[ListSection] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _rows(self) -> ListAction:
        if sum(len(s.rows) for s in self.sections) > 10:
            raise ValueError("a list holds at most 10 rows in all")
        return self


class CtaUrlParameters(_Req):
    display_text: str = Field(min_length=1, max_length=20)
    url: str


class CtaUrlAction(_Req):
    name: Literal["cta_url"] = "cta_url"
    parameters: CtaUrlParameters


class FlowActionPayload(_Req):
    screen: str
    data: dict[str, Any] | None = None


class FlowParameters(_Req):
    flow_message_version: Literal["3"] = "3"
    flow_token: str
    flow_id: str | None = None
    flow_name: str | None = None
    flow_cta: str = Field(min_length=1, max_length=30)
    flow_action: Literal["navigate", "data_exchange"] = "navigate"
    flow_action_payload: FlowActionPayload | None = None
    mode: Literal["draft", "published"] | None = None

    @model_validator(mode="after")
    def _one_flow(self) -> FlowParameters:
        if (self.flow_id is None) == (self.flow_name is None):
            raise ValueError("a flow message needs exactly one of flow_id or flow_name")
        return self


class FlowAction(_Req):
    name: Literal["flow"] = "flow"
    parameters: FlowParameters


class _InteractiveBase(_Req):
    header: InteractiveHeader | None = None
    body: InteractiveText | None = None
    footer: InteractiveText | None = None


class ButtonsInteractive(_InteractiveBase):
    type: Literal["button"] = "button"
    body: InteractiveText
    action: ButtonsAction


class ListInteractive(_InteractiveBase):
    type: Literal["list"] = "list"
    body: InteractiveText
    action: ListAction


class CtaUrlInteractive(_InteractiveBase):
    type: Literal["cta_url"] = "cta_url"
    body: InteractiveText
    action: CtaUrlAction


class FlowInteractive(_InteractiveBase):
    type: Literal["flow"] = "flow"
    body: InteractiveText
    action: FlowAction


Interactive = Annotated[
    ButtonsInteractive | ListInteractive | CtaUrlInteractive | FlowInteractive,
    Field(discriminator="type"),
]


# --- the message ---------------------------------------------------------------------

_CONTENT_FIELDS = (
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "reaction",
    "template",
    "interactive",
)


class OutboundMessage(_Req):
    """One message to send: ``type`` names the one content field that is set."""

    messaging_product: Literal["whatsapp"] = "whatsapp"
    recipient_type: Literal["individual"] = "individual"
    to: str = Field(min_length=1, max_length=64)
    type: MessageType
    context: Context | None = None
    text: Text | None = None
    image: Media | None = None
    video: Media | None = None
    audio: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    location: Location | None = None
    reaction: MessageReaction | None = None
    template: Template | None = None
    interactive: Interactive | None = None
    biz_opaque_callback_data: str | None = Field(default=None, max_length=512)
    """Echoed on every status webhook of this message (the outbox id)."""

    @model_validator(mode="after")
    def _content_matches_type(self) -> OutboundMessage:
        present = [f for f in _CONTENT_FIELDS if getattr(self, f) is not None]
        if present != [self.type]:
            raise ValueError(f"type {self.type!r} needs exactly its own field; got {present}")
        return self

    def payload(self) -> dict[str, Any]:
        """The JSON body Meta expects (unset optional fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)


# --- answers -------------------------------------------------------------------------


class SendContact(_Resp):
    """Who a send went to. A send addressed to a business-scoped user id may be answered
    with ``user_id`` and no ``wa_id`` (a contact without a phone number): not a reason
    to think the message's fate unknown."""

    input: str
    wa_id: str | None = None
    user_id: str | None = None


class SendMessageId(_Resp):
    id: str
    message_status: str = "accepted"


class SendResponse(_Resp):
    """Answer to an accepted send: the recipient's wa_id and the message's wamid."""

    messaging_product: str = "whatsapp"
    contacts: list[SendContact] = Field(default_factory=list)
    messages: list[SendMessageId] = Field(min_length=1)


class SuccessResponse(_Resp):
    success: bool
