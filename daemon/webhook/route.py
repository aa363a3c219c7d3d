"""Webhook events to actor messages: which actor, and what it is told.

Why a mapping module: the parser speaks Meta (``daemon.webhook.events``), actors speak
their own messages and must not import the edge. Events for numbers or accounts this
daemon does not know are reported back (``False``) so the processor keeps them as
orphans, shown to the operator, instead of dropping them silently.
"""

from __future__ import annotations

import time

from actors.budget.messages import Settle
from actors.chip import Inbound, QualityEvent, StatusEvent
from actors.chip.messages import STATUSES_A_CHIP_TAKES
from actors.chip.quality import observation_from_webhook
from actors.waba import AccountEvent, TemplateEvent
from actors.waba.killswitch import account_update_effect
from daemon.fleet import Fleet
from daemon.store.outbox import outbox_id_from
from daemon.webhook import events as e

__all__ = ["FleetRouter"]


class FleetRouter:
    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet

    async def deliver(self, event: e.Event) -> bool:
        fleet = self._fleet
        if isinstance(event, e.InboundMessage):
            chip = fleet.find_chip(event.phone_number_id)
            if chip is None:
                return False
            await chip.cast(
                Inbound(
                    wa_id=event.from_wa_id,
                    bsuid=event.bsuid,
                    at=float(event.timestamp),
                    referral=event.referral is not None,
                )
            )
            return True
        if isinstance(event, e.StatusUpdate):
            chip = fleet.find_chip(event.phone_number_id)
            if chip is None:
                return False
            outbox_id = outbox_id_from(event.biz_opaque_callback_data)
            if event.pricing is not None and outbox_id is not None:
                await fleet.budget.cast(
                    Settle(
                        id=f"o:{outbox_id}",
                        pricing=event.pricing,
                        wa_id=event.recipient_id or "",
                        waba=event.waba_id,
                    )
                )
            if event.status in STATUSES_A_CHIP_TAKES:
                await chip.cast(
                    StatusEvent(
                        outbox_id=outbox_id,
                        wamid=event.wamid,
                        status=event.status,
                        at=float(event.timestamp),
                        error_code=event.errors[0].code if event.errors else None,
                    )
                )
            return True
        if isinstance(event, e.PhoneQualityUpdate):
            chip = fleet.chip_by_display(event.display_phone_number or "")
            if chip is None:
                return False
            await chip.cast(QualityEvent(observation=observation_from_webhook(event.raw)))
            return True
        waba_id = getattr(event, "waba_id", None)
        waba = fleet.find_waba(waba_id) if isinstance(waba_id, str) else None
        if waba is None:
            return False
        template_event = _template_event(event)
        if template_event is not None:
            await waba.cast(template_event)
        elif isinstance(event, e.AccountUpdate):
            effect = account_update_effect(event.raw)
            await waba.cast(AccountEvent(effect=effect, at=time.time()))
        # Preference and capability events are kept in the inbox; their consumers
        # (opt-outs, limits) arrive with later milestones.
        return True


def _template_event(event: e.Event) -> TemplateEvent | None:
    """Status, quality and category webhooks all change one field of one template."""
    change: dict[str, str | None]
    if isinstance(event, e.TemplateStatusUpdate):
        change = {"status": event.event, "reason": event.reason}
    elif isinstance(event, e.TemplateQualityUpdate):
        change = {"quality": event.new_score}
    elif isinstance(event, e.TemplateCategoryUpdate):
        change = {"category": event.new_category}
    else:
        return None
    return TemplateEvent(
        template_id=event.template_id, name=event.name, language=event.language, **change
    )
