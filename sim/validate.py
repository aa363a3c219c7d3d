"""Checks a ``/messages`` body the way Meta does, before anything is accepted.

Why here and plain dicts: this is the simulator's hot path (thousands of sends a second
in the benchmark), so it reads the decoded JSON directly instead of building models, and
stops at the first problem with Meta's code for it: 100 for Graph-level parameters
(``messaging_product``, ``to``, callback data), 131008 for a missing field of a message
type, 131009 for a value out of Meta's limits, 131051 for an unknown type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sim.catalog import check_product_message
from sim.errors import SimError, bad_param

__all__ = ["MEDIA_TYPES", "ParsedSend", "is_bsuid", "parse_send"]

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
_TYPES = MEDIA_TYPES | {"text", "location", "contacts", "reaction", "template", "interactive"}
_INTERACTIVE = frozenset({"button", "list", "cta_url", "flow", "product", "product_list"})
_BSUID = re.compile(r"[A-Za-z]{2}\.[A-Za-z0-9]{1,128}")


@dataclass(slots=True)
class ParsedSend:
    to: str
    type: str
    callback: str | None
    content: dict[str, Any]
    """The object under the type's key (``text``, ``template``, ``interactive``…)."""


def _obj(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        raise SimError(131008, f"The parameter {name} is required.")
    if not isinstance(value, dict):
        raise SimError(131009, f"{name} must be an object")
    return value


def _text(d: dict[str, Any], key: str, where: str, *, max_len: int, required: bool = True) -> str:
    v = d.get(key)
    if v is None:
        if required:
            raise SimError(131008, f"The parameter {where}.{key} is required.")
        return ""
    if not isinstance(v, str):
        raise SimError(131009, f"{where}.{key} must be a string")
    if required and not v:
        raise SimError(131008, f"{where}.{key} must not be empty")
    if len(v) > max_len:
        raise SimError(131009, f"{where}.{key} is longer than {max_len} characters")
    return v


def is_bsuid(value: str) -> bool:
    """Whether ``value`` is a business-scoped user id (``BR.1349…``), not a number."""
    return _BSUID.fullmatch(value) is not None


def parse_send(body: Any) -> ParsedSend:
    """Validate a send; the body is the decoded JSON (or anything, if it was not JSON)."""
    if not isinstance(body, dict):
        raise bad_param("The request body must be a JSON object.")
    if body.get("messaging_product") != "whatsapp":
        raise SimError(
            100,
            message="(#100) The parameter messaging_product is required.",
            details="messaging_product must be whatsapp",
        )
    to = body.get("to")
    recipient = body.get("recipient")  # a business-scoped user id, when "to" is absent
    if to is None and isinstance(recipient, str) and is_bsuid(recipient):
        to = norm = recipient
    else:
        if not isinstance(to, str) or not to:
            raise SimError(100, message="(#100) The parameter to is required.", details="to")
        norm = "".join(ch for ch in to if ch.isdigit())
        if not 8 <= len(norm) <= 15 or any(ch not in "+0123456789 -()" for ch in to):
            raise bad_param(f"Invalid parameter to: {to!r} is not a phone number")
    if body.get("recipient_type", "individual") != "individual":
        raise bad_param("recipient_type must be individual")
    callback = body.get("biz_opaque_callback_data")
    if callback is not None and (not isinstance(callback, str) or len(callback) > 512):
        raise bad_param("biz_opaque_callback_data must be a string of at most 512 characters")
    kind = body.get("type", "text")
    if not isinstance(kind, str) or kind not in _TYPES:
        raise SimError(131051, f"Message type {kind!r} is not supported.")
    content = _obj(body.get(kind), kind)
    context = body.get("context")
    if context is not None and not isinstance(_obj(context, "context").get("message_id"), str):
        raise SimError(131009, "context.message_id must be a string")
    _CHECKS[kind](content)
    return ParsedSend(norm, kind, callback, content)


def _check_text(c: dict[str, Any]) -> None:
    _text(c, "body", "text", max_len=4096)


def _check_media(kind: str) -> Any:
    def check(c: dict[str, Any]) -> None:
        has_id, has_link = isinstance(c.get("id"), str), isinstance(c.get("link"), str)
        if has_id == has_link:
            raise SimError(131008, f"{kind} needs exactly one of id or link")
        if kind in ("audio", "sticker") and "caption" in c:
            raise SimError(131009, f"{kind} messages take no caption")
        _text(c, "caption", kind, max_len=1024, required=False)

    return check


def _check_location(c: dict[str, Any]) -> None:
    for key in ("latitude", "longitude"):
        v = c.get(key)
        if v is None:
            raise SimError(131008, f"The parameter location.{key} is required.")
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise SimError(131009, f"location.{key} must be a number")


def _check_contacts(c: dict[str, Any]) -> None:
    return None  # the contacts card is passed through; metad does not send it


def _check_reaction(c: dict[str, Any]) -> None:
    _text(c, "message_id", "reaction", max_len=256)
    if not isinstance(c.get("emoji"), str):
        raise SimError(131008, "The parameter reaction.emoji is required.")


def _check_template(c: dict[str, Any]) -> None:
    _text(c, "name", "template", max_len=512)
    lang = _obj(c.get("language"), "template.language")
    _text(lang, "code", "template.language", max_len=16)
    comps = c.get("components", [])
    if not isinstance(comps, list):
        raise SimError(131009, "template.components must be a list")


def _check_interactive(c: dict[str, Any]) -> None:
    kind = c.get("type")
    if kind not in _INTERACTIVE:
        raise SimError(131009, f"interactive.type {kind!r} is not valid")
    action = _obj(c.get("action"), "interactive.action")
    if kind in ("button", "list", "cta_url", "flow"):
        _text(_obj(c.get("body"), "interactive.body"), "text", "interactive.body", max_len=1024)
    header = c.get("header")
    if header is not None and _obj(header, "interactive.header").get("type") == "text":
        _text(header, "text", "interactive.header", max_len=60)
    if kind == "button":
        _check_buttons(action)
    elif kind == "list":
        _check_list(action)
    elif kind == "cta_url":
        params = _obj(action.get("parameters"), "interactive.action.parameters")
        _text(params, "display_text", "cta_url", max_len=20)
        _text(params, "url", "cta_url", max_len=2000)
    elif kind == "flow":
        _check_flow(action)
    else:
        check_product_message(kind, c)


def _check_buttons(action: dict[str, Any]) -> None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        raise SimError(131008, "The parameter interactive.action.buttons is required.")
    if len(buttons) > 3:
        raise SimError(131009, "interactive buttons: at most 3 are allowed")
    ids = set()
    for b in buttons:
        reply = _obj(_obj(b, "button").get("reply"), "button.reply")
        ids.add(_text(reply, "id", "button.reply", max_len=256))
        _text(reply, "title", "button.reply", max_len=20)
    if len(ids) != len(buttons):
        raise SimError(131009, "interactive buttons: ids must be unique")


def _check_list(action: dict[str, Any]) -> None:
    _text(action, "button", "list.action", max_len=20)
    sections = action.get("sections")
    if not isinstance(sections, list) or not sections:
        raise SimError(131008, "The parameter interactive.action.sections is required.")
    if len(sections) > 10:
        raise SimError(131009, "list: at most 10 sections")
    rows = 0
    for s in sections:
        section_rows = _obj(s, "section").get("rows")
        if not isinstance(section_rows, list) or not section_rows:
            raise SimError(131008, "every list section needs rows")
        for r in section_rows:
            row = _obj(r, "row")
            _text(row, "id", "row", max_len=200)
            _text(row, "title", "row", max_len=24)
            _text(row, "description", "row", max_len=72, required=False)
        rows += len(section_rows)
    if rows > 10:
        raise SimError(131009, "list: at most 10 rows in all")


def _check_flow(action: dict[str, Any]) -> None:
    if action.get("name") != "flow":
        raise SimError(131009, "interactive.action.name must be flow")
    p = _obj(action.get("parameters"), "interactive.action.parameters")
    if str(p.get("flow_message_version")) != "3":
        raise SimError(131009, "flow_message_version must be 3")
    _text(p, "flow_token", "flow", max_len=1000)
    _text(p, "flow_cta", "flow", max_len=30)
    if (p.get("flow_id") is None) == (p.get("flow_name") is None):
        raise SimError(131008, "flow needs exactly one of flow_id or flow_name")
    if p.get("flow_action", "navigate") not in ("navigate", "data_exchange"):
        raise SimError(131009, "flow_action must be navigate or data_exchange")


_CHECKS: dict[str, Any] = {
    "text": _check_text,
    "location": _check_location,
    "contacts": _check_contacts,
    "reaction": _check_reaction,
    "template": _check_template,
    "interactive": _check_interactive,
    **{k: _check_media(k) for k in MEDIA_TYPES},
}
