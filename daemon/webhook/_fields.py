"""Parsers for the account-level fields, one event per change (private to
:mod:`daemon.webhook.payloads`): templates, phone numbers, the account, capabilities,
Flows and security.

Why each reader names one required key: a change without its ``event`` (or new score,
new category, decision) says nothing anyone can act on, so it becomes an
``UnknownChange``; everything else is optional and read as found.
"""

from __future__ import annotations

from collections.abc import Callable

from daemon.webhook import _read as r, events as e
from daemon.webhook.content import JSON

__all__ = ["SINGLE_VALUE_READERS"]


def _template_status(waba_id: str, v: JSON) -> e.Event | None:
    event = r.text(v, "event")
    if not event:
        return None
    return e.TemplateStatusUpdate(
        waba_id=waba_id,
        event=event,
        template_id=r.ident(v, "message_template_id"),
        name=r.text(v, "message_template_name"),
        language=r.text(v, "message_template_language"),
        reason=r.text(v, "reason"),
        category=r.text(v, "message_template_category"),
        other_info=r.obj(v, "other_info"),
        rejection_info=r.obj(v, "rejection_info"),
        disable_info=r.obj(v, "disable_info"),
        raw=v,
    )


def _template_quality(waba_id: str, v: JSON) -> e.Event | None:
    new_score = r.text(v, "new_quality_score")
    if not new_score:
        return None
    return e.TemplateQualityUpdate(
        waba_id=waba_id,
        template_id=r.ident(v, "message_template_id"),
        name=r.text(v, "message_template_name"),
        language=r.text(v, "message_template_language"),
        previous_score=r.text(v, "previous_quality_score"),
        new_score=new_score,
        raw=v,
    )


def _template_category(waba_id: str, v: JSON) -> e.Event | None:
    new_category = r.text(v, "new_category")
    if not new_category:
        return None
    return e.TemplateCategoryUpdate(
        waba_id=waba_id,
        template_id=r.ident(v, "message_template_id"),
        name=r.text(v, "message_template_name"),
        language=r.text(v, "message_template_language"),
        previous_category=r.text(v, "previous_category"),
        new_category=new_category,
        correct_category=r.text(v, "correct_category"),
        raw=v,
    )


def _phone_quality(waba_id: str, v: JSON) -> e.Event | None:
    event = r.text(v, "event")
    if not event:
        return None
    return e.PhoneQualityUpdate(
        waba_id=waba_id,
        display_phone_number=r.ident(v, "display_phone_number"),
        event=event,
        current_limit=r.tier(v.get("current_limit")),
        old_limit=r.tier(v.get("old_limit")),
        max_daily_conversations_per_business=r.tier(v.get("max_daily_conversations_per_business")),
        raw=v,
    )


def _phone_name(waba_id: str, v: JSON) -> e.Event | None:
    decision = r.text(v, "decision")
    if not decision:
        return None
    return e.PhoneNameUpdate(
        waba_id=waba_id,
        display_phone_number=r.ident(v, "display_phone_number"),
        decision=decision,
        requested_verified_name=r.text(v, "requested_verified_name"),
        rejection_reason=r.text(v, "rejection_reason"),
        raw=v,
    )


def _account(waba_id: str, v: JSON) -> e.Event | None:
    event = r.text(v, "event")
    if not event:
        return None
    ban = r.obj(v, "ban_info")
    return e.AccountUpdate(
        waba_id=waba_id,
        event=event,
        phone_number=r.ident(v, "phone_number"),
        restrictions=tuple(
            e.Restriction(r.text(x, "restriction_type"), r.integer(x.get("expiration")))
            for x in r.array(v, "restriction_info")
            if isinstance(x, dict)
        ),
        ban_info=None
        if ban is None
        else e.BanInfo(r.text(ban, "waba_ban_state"), r.text(ban, "waba_ban_date")),
        violation_type=r.text(r.obj(v, "violation_info"), "violation_type"),
        raw=v,
    )


def _capability(waba_id: str, v: JSON) -> e.Event | None:
    event = e.CapabilityUpdate(
        waba_id=waba_id,
        max_daily_conversation_per_phone=r.integer(v.get("max_daily_conversation_per_phone")),
        max_daily_conversations_per_business=r.tier(v.get("max_daily_conversations_per_business")),
        max_phone_numbers_per_business=r.integer(v.get("max_phone_numbers_per_business")),
        max_phone_numbers_per_waba=r.integer(v.get("max_phone_numbers_per_waba")),
        raw=v,
    )
    if (
        event.max_daily_conversation_per_phone is None
        and event.max_daily_conversations_per_business is None
        and event.max_phone_numbers_per_business is None
        and event.max_phone_numbers_per_waba is None
    ):
        return None
    return event


def _flows(waba_id: str, v: JSON) -> e.Event | None:
    event = r.text(v, "event")
    if not event:
        return None
    return e.FlowsEvent(
        waba_id=waba_id,
        event=event,
        flow_id=r.ident(v, "flow_id"),
        message=r.text(v, "message"),
        old_status=r.text(v, "old_status"),
        new_status=r.text(v, "new_status"),
        alert_state=r.text(v, "alert_state"),
        raw=v,
    )


def _security(waba_id: str, v: JSON) -> e.Event | None:
    event = r.text(v, "event")
    if not event:
        return None
    return e.SecurityEvent(
        waba_id=waba_id,
        display_phone_number=r.ident(v, "display_phone_number"),
        event=event,
        requester=r.ident(v, "requester"),
        raw=v,
    )


SINGLE_VALUE_READERS: dict[str, Callable[[str, JSON], e.Event | None]] = {
    "message_template_status_update": _template_status,
    "message_template_quality_update": _template_quality,
    "template_category_update": _template_category,
    "phone_number_quality_update": _phone_quality,
    "phone_number_name_update": _phone_name,
    "account_update": _account,
    "business_capability_update": _capability,
    "flows": _flows,
    "security": _security,
}
"""Field name → reader of its value; ``None`` means the value lacks its required key."""
