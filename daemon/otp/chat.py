"""A code typed back in the WhatsApp chat verifies like ``otp verify``.

Why: the contact got the code on WhatsApp and answers on WhatsApp; the old system never
looked at those messages (behaviour.md 7.16) and the contact stayed unconfirmed. Which
purpose a typed number answers, and when a miss costs an attempt, is the pure rule of
:mod:`actors.otp.chat`; here it meets the store and the verify path
(:meth:`daemon.otp.service.OtpService.judge`: same row lock, attempt counting, lockout,
constant-time comparison, ``otp`` event). Only a message whose whole text is a code of
the configured length is looked at; every other message is left alone, and every
inbound message still goes on to its chip.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.otp.chat import awaiting, guessable, pick, typed_code
from actors.otp.rules import live_codes
from daemon.otp.service import OtpService

__all__ = ["ChatCodes"]

log = logging.getLogger("metad.otp")


class ChatCodes:
    def __init__(self, service: OtpService) -> None:
        self._service = service

    async def typed(
        self, text: str | None, *, wa_id: str | None, bsuid: str | None, wamid: str, chip: str
    ) -> dict[str, Any] | None:
        """Judge the chat message ``text`` as a code, if it is one the contact awaits;
        None when it is ordinary chat (or answers nothing it can be told to answer)."""
        service = self._service
        if not service.config.accept_codes_in_chat:
            return None
        code = typed_code(text, service.config.digits)
        sender = wa_id or bsuid
        if code is None or sender is None:
            return None
        try:
            key = await service.contact(sender)
        except ValueError:  # neither a phone number nor a user id: nobody to verify
            return None
        now = service.now()
        states = await service.codes.states(key)
        waiting = awaiting(states, now)
        matching: list[str] = []
        if len(waiting) > 1:  # try each, counting nothing: which one was meant?
            for purpose in waiting:
                state = states[purpose]
                if not guessable(state, now, service.policy):
                    continue
                if await service.matching(live_codes(state, now), code):
                    matching.append(purpose)
        guess = pick(waiting, tuple(matching))
        if guess is None:
            if waiting:
                log.info(
                    "a code typed by %s matches %d of its %d awaiting purposes: left alone",
                    key,
                    len(matching),
                    len(waiting),
                )
            return None
        via = {"via": "chat", "chip": chip, "wamid": wamid}
        answer = await service.judge(key, guess.purpose, code, via=via, counts=guess.counts)
        log.info("otp %s typed in the chat by %s: %s", guess.purpose, key, answer["reason"])
        return {**answer, "purpose": guess.purpose, "contact": key}
