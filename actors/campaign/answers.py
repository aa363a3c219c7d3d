"""What a chip's answer to a campaign send means for the recipient, and where it waits.

Why a module of its own: the recipient rows only ever say "handed to chip X", "refused
because …" or, for a claimed recipient, "pending again"; which of these a chip's answer
(:data:`~actors.chip.messages.SendResult`) means is a pure rule (:func:`recipient_mark`),
checked without a running campaign. A duplicate counts as handed: the outbox row of the
first hand-over is the truth (see :mod:`actors.campaign.runner`). :class:`QueuedAnswer` is
the reply slot a send carries so that the runner collects all answers in one task instead
of one task or channel per recipient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import outcome

from actors.chip.messages import Refused, SendResult, Sent, Uncertain
from actors.core import ReplyTo

__all__ = ["TRANSIENT", "Mark", "PauseCampaign", "QueuedAnswer", "recipient_mark"]

Mark: TypeAlias = tuple[str, str, str | None, str | None]
"""(recipient key, new state, reason, chip), as the store's ``mark`` takes them."""

TRANSIENT = (
    "daemon stopping",
    "chip is draining",
    "chip paused",
    "messaging-limit tier reached",
    "budget unavailable",
)
"""Refusals that say "not now, not here": the recipient stays pending for another chip
or a later pass. A chip paused (by the operator, its quality, or an error such as a
revoked token) after the runner's last look at the fleet refuses what it is handed (and
cancels what it queued, before any POST): those recipients go to a healthy chip."""


@dataclass(frozen=True, slots=True)
class PauseCampaign:
    """The answer says a budget cap would be crossed: the campaign stops here.
    ``mark``: what the refused recipient becomes (a claimed one is given back as
    pending; left "handed" behind its cancelled row, it counted as in flight for as
    long as the campaign stayed paused)."""

    reason: str
    mark: Mark | None = None


def recipient_mark(
    key: str, pnid: str, result: SendResult, *, claimed: bool
) -> Mark | PauseCampaign | None:
    """The mark for recipient ``key`` after chip ``pnid`` answered ``result``; None when
    the row stays as it is (a transient refusal of a recipient read in file order: a later
    pass hands it over again). ``claimed``: the recipient was claimed (several daemons
    share the campaign), so a transient refusal gives it back as pending for any daemon."""
    match result:
        case Sent() | Uncertain():
            return (key, "handed", None, pnid)
        case Refused(reason=reason):
            if reason.startswith("duplicate"):
                return (key, "handed", None, pnid)
            if reason.startswith(TRANSIENT):
                return (key, "pending", None, None) if claimed else None
            if reason.startswith("budget:"):  # a cap would be crossed: stop here
                return PauseCampaign(reason, (key, "pending", None, None) if claimed else None)
            return (key, "refused", reason, pnid)


class QueuedAnswer(ReplyTo[SendResult]):
    """A send's reply slot that hands the chip's answer to ``on_answer`` (the runner's
    queue) instead of waking a waiting task: one collector task takes them all."""

    __slots__ = ("deadline", "key", "on_answer", "pnid", "result")

    def __init__(
        self,
        on_answer: Callable[[QueuedAnswer], None],
        key: str,
        pnid: str,
        deadline: float,
    ) -> None:
        # ReplyTo's event is not made: the answer goes to ``on_answer`` instead.
        self.answered = False
        self.on_answer = on_answer
        self.key = key
        self.pnid = pnid
        self.deadline = deadline
        self.result: outcome.Outcome[SendResult] | None = None

    def _put(self, result: outcome.Outcome[SendResult]) -> None:
        if self.answered:
            return
        self.answered = True
        self.result = result
        self.on_answer(self)
