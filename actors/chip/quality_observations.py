"""What Meta tells us about a number's quality, as :class:`QualityObservation` values.

Why a module of its own: the two sources, ``phone_number_quality_update`` webhooks and
polls of ``GET /{phone_number_id}``, have different shapes and are read at different edges
(the webhook router, the quality poll), while the state machine
(:mod:`actors.chip.quality`) takes one observation type. Anything Meta sends that is not
understood is kept (an unknown status) or mapped to UNKNOWN (a rating), never raised.
"""

from __future__ import annotations

from collections.abc import Mapping

from actors.chip.quality_state import QualityObservation, Rating

__all__ = [
    "normalize_status",
    "observation_from_poll",
    "observation_from_webhook",
    "parse_rating",
]


def parse_rating(raw: object) -> Rating:
    """Meta's ``quality_rating`` string as a Rating; unrecognised values are UNKNOWN."""
    if isinstance(raw, str):
        try:
            return Rating(raw.strip().upper())
        except ValueError:
            pass
    return Rating.UNKNOWN


def normalize_status(raw: object) -> str:
    """Upper-cased, stripped phone status; empty or non-string becomes ``"UNKNOWN"``.

    Kept as a string rather than an enum on purpose: Meta adds statuses, and an unknown
    one must be recorded and journaled as it came (it pauses the chip, see
    :func:`target_mode`), not crash the actor.
    """
    text = raw.strip().upper() if isinstance(raw, str) else ""
    return text or "UNKNOWN"


def _text(raw: object) -> str | None:
    return raw.strip() if isinstance(raw, str) and raw.strip() else None


def observation_from_webhook(value: Mapping[str, object]) -> QualityObservation:
    """Map the ``value`` of a ``phone_number_quality_update`` change to an observation.

    FLAGGED / UNFLAGGED set ``flagged``; DOWNGRADE / UPGRADE (and any event) carry the
    new messaging limit in ``current_limit``. The webhook has no rating: the next poll
    brings it. Note the payload names the number by ``display_phone_number``; mapping it
    to a chip is the router's job.
    """
    event = (_text(value.get("event")) or "").upper()
    flagged = {"FLAGGED": True, "UNFLAGGED": False}.get(event)
    return QualityObservation(
        source="webhook",
        flagged=flagged,
        tier=_text(value.get("current_limit")),
        event=event or None,
    )


def observation_from_poll(body: Mapping[str, object]) -> QualityObservation:
    """Map a ``GET /{phone_number_id}?fields=quality_rating,status,messaging_limit_tier``
    body to an observation; fields absent from the body are not observed."""
    return QualityObservation(
        source="poll",
        rating=parse_rating(body["quality_rating"]) if "quality_rating" in body else None,
        status=normalize_status(body["status"]) if "status" in body else None,
        tier=_text(body.get("messaging_limit_tier")),
    )
