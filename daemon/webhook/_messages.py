"""Parsers for the per-user fields: ``messages`` (inbound messages, statuses, errors),
``smb_message_echoes`` and ``user_preferences`` (private to :mod:`daemon.webhook.payloads`).

Why these three together: their values share one shape (``metadata`` naming the business
number, then a list of items, one event each) and the same identity rules: an item
without the wamid that deduplicates it, or without any user id, becomes an
``UnknownChange``; anything else missing only leaves a field ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from daemon.webhook import _read as r, content as c, events as e
from daemon.webhook.content import JSON

__all__ = ["echoes", "messages", "user_preferences"]


def _routing(field: str, waba_id: str, value: JSON, sink: r.Sink) -> tuple[str, str | None] | None:
    """(phone_number_id, display_phone_number): the phone number id routes to the chip."""
    meta = r.obj(value, "metadata")
    pnid = r.ident(meta, "phone_number_id")
    if pnid is None:
        sink.skip(field, waba_id, "value without metadata.phone_number_id", value)
        return None
    return pnid, r.ident(meta, "display_phone_number")


def _items(field: str, waba_id: str, value: JSON, key: str, sink: r.Sink) -> list[Any] | None:
    """``value[key]`` when it is a list; ``None`` (and a skip if present) otherwise."""
    items = value.get(key)
    if items is None:
        return None
    if not isinstance(items, list):
        sink.skip(field, waba_id, f"{key} is not a list", items)
        return None
    return items


def messages(waba_id: str, value: JSON, sink: r.Sink) -> None:
    """Field ``messages``: each of ``messages[]`` and ``statuses[]`` is one event."""
    routed = _routing("messages", waba_id, value, sink)
    if routed is None:
        return
    pnid, display = routed
    inbound = _items("messages", waba_id, value, "messages", sink)
    statuses = _items("messages", waba_id, value, "statuses", sink)
    errors = r.errors(value.get("errors"))
    if not ("messages" in value or "statuses" in value or "errors" in value):
        sink.skip("messages", waba_id, "no messages, statuses or errors", value)
    if inbound:
        contacts = [x for x in r.array(value, "contacts") if isinstance(x, dict)]
        # One contact beside one message is that message's sender even if ids differ.
        sole = contacts[0] if len(contacts) == 1 and len(inbound) == 1 else None
        for m in inbound:
            _message(m, pnid, display, waba_id, contacts, sole, sink)
    if statuses:
        for s in statuses:
            _status(s, pnid, display, waba_id, sink)
    if errors:
        sink.events.append(e.WebhookErrors(pnid, waba_id, errors, raw=value))


def _contact(contacts: list[JSON], sole: JSON | None, wa_id: str | None, uid: str | None) -> JSON:
    for x in contacts:
        if (wa_id is not None and x.get("wa_id") == wa_id) or (
            uid is not None and x.get("user_id") == uid
        ):
            return x
    return sole if sole is not None else {}


def _message(
    m: Any,
    pnid: str,
    display: str | None,
    waba_id: str,
    contacts: list[JSON],
    sole: JSON | None,
    sink: r.Sink,
) -> None:
    if not isinstance(m, dict):
        sink.skip("messages", waba_id, "message is not an object", m)
        return
    wamid = r.text(m, "id")
    if not wamid:
        sink.skip("messages", waba_id, "message without an id", m)
        return
    wa_id = r.ident(m, "from")
    uid = r.text(m, "from_user_id")
    contact = _contact(contacts, sole, wa_id, uid)
    bsuid = uid or r.text(contact, "user_id")
    if wa_id is None and bsuid is None:
        sink.skip("messages", waba_id, "message without a sender", m)
        return
    profile = r.obj(contact, "profile")
    mtype = r.text(m, "type") or ""
    sink.events.append(
        e.InboundMessage(
            phone_number_id=pnid,
            display_phone_number=display,
            waba_id=waba_id,
            wamid=wamid,
            from_wa_id=wa_id,
            bsuid=bsuid,
            timestamp=r.timestamp(m, sink, wamid),
            type=mtype,
            content=content(mtype, m, sink, wamid),
            profile_name=r.text(profile, "name"),
            username=r.text(profile, "username") or r.text(contact, "username"),
            context=r.context(m.get("context")),
            referral=r.referral(m.get("referral")),
            errors=r.errors(m.get("errors")),
            raw=m,
        )
    )


def _status(s: Any, pnid: str, display: str | None, waba_id: str, sink: r.Sink) -> None:
    if not isinstance(s, dict):
        sink.skip("messages", waba_id, "status is not an object", s)
        return
    wamid = r.text(s, "id")
    status = r.text(s, "status")
    if not wamid or not status:
        sink.skip("messages", waba_id, "status without an id or a status", s)
        return
    pricing = r.obj(s, "pricing")
    conv = r.obj(s, "conversation")
    sink.events.append(
        e.StatusUpdate(
            phone_number_id=pnid,
            display_phone_number=display,
            waba_id=waba_id,
            wamid=wamid,
            status=status,
            timestamp=r.timestamp(s, sink, f"{wamid} {status}"),
            recipient_id=r.ident(s, "recipient_id"),
            recipient_bsuid=r.text(s, "recipient_user_id"),
            biz_opaque_callback_data=r.text(s, "biz_opaque_callback_data"),
            errors=r.errors(s.get("errors")),
            pricing=None if pricing is None else _pricing(pricing),
            conversation=None
            if conv is None
            else e.Conversation(
                id=r.text(conv, "id"),
                expiration_timestamp=r.integer(conv.get("expiration_timestamp")),
                origin_type=r.text(r.obj(conv, "origin"), "type"),
            ),
            raw=s,
        )
    )


def _pricing(p: JSON) -> e.Pricing:
    billable = p.get("billable")
    return e.Pricing(
        billable=billable if isinstance(billable, bool) else None,
        pricing_model=r.text(p, "pricing_model"),
        category=r.text(p, "category"),
        type=r.text(p, "type"),
    )


def echoes(waba_id: str, value: JSON, sink: r.Sink) -> None:
    """Field ``smb_message_echoes``: each of ``message_echoes[]`` is one event."""
    field = "smb_message_echoes"
    routed = _routing(field, waba_id, value, sink)
    if routed is None:
        return
    items = _items(field, waba_id, value, "message_echoes", sink)
    if items is None:
        if "message_echoes" not in value:
            sink.skip(field, waba_id, "no message_echoes", value)
        return
    pnid, display = routed
    for m in items:
        wamid = r.text(m, "id") if isinstance(m, dict) else None
        if not isinstance(m, dict) or not wamid:
            sink.skip(field, waba_id, "echo without an id", m)
            continue
        mtype = r.text(m, "type") or ""
        sink.events.append(
            e.MessageEcho(
                phone_number_id=pnid,
                display_phone_number=display,
                waba_id=waba_id,
                wamid=wamid,
                from_number=r.ident(m, "from"),
                to=r.ident(m, "to"),
                to_bsuid=r.text(m, "to_user_id"),
                timestamp=r.timestamp(m, sink, wamid),
                type=mtype,
                content=content(mtype, m, sink, wamid),
                context=r.context(m.get("context")),
                raw=m,
            )
        )


def user_preferences(waba_id: str, value: JSON, sink: r.Sink) -> None:
    """Field ``user_preferences``: each of ``user_preferences[]`` is one event."""
    field = "user_preferences"
    items = _items(field, waba_id, value, field, sink)
    if items is None:
        if field not in value:
            sink.skip(field, waba_id, "no user_preferences", value)
        return
    pnid = r.ident(r.obj(value, "metadata"), "phone_number_id")
    for p in items:
        choice = r.text(p, "value") if isinstance(p, dict) else None
        if not isinstance(p, dict) or not choice:
            sink.skip(field, waba_id, "preference without a value", p)
            continue
        wa_id = r.ident(p, "wa_id")
        bsuid = r.text(p, "user_id")
        if wa_id is None and bsuid is None:
            sink.skip(field, waba_id, "preference without a user", p)
            continue
        sink.events.append(
            e.UserPreferences(
                phone_number_id=pnid,
                waba_id=waba_id,
                wa_id=wa_id,
                bsuid=bsuid,
                category=r.text(p, "category"),
                value=choice,
                timestamp=r.timestamp(p, sink, f"user_preferences {wa_id or bsuid}"),
                detail=r.text(p, "detail"),
                raw=p,
            )
        )


# --- message content ------------------------------------------------------------------------


def content(mtype: str, m: JSON, sink: r.Sink, wamid: str) -> c.Content:
    """The typed content of a message of type ``mtype``.

    An unknown type is :class:`~daemon.webhook.content.Unknown` quietly (Meta adds types);
    a known type whose content object is missing or unusable is ``Unknown`` with an error
    line, because that is Meta breaking its own format, or someone else posting.
    """
    reader = _CONTENT.get(mtype)
    if reader is None:
        return c.Unknown(mtype, raw=m)
    found = reader(mtype, m, sink)
    if found is None:
        sink.errors.append(f"{wamid}: {mtype} message without a usable {mtype} object")
        return c.Unknown(mtype, raw=m)
    return found


_Reader = Callable[[str, JSON, r.Sink], c.Content | None]


def _text(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    body = r.text(r.obj(m, "text"), "body")
    return None if body is None else c.Text(body)


def _media(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    o = r.obj(m, t)
    media_id = r.ident(o, "id")
    if o is None or media_id is None:
        return None
    return c.Media(
        kind=t,
        media_id=media_id,
        mime_type=r.text(o, "mime_type"),
        sha256=r.text(o, "sha256"),
        caption=r.text(o, "caption"),
        filename=r.text(o, "filename"),
        voice=o.get("voice") is True,
        animated=o.get("animated") is True,
    )


def _location(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    o = r.obj(m, "location")
    if o is None:
        return None
    return c.Location(
        latitude=r.number(o.get("latitude")),
        longitude=r.number(o.get("longitude")),
        name=r.text(o, "name"),
        address=r.text(o, "address"),
        url=r.text(o, "url"),
    )


def _contacts(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    cards = m.get("contacts")
    if not isinstance(cards, list):
        return None
    return c.Contacts(tuple(x for x in cards if isinstance(x, dict)))


def _reaction(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    o = r.obj(m, "reaction")
    target = r.text(o, "message_id")
    return None if not target else c.Reaction(target, r.text(o, "emoji") or None)


def _button(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    o = r.obj(m, "button")
    return None if o is None else c.ButtonTap(r.text(o, "payload"), r.text(o, "text"))


def _interactive(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    o = r.obj(m, "interactive")
    sub = r.text(o, "type")
    if o is None or sub is None:
        return None
    reply = r.obj(o, sub)
    if sub == "button_reply" or sub == "list_reply":
        reply_id = r.text(reply, "id")
        if reply_id is None:
            return None
        if sub == "button_reply":
            return c.ButtonReply(reply_id, r.text(reply, "title"))
        return c.ListReply(reply_id, r.text(reply, "title"), r.text(reply, "description"))
    if sub == "nfm_reply":
        raw_json = r.text(reply, "response_json")
        if raw_json is None:
            return None
        return c.FlowReply(
            name=r.text(reply, "name"),
            body=r.text(reply, "body"),
            response=_flow_response(raw_json, m, sink),
            raw_response_json=raw_json,
        )
    return c.Unknown(f"interactive.{sub}", raw=m)  # a reply kind newer than this module


def _flow_response(raw_json: str, m: JSON, sink: r.Sink) -> JSON:
    try:
        response = json.loads(raw_json)
    except (ValueError, RecursionError):
        response = None
    if isinstance(response, dict):
        return response
    sink.errors.append(f"{r.text(m, 'id')}: nfm_reply response_json is not a JSON object")
    return {}


def _order(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    o = r.obj(m, "order")
    if o is None:
        return None
    items = tuple(
        c.OrderItem(
            product_retailer_id=r.ident(x, "product_retailer_id"),
            quantity=r.integer(x.get("quantity")),
            item_price=r.number(x.get("item_price")),
            currency=r.text(x, "currency"),
        )
        for x in r.array(o, "product_items")
        if isinstance(x, dict)
    )
    return c.Order(r.ident(o, "catalog_id"), r.text(o, "text"), items)


def _system(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    o = r.obj(m, "system")
    if o is None:
        return None
    return c.System(
        type=r.text(o, "type"),
        body=r.text(o, "body"),
        new_wa_id=r.ident(o, "new_wa_id"),
        wa_id=r.ident(o, "wa_id"),
        raw=o,
    )


def _unsupported(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    return c.Unsupported(r.errors(m.get("errors")), r.text(r.obj(m, "unsupported"), "type"))


def _request_welcome(t: str, m: JSON, sink: r.Sink) -> c.Content | None:
    return c.RequestWelcome()


_CONTENT: dict[str, _Reader] = {
    "text": _text,
    "image": _media,
    "audio": _media,
    "video": _media,
    "document": _media,
    "sticker": _media,
    "location": _location,
    "contacts": _contacts,
    "reaction": _reaction,
    "button": _button,
    "interactive": _interactive,
    "order": _order,
    "system": _system,
    "unsupported": _unsupported,
    "request_welcome": _request_welcome,
}
