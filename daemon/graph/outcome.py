"""What became of one send: accepted, failed (with the reaction), or in doubt.

Why a union and not an exception: every send has exactly one of three fates and the
chip actor must handle all of them (``match`` + ``assert_never``). "In doubt" is its own
case because the Graph API has no idempotency key: after a timeout the message may or
may not have gone, and only a status webhook carrying its ``biz_opaque_callback_data``
can settle it. Re-sending blindly could message a person twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.graph.errors import GraphError, Reaction

__all__ = ["Accepted", "Failed", "InDoubt", "SendOutcome"]


@dataclass(frozen=True, slots=True)
class Accepted:
    """Meta took the message; its fate arrives later on status webhooks."""

    wamid: str
    wa_id: str
    """The recipient's WhatsApp id (may differ from ``to``: Brazil's ninth digit)."""
    message_status: str = "accepted"
    """``accepted`` or ``held_for_quality_assessment``."""


@dataclass(frozen=True, slots=True)
class Failed:
    """Meta (or the network, before anything was sent) refused the message."""

    error: GraphError
    reaction: Reaction


@dataclass(frozen=True, slots=True)
class InDoubt:
    """The request may have reached Meta but no usable answer came back: do not resend."""

    reason: str
    error: GraphError | None = None


SendOutcome = Accepted | Failed | InDoubt
