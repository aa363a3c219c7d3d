"""Send a passcode through a chip, verify a guess: ``otp.send`` / ``otp.verify``.

Why the code is stored before it is sent, as *pending*: a send that Meta accepts must be
verifiable the moment it arrives, even if the daemon dies right after the POST. It
becomes the contact's code only once the chip accepted it (or may have sent it); a send
the chip refused (window, policy, budget, tier, paused) is forgotten: the code the
contact already holds stays valid, and the refusal does not count toward the hourly
limit (:mod:`actors.otp.rules`). The caller is told ``refused`` — never "success" for a
code nobody got (behaviour.md 15.5 #31). A code whose message fails after Meta took it
(a status webhook) is undone the same way, when the store reads the row next
(:func:`actors.otp.rules.failed`): it stops counting, and the code it replaced verifies
again. The code itself never leaves this module: not
in the answer, not in a log; only its hash is stored. The chip journals an
authentication template's parameters masked (:func:`actors.chip.wire.masked`; migration
0021 masked those sent before), so the outbox holds no code either.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from actors.chip import Refused, Send, SendResult, Sent
from actors.core import Address
from actors.otp import (
    Code,
    Issue,
    OtpPolicy,
    OtpState,
    Verdict,
    check_code,
    check_purpose,
    draw,
    hash_code,
    live_codes,
    local_time,
    new_code,
    new_salt,
    sent,
    stage,
    unsent,
    verify,
)
from actors.otp.codes import SCRYPT_N
from actors.otp.shifts import shift_of_purpose
from actors.otp.templates import auth_send_template
from config.model import OtpConfig
from daemon.store.otp import Carrier, ContactKeys, Decide, OtpRepository

__all__ = ["OtpService", "Publish", "SendReport", "send_report"]

log = logging.getLogger("metad.otp")

SEND_TIMEOUT_S = 60.0

Publish = Callable[[str, dict[str, Any]], None]


class ShiftConfirmer(Protocol):
    """What confirms a shift's offer when its passcode verifies
    (:meth:`daemon.otp.shifts.ShiftService.confirmed_by_code`)."""

    async def confirmed_by_code(
        self, shift_id: str, contact: str, *, chip: str | None, wamid: str | None
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class SendReport:
    result: str
    """``sent``, ``refused`` or ``uncertain`` (Meta may have it; a status settles it)."""
    outbox_id: int | None = None
    wamid: str | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "outbox_id": self.outbox_id,
            "wamid": self.wamid,
            "reason": self.reason,
        }


def send_report(result: Any) -> SendReport:
    if isinstance(result, Sent):
        return SendReport("sent", result.outbox_id, result.wamid)
    if isinstance(result, Refused):
        return SendReport("refused", result.outbox_id, None, result.reason)
    return SendReport("uncertain", result.outbox_id, None, result.reason)


class OtpService:
    def __init__(
        self,
        cfg: OtpConfig,
        *,
        codes: OtpRepository,
        contacts: ContactKeys,
        chip: Callable[[str], Address[Any] | None],
        now: Callable[[], float] = time.time,
        scrypt_n: int = SCRYPT_N,
        tz: dt.tzinfo | None = None,
        publish: Publish = lambda kind, data: None,
        shifts: ShiftConfirmer | None = None,
    ) -> None:
        self._cfg = cfg
        self._publish = publish
        self._shifts = shifts
        self._codes = codes
        self._contacts = contacts
        self._chip = chip
        self._now = now
        self._n = scrypt_n
        self._policy = OtpPolicy(
            ttl_s=cfg.ttl_s,
            max_attempts=cfg.max_attempts,
            lockout_s=cfg.lockout_s,
            max_sends_per_hour=cfg.max_sends_per_hour,
            tz=tz,
        )

    async def _key(self, to: str) -> str:
        key = await self._contacts.key(to)
        if key is None:
            raise ValueError(f"not a phone number or user id: {to!r}")
        return key

    async def send(self, chip: str, to: str, purpose: str) -> dict[str, Any]:
        """Draw a code for (contact of ``to``, ``purpose``), store its hash, send it."""
        address = self._chip(chip)
        if address is None:
            raise LookupError(f"unknown chip {chip}")
        check_purpose(purpose)
        key = await self._key(to)
        code, salt = new_code(self._cfg.digits), new_salt()
        code_hash = await trio.to_thread.run_sync(lambda: hash_code(code, salt, n=self._n))
        now = self._now()
        drawn = draw(salt, code_hash, now, self._policy)
        refusal = await self._codes.update(key, purpose, now, self._staging(drawn, now))
        if refusal is not None:
            return {**SendReport("refused", reason=refusal).as_dict(), "expires_at": None}
        template = auth_send_template(self._cfg.template, self._cfg.language, code)
        # Should the call raise (the chip stopped, timed out), the code stays pending:
        # it may have gone, so it still verifies, but it is not counted as sent.
        result: SendResult = await address.call(
            lambda r: Send(to=to, template=template, category="authentication", reply=r),
            timeout=SEND_TIMEOUT_S,
        )
        report = send_report(result)
        await self._settle(key, purpose, drawn, chip, report)
        log.info("otp %s for %s via %s: %s", purpose, key, chip, report.result)
        expires = drawn.expires_at if report.result != "refused" else None
        return {**report.as_dict(), "expires_at": expires}

    @property
    def policy(self) -> OtpPolicy:
        return self._policy

    @property
    def config(self) -> OtpConfig:
        return self._cfg

    def now(self) -> float:
        return self._now()

    async def contact(self, to: str) -> str:
        """The key ``to`` is filed under (ValueError when it names no contact)."""
        return await self._key(to)

    @property
    def codes(self) -> OtpRepository:
        return self._codes

    async def matching(self, live: tuple[Code, ...], code: str) -> set[Code]:
        """The codes of ``live`` that ``code`` is (scrypt off the trio thread: it takes
        tens of milliseconds; constant-time comparison)."""
        n = self._n
        return await trio.to_thread.run_sync(
            lambda: {c for c in live if check_code(code, c.salt, c.code_hash, n=n)}
        )

    def _staging(self, drawn: Code, now: float) -> Decide:
        async def decide(state: OtpState | None) -> tuple[OtpState | None, str | None]:
            decision = stage(state, drawn, now, self._policy)
            if isinstance(decision, Issue):
                return decision.state, None
            return None, decision

        return decide

    async def _settle(
        self, key: str, purpose: str, drawn: Code, chip: str, report: SendReport
    ) -> None:
        """The chip answered: the pending code becomes the contact's, or is forgotten."""
        now = self._now()
        if report.result == "refused":

            async def forget(state: OtpState | None) -> tuple[OtpState | None, None]:
                return unsent(state, drawn), None

            await self._codes.update(key, purpose, now, forget)
            return

        carried = dataclasses.replace(drawn, outbox_id=report.outbox_id)

        async def promote(state: OtpState | None) -> tuple[OtpState | None, None]:
            return sent(state, carried, now, self._policy), None

        by = Carrier(chip, drawn.issued_at)
        await self._codes.update(key, purpose, now, promote, sent_by=by)

    async def verify(self, to: str, purpose: str, code: str) -> dict[str, Any]:
        """Judge one guess; every wrong one counts, even when guesses race. When the
        code's message failed after Meta took it (a status webhook, e.g. 131026: not on
        WhatsApp), ``detail`` says the contact never got it."""
        check_purpose(purpose)
        return await self.judge(await self._key(to), purpose, code, via={"via": "control"})

    async def judge(
        self, key: str, purpose: str, code: str, *, via: dict[str, Any], counts: bool = True
    ) -> dict[str, Any]:
        """Judge ``code`` for the contact ``key``: :meth:`verify`'s path, shared with a
        code typed in the chat (``counts=False``: a miss costs no attempt). A valid code
        publishes an ``otp`` event (``via`` says where the code came from), and one for
        ``shift:<id>`` confirms the contact's pending offer of that shift."""
        now = self._now()

        async def decide(state: OtpState | None) -> tuple[OtpState | None, Verdict]:
            # Only the codes a guess may match are hashed: a locked or expired row
            # costs no hashing.
            hits = await self.matching(live_codes(state, now), code)
            verdict = verify(state, hits.__contains__, now, self._policy, counts=counts)
            return verdict.state, verdict

        verdict: Verdict = await self._codes.update(key, purpose, now, decide)
        answer = self._answer(verdict, now)
        if verdict.reason in ("wrong", "expired", "locked", "no_code"):
            failure = await self._codes.undelivered(key, purpose)
            if failure is not None:
                told = f": {failure.error_code}" if failure.error_code else ""
                answer["detail"] = f"the code was not delivered{told}"
        if verdict.valid:
            log.info("otp %s verified for %s (%s)", purpose, key, via.get("via"))
            self._publish("otp", {"contact": key, "purpose": purpose, "valid": True, **via})
            shift_id = shift_of_purpose(purpose)
            if shift_id is not None and self._shifts is not None:
                await self._shifts.confirmed_by_code(
                    shift_id, key, chip=via.get("chip"), wamid=via.get("wamid")
                )
        return answer

    def _answer(self, verdict: Verdict, now: float) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "valid": verdict.valid,
            "reason": verdict.reason,
            "attempts_left": verdict.attempts_left,
        }
        if verdict.locked_until is not None:
            answer["locked_until"] = local_time(verdict.locked_until, self._policy.tz)
            answer["retry_after_s"] = max(0, int(verdict.locked_until - now + 0.999))
        return answer
