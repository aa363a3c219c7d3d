"""Send a passcode through a chip, verify a guess: ``otp.send`` / ``otp.verify``.

Why the code is stored before it is sent: a send that Meta accepts must be verifiable
the moment it arrives. If the chip refuses (window, policy, budget, tier) the stored code
is voided, and the caller is told ``refused`` — never "success" for a code nobody got
(behaviour.md 15.5 #31). The code itself never leaves this module: not in the answer,
not in a log; only its hash is stored. The chip's outbox keeps the payload it sent (as
it does for every message), so the outbox is as sensitive as the codes' lifetime.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from actors.chip import Refused, Send, SendResult, Sent
from actors.core import Address
from actors.otp import OtpPolicy, OtpState, check_code, hash_code, issue, new_code, new_salt
from actors.otp.codes import SCRYPT_N
from actors.otp.rules import Issue, verify
from actors.otp.templates import auth_send_template
from config.model import OtpConfig
from daemon.store.otp import ContactKeys, OtpRepository

__all__ = ["OtpService", "SendReport", "send_report"]

log = logging.getLogger("metad.otp")

SEND_TIMEOUT_S = 60.0


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
    ) -> None:
        self._cfg = cfg
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
        key = await self._key(to)
        code, salt = new_code(self._cfg.digits), new_salt()
        code_hash = await trio.to_thread.run_sync(lambda: hash_code(code, salt, n=self._n))
        now = self._now()

        async def decide(state: OtpState | None) -> tuple[OtpState | None, Issue | str]:
            decision = issue(state, salt, code_hash, now, self._policy)
            return (decision.state if isinstance(decision, Issue) else None), decision

        decision = await self._codes.update(key, purpose, now, decide)
        if isinstance(decision, str):
            return {**SendReport("refused", reason=decision).as_dict(), "expires_at": None}
        template = auth_send_template(self._cfg.template, self._cfg.language, code)
        result: SendResult = await address.call(
            lambda r: Send(to=to, template=template, category="authentication", reply=r),
            timeout=SEND_TIMEOUT_S,
        )
        report = send_report(result)
        if report.result == "refused":
            await self._codes.void(key, purpose, decision.state.issued_at, self._now())
        else:
            await self._codes.sent(key, purpose, chip, report.outbox_id)
        log.info("otp %s for %s via %s: %s", purpose, key, chip, report.result)
        expires = decision.state.expires_at if report.result != "refused" else None
        return {**report.as_dict(), "expires_at": expires}

    async def verify(self, to: str, purpose: str, code: str) -> dict[str, Any]:
        """Judge one guess; every wrong one counts, even when guesses race."""
        key = await self._key(to)
        now = self._now()
        n = self._n

        async def decide(state: OtpState | None) -> tuple[OtpState | None, Any]:
            def matches(s: OtpState) -> bool:
                return check_code(code, s.salt, s.code_hash, n=n)

            if state is not None and not state.consumed and now < state.expires_at:
                # Hash off the trio thread (scrypt takes tens of milliseconds).
                hit = await trio.to_thread.run_sync(lambda: matches(state))
                verdict = verify(state, lambda _: hit, now, self._policy)
            else:
                verdict = verify(state, matches, now, self._policy)
            return verdict.state, verdict

        verdict = await self._codes.update(key, purpose, now, decide)
        return {
            "valid": verdict.valid,
            "reason": verdict.reason,
            "attempts_left": verdict.attempts_left,
        }
