"""Offer a shift with a confirm/decline template; a tap on it settles the offer.

Why a nonce per message: the tap must confirm the shift *this* message offered to
*this* contact (``shift_confirmations`` is keyed by shift and contact; the nonce in the
payload must match the latest offer). An old message's buttons, another contact's tap,
or a replayed webhook change nothing.

Why the new nonce is only *pending* until the chip answers: a message the chip refused
never reached the contact, so it must not change the stored offer or its answer; one
that left must be tappable even if the daemon dies right after the POST. And an offer
the contact answered is not offered again unless asked (``force``): a resend used to
erase the answer (:func:`actors.otp.shifts.reoffer_refusal`).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from actors.chip import Send, SendResult
from actors.chip.contacts import canonical_key
from actors.core import Address
from actors.otp.shifts import MAX_SHIFT_ID, ShiftTap, reoffer_refusal, shift_send_template
from config.model import ShiftsConfig
from daemon.otp.service import SEND_TIMEOUT_S, SendReport, send_report
from daemon.store.otp import ContactKeys, ShiftOffer, ShiftRepository

__all__ = ["ShiftService"]

log = logging.getLogger("metad.shifts")

Publish = Callable[[str, dict[str, Any]], None]


EARLY_KEPT = 1000
"""Failures kept for offers whose send's answer was not recorded yet: a status webhook
overtakes that answer by milliseconds, so a few suffice; the oldest go first."""


class ShiftService:
    def __init__(
        self,
        cfg: ShiftsConfig,
        *,
        offers: ShiftRepository,
        contacts: ContactKeys,
        chip: Callable[[str], Address[Any] | None],
        publish: Publish = lambda kind, data: None,
        now: Callable[[], float] = time.time,
        tz: dt.tzinfo | None = None,
    ) -> None:
        self._cfg = cfg
        self._offers = offers
        self._contacts = contacts
        self._chip = chip
        self._publish = publish
        self._now = now
        self._tz = tz
        self._early: dict[int | str, tuple[int | None, str, int | None]] = {}
        """Failures told while no offer carried their message yet (outbox id, else
        wamid → the failure): the send that carries it looks here once recorded."""

    async def send(
        self,
        chip: str,
        to: str,
        shift_id: str,
        params: Sequence[str] = (),
        *,
        force: bool = False,
    ) -> dict[str, Any]:
        """Send the confirmation template for ``shift_id`` to ``to`` through ``chip``;
        ``force`` asks again a contact who already answered."""
        address = self._chip(chip)
        if address is None:
            raise LookupError(f"unknown chip {chip}")
        if not shift_id or len(shift_id) > MAX_SHIFT_ID:
            raise ValueError(f"shift id: 1 to {MAX_SHIFT_ID} characters")
        key = await self._contacts.key(to)
        if key is None:
            raise ValueError(f"not a phone number or user id: {to!r}")
        nonce = secrets.token_urlsafe(9)
        template = shift_send_template(
            self._cfg.template, self._cfg.language, params, nonce=nonce, shift_id=shift_id
        )

        def refuse(offer: ShiftOffer) -> str | None:
            return reoffer_refusal(offer.state, offer.answered_at, force=force, tz=self._tz)

        refusal = await self._offers.stage(shift_id, key, nonce, chip, refuse)
        if refusal is not None:
            log.info("shift %s not offered to %s again: %s", shift_id, key, refusal)
            report = SendReport("refused", reason=refusal)
            return {**report.as_dict(), "shift_id": shift_id, "contact": key}
        # Should the call raise (the chip stopped, timed out), the nonce stays pending:
        # the message may have gone, so a tap on it still counts.
        result: SendResult = await address.call(
            lambda r: Send(to=to, template=template, category="utility", reply=r),
            timeout=SEND_TIMEOUT_S,
        )
        report = send_report(result)
        if report.result == "refused":
            await self._offers.withdraw(shift_id, key, nonce)
        else:
            offer = await self._offers.sent(
                shift_id, key, nonce, chip, report.outbox_id, force=force
            )
            if offer is not None and offer.state == "failed":  # its webhook came first
                self._failed(offer, chip, report.wamid or "", offer.error_code)
            else:
                early = self._early.pop(report.outbox_id or 0, None) or self._early.pop(
                    report.wamid or "", None
                )
                if early is not None:  # told while this send's answer was being recorded
                    await self.undelivered(*early, chip)
        log.info("shift %s offered to %s via %s: %s", shift_id, key, chip, report.result)
        return {**report.as_dict(), "shift_id": shift_id, "contact": key}

    async def tapped(
        self, tap: ShiftTap, *, wa_id: str | None, bsuid: str | None, wamid: str, chip: str
    ) -> ShiftOffer | None:
        """Settle the offer a button tap answers; None when it answers nothing pending."""
        candidates: list[str] = []
        for ident in (wa_id, bsuid):
            if ident:
                candidates.append(ident)
                key = canonical_key(ident)
                if key is not None:
                    candidates.append(key)
                known = await self._contacts.key(ident)
                if known is not None:
                    candidates.append(known)
        state = "confirmed" if tap.answer == "confirm" else "declined"
        offer = await self._offers.answer(
            tap.nonce, tap.shift_id, list(dict.fromkeys(candidates)), state, wamid, self._now()
        )
        if offer is None:
            log.info("shift tap %s for %s matches no pending offer", tap.shift_id, wa_id or bsuid)
            return None
        log.info("shift %s %s by %s", offer.shift_id, offer.state, offer.contact)
        self._announce(offer, chip, wamid)
        return offer

    async def confirmed_by_code(
        self, shift_id: str, contact: str, *, chip: str | None, wamid: str | None
    ) -> ShiftOffer | None:
        """A valid passcode for ``shift:<shift_id>`` (``otp verify``, or typed in the
        chat) confirms the contact's pending offer of that shift, as a tap would, with
        its ``shift`` event; None when no offer awaited an answer."""
        offer = await self._offers.confirm_by_code(shift_id, contact, wamid, self._now())
        if offer is None:
            return None
        log.info("shift %s confirmed by code by %s", offer.shift_id, offer.contact)
        self._announce(offer, chip or offer.chip, wamid or "", via="code")
        return offer

    async def undelivered(
        self, outbox_id: int | None, wamid: str, error_code: int | None, chip: str
    ) -> ShiftOffer | None:
        """A message Meta took failed later (status webhook): if it carried a pending
        offer, the offer is ``failed`` and a ``shift`` event says so; else None."""
        # Noted before the store is asked: the send's own answer may be recorded while
        # the question is in flight, and must find it (ShiftService.send).
        key: int | str = outbox_id if outbox_id is not None else wamid
        self._early[key] = (outbox_id, wamid, error_code)
        while len(self._early) > EARLY_KEPT:
            del self._early[next(iter(self._early))]
        offer = await self._offers.failed(outbox_id, wamid, error_code)
        if offer is None:
            return None
        self._early.pop(key, None)
        self._failed(offer, chip, wamid, error_code)
        return offer

    def _failed(self, offer: ShiftOffer, chip: str, wamid: str, error_code: int | None) -> None:
        log.info("shift %s to %s not delivered: %s", offer.shift_id, offer.contact, error_code)
        self._announce(offer, chip, wamid, error_code=error_code)

    def _announce(self, offer: ShiftOffer, chip: str, wamid: str, **extra: Any) -> None:
        """The ``shift`` event of an offer that changed (answered, or not delivered)."""
        self._publish(
            "shift",
            {
                "shift_id": offer.shift_id,
                "contact": offer.contact,
                "state": offer.state,
                "chip": chip,
                "wamid": wamid,
                **extra,
            },
        )

    async def status(self, shift_id: str, to: str) -> ShiftOffer | None:
        key = await self._contacts.key(to)
        return None if key is None else await self._offers.get(shift_id, key)
