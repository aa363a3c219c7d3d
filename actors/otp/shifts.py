"""Shift confirmation: a UTILITY template whose quick replies carry the shift.

Why UTILITY and not the authentication template the old system used: Meta restricts
AUTHENTICATION templates to identity codes (behaviour.md 15.5 #31). A "confirm you will
take this shift" message is a utility message about a transaction the contact started;
the answer is a tap, so nobody has to type a code back.

Each button's payload is ``shift:<answer>:<nonce>:<shift id>``. The nonce is drawn per
message and stored with the offer, so a tap confirms exactly the shift that message
offered to that contact, and a payload typed or replayed by someone else matches nothing.

Why an answer survives a new message: the doctor's confirm or decline is the record
the coordinators act on. Offering the shift again (a resend, a retry script) must not
silently turn it back into "pending"; only a deliberate re-offer (``force``) asks anew,
and only once that message left (:func:`replaces_answer`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from actors.otp.rules import local_time

__all__ = [
    "ANSWERED",
    "Answer",
    "ShiftTap",
    "parse_payload",
    "reoffer_refusal",
    "replaces_answer",
    "shift_of_purpose",
    "shift_payload",
    "shift_send_template",
    "shift_template_payload",
]

Answer = Literal["confirm", "decline"]
_ANSWERS: tuple[Answer, Answer] = ("confirm", "decline")
_PREFIX = "shift"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
MAX_SHIFT_ID = 128
ANSWERED = ("confirmed", "declined")
"""Offer states the contact chose; the others are ``pending`` and ``failed``."""

DEFAULT_BODY = (
    "Olá {{1}}, você confirma que vai assumir o plantão de {{2}} no {{3}}? "
    "Responda pelos botões abaixo."
)


@dataclass(frozen=True, slots=True)
class ShiftTap:
    answer: Answer
    nonce: str
    shift_id: str


def shift_payload(answer: Answer, nonce: str, shift_id: str) -> str:
    if not _NONCE.match(nonce):
        raise ValueError("nonce: 6 to 64 letters, digits, - or _")
    if not shift_id or len(shift_id) > MAX_SHIFT_ID:
        raise ValueError(f"shift id: 1 to {MAX_SHIFT_ID} characters")
    return f"{_PREFIX}:{answer}:{nonce}:{shift_id}"


def parse_payload(payload: str | None) -> ShiftTap | None:
    """The tap a button payload encodes, or None when it is not a shift button."""
    if not payload:
        return None
    parts = payload.split(":", 3)
    if len(parts) != 4 or parts[0] != _PREFIX or parts[1] not in ("confirm", "decline"):
        return None
    _, answer, nonce, shift_id = parts
    if not _NONCE.match(nonce) or not shift_id or len(shift_id) > MAX_SHIFT_ID:
        return None
    return ShiftTap("confirm" if answer == "confirm" else "decline", nonce, shift_id)


def shift_of_purpose(purpose: str) -> str | None:
    """The shift a passcode's purpose names (``shift:V1002`` → ``V1002``), or None: a
    valid code for it confirms that shift's offer, as a tap on "confirm" would."""
    prefix, sep, shift_id = purpose.partition(":")
    if prefix != _PREFIX or not sep or not shift_id or len(shift_id) > MAX_SHIFT_ID:
        return None
    return shift_id


def shift_template_payload(
    name: str,
    language: str = "pt_BR",
    *,
    body: str = DEFAULT_BODY,
    example: Sequence[str] = ("Carla", "01/12 às 19h", "Hospital Santa Clara"),
    confirm_text: str = "Confirmo",
    decline_text: str = "Não posso",
) -> dict[str, Any]:
    """The create-template body: UTILITY, a body, two quick replies (confirm, decline)."""
    for label in (confirm_text, decline_text):
        if not 1 <= len(label) <= 25:
            raise ValueError("a quick-reply button text has 1 to 25 characters")
    return {
        "name": name,
        "language": language,
        "category": "UTILITY",
        "components": [
            {"type": "BODY", "text": body, "example": {"body_text": [list(example)]}},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": confirm_text},
                    {"type": "QUICK_REPLY", "text": decline_text},
                ],
            },
        ],
    }


def shift_send_template(
    name: str, language: str, params: Sequence[str], *, nonce: str, shift_id: str
) -> dict[str, Any]:
    """The send-time ``template``: body parameters and one payload per button."""
    buttons = [
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": str(i),
            "parameters": [{"type": "payload", "payload": shift_payload(answer, nonce, shift_id)}],
        }
        for i, answer in enumerate(_ANSWERS)
    ]
    components: list[dict[str, Any]] = []
    if params:
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}
        )
    return {"name": name, "language": {"code": language}, "components": [*components, *buttons]}


def reoffer_refusal(
    state: str, answered_at: float | None, *, force: bool, tz: dt.tzinfo | None = None
) -> str | None:
    """Why the shift may not be offered to this contact again, or None.

    An answered offer is offered again only when asked for (``force``): otherwise a
    resend would erase the answer.
    """
    if force or state not in ANSWERED:
        return None
    when = "an unknown time" if answered_at is None else local_time(answered_at, tz)
    return (
        f"already {state} at {when}; to ask again, send with force (metad ctl shift send --again)"
    )


def replaces_answer(state: str, *, force: bool) -> bool:
    """Whether a new offer that left makes the offer ``pending`` again.

    A forced re-offer does; an unforced one only when nothing was answered, which may
    have changed while it was being sent (a tap on the previous message): that answer
    stays, and the new message's buttons answer nothing.
    """
    return force or state not in ANSWERED
