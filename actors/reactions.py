"""What the fleet does about a failed Graph API call: one value per kind of reaction.

Why it lives in ``actors``: the chip actor decides what to do with a failed send, but
must not know Graph error codes or import the client (``daemon.graph``). The client maps
every code to one of these values in its single table (``daemon.graph.errors``); the
actor acts on the value.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["Reaction"]


class Reaction(enum.StrEnum):
    """What the daemon does about a failed call; one value per row kind of the table."""

    RETRY_BACKOFF = "retry_backoff"
    """Transient trouble at Meta: retry the same request later, with backoff."""
    BACKOFF_API = "backoff_api"
    """App or WABA management rate limit: slow down management calls (not sends)."""
    SLOW_CHIP = "slow_chip"
    """Throughput exceeded: lower the chip's send rate, retry with backoff."""
    RETRY_RECIPIENT_LATER = "retry_recipient_later"
    """Pair rate limit: retry this recipient after at least 6 s; others are unaffected."""
    PAUSE_CHIP = "pause_chip"
    """The number may not send (spam limit, unregistered, policy block): pause it, alert."""
    FALLBACK_TEMPLATE = "fallback_template"
    """Outside the 24 h window: send a template instead of free-form content."""
    TEMPLATE_UNUSABLE = "template_unusable"
    """The template is missing, paused or disabled in this WABA: stop using it there."""
    STOP_TOKEN = "stop_token"
    """Auth failed or token expired: stop every chip using this token, alert."""
    STOP_ACTION = "stop_action"
    """A permission or capability is missing: stop this kind of action, alert."""
    STOP_WABA = "stop_waba"
    """The business account is locked: stop the WABA, alert."""
    STOP_PAID_SENDS = "stop_paid_sends"
    """Payment problem: stop billable sends (free in-window replies may go on), alert."""
    FIX_REQUEST = "fix_request"
    """The request itself is wrong (parameters, template mapping, payload): never retry it
    as is; record it so the mapping or content gets fixed."""
    GIVE_UP_RECIPIENT = "give_up_recipient"
    """The recipient cannot be reached (not on WhatsApp, old app, experiment, country
    restriction): do not retry this message; mark the contact."""
    DEFER_RECIPIENT = "defer_recipient"
    """Marketing frequency cap for this user: do not retry to them for about 24 h."""
    OPTED_OUT = "opted_out"
    """The user stopped marketing messages: mark them opted out of marketing."""

    @property
    def retryable(self) -> bool:
        """True when sending the same request again later may succeed."""
        return self in _RETRYABLE

    @property
    def alerts(self) -> bool:
        """True when an operator must be told (the fleet cannot fix this by itself)."""
        return self in _ALERTING


_RETRYABLE: Final = frozenset(
    {
        Reaction.RETRY_BACKOFF,
        Reaction.BACKOFF_API,
        Reaction.SLOW_CHIP,
        Reaction.RETRY_RECIPIENT_LATER,
        Reaction.DEFER_RECIPIENT,
    }
)
_ALERTING: Final = frozenset(
    {
        Reaction.PAUSE_CHIP,
        Reaction.STOP_TOKEN,
        Reaction.STOP_ACTION,
        Reaction.STOP_WABA,
        Reaction.STOP_PAID_SENDS,
    }
)
