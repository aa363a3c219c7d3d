"""Campaigns as the console shows them: progress, counts, cost and what may be done next.

The wire shape is the coordinator's: ``campaign.list`` answers a list of dicts (id,
name, state, total, pending, in_flight, sent, delivered, read, replied, failed, skipped,
refused, dropped, in_doubt, cost_usd, eta_s, taps, reason, waiting, in_doubt_overdue,
as_of) and each ``campaign.progress`` event carries one such dict. States are the
store's: draft, running, paused, cancelled, finished. ``as_of`` (epoch seconds) is when
the daemon took the figures: what orders the two sources (:mod:`tui.campaign_feed`).

How the counts add up (``daemon.store.campaigns.PROGRESS_SQL``): every recipient is in
exactly one of pending, in_flight, sent, in_doubt, skipped, refused and dropped, so they
sum to the total. ``sent`` counts what Meta took, failed ones included: ``failed`` (like
delivered and read) is a part of ``sent``, never added to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tui.wire import as_float, as_int, as_optional_float, as_str

__all__ = ["ACTIONS", "RESOLUTIONS", "Campaign", "InDoubt", "parse_campaigns", "state_change"]

FINAL_STATES = frozenset({"cancelled", "finished"})

ACTIONS: dict[str, tuple[str, str]] = {
    "pause": ("Pause", "It stops handing messages to chips; those already handed finish."),
    "resume": ("Resume", "It hands out the rest of its audience again."),
    "cancel": ("Cancel", "It stops for good: the messages not yet handed are never sent."),
}
"""Verb → (button label, what it does), for the confirmation dialog."""


RESOLUTIONS: dict[str, tuple[str, str]] = {
    "resend": (
        "Resend",
        "A crash left it in doubt: Meta may have it already, so the contact may get it twice.",
    ),
    "drop": ("Drop", "It is given up: never sent again, its budget released."),
}
"""The operator's answers for a message in doubt (``campaign.resolve``)."""


@dataclass(frozen=True, slots=True)
class InDoubt:
    """A message a crash left in doubt, past its hold: the operator resends or drops it."""

    recipient: str
    outbox_id: int
    chip: str


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    name: str = ""
    state: str = ""
    total: int = 0
    pending: int = 0
    in_flight: int = 0
    sent: int = 0
    """Taken by Meta, failed ones included."""
    delivered: int = 0
    read: int = 0
    replied: int = 0
    failed: int = 0
    skipped: int = 0
    refused: int = 0
    """Refused by the chip for good (not a transient refusal, which is tried again)."""
    dropped: int = 0
    """In doubt after a crash, and given up by the operator."""
    in_doubt: int = 0
    cost_usd: float = 0.0
    eta_s: float | None = None
    taps: int = 0
    reason: str = ""
    """Why it stopped or was paused, when it says."""
    waiting: str = ""
    """What it waits for now (quiet hours, a template…), when it waits."""
    overdue: tuple[InDoubt, ...] = ()
    """Messages in doubt past their hold, oldest first (at most 50)."""
    as_of: float | None = None
    """When the daemon took these figures (epoch seconds); None from an older daemon."""

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> Campaign:
        raw_id = doc.get("id")
        if not isinstance(raw_id, str | int) or isinstance(raw_id, bool) or str(raw_id) == "":
            raise ValueError("a campaign without id")
        return cls(
            id=str(raw_id),
            name=as_str(doc, "name", str(raw_id)),
            state=as_str(doc, "state").lower(),
            total=as_int(doc, "total"),
            pending=as_int(doc, "pending"),
            in_flight=as_int(doc, "in_flight"),
            sent=as_int(doc, "sent"),
            delivered=as_int(doc, "delivered"),
            read=as_int(doc, "read"),
            replied=as_int(doc, "replied"),
            failed=as_int(doc, "failed"),
            skipped=as_int(doc, "skipped"),
            refused=as_int(doc, "refused"),
            dropped=as_int(doc, "dropped"),
            in_doubt=as_int(doc, "in_doubt"),
            cost_usd=as_float(doc, "cost_usd"),
            eta_s=as_optional_float(doc, "eta_s"),
            taps=as_int(doc, "taps"),
            reason=as_str(doc, "reason"),
            waiting=as_str(doc, "waiting"),
            overdue=_overdue(doc.get("in_doubt_overdue")),
            as_of=as_optional_float(doc, "as_of"),
        )

    @property
    def done(self) -> int:
        """Recipients dealt with: all but those pending or in flight, i.e. sent (failed
        ones included), in doubt, skipped, refused or dropped. Summed explicitly, so a
        daemon that sends no ``pending`` does not look finished."""
        dealt = self.sent + self.in_doubt + self.skipped + self.refused + self.dropped
        return min(self.total, dealt)

    @property
    def progress(self) -> float:
        if self.total <= 0:
            return 1.0 if self.state == "finished" else 0.0
        return self.done / self.total

    def can(self, verb: str) -> bool:
        """Whether ``verb`` (pause, resume, cancel) makes sense in this state."""
        if verb == "pause":
            return self.state == "running"
        if verb == "resume":
            return self.state == "paused"
        if verb == "cancel":
            return self.state not in FINAL_STATES
        return False


def state_change(old: Campaign | None, new: Campaign, *, known: bool) -> str | None:
    """The event log's line for a campaign's state, or None when nothing happened.

    ``known``: the console had the daemon's campaigns before (a ``campaign.list``
    answer); only then is a campaign it has not seen a new one: a campaign seen first
    running is one that started (the list answered at connecting is not news, nor a
    progress report that comes before it)."""
    if old is None:
        return "started" if known and new.state == "running" else None
    if old.state != new.state:
        return f"{old.state} → {new.state}"
    return None


def _overdue(raw: object) -> tuple[InDoubt, ...]:
    items = raw if isinstance(raw, list) else []
    return tuple(
        InDoubt(as_str(i, "recipient"), as_int(i, "outbox_id"), as_str(i, "chip"))
        for i in items
        if isinstance(i, dict) and as_str(i, "recipient")
    )


def parse_campaigns(doc: object) -> list[Campaign]:
    """A ``campaign.list`` answer; entries without an id are skipped."""
    rows = doc.get("campaigns") if isinstance(doc, dict) else doc
    out: list[Campaign] = []
    for raw in rows if isinstance(rows, list) else ():
        if isinstance(raw, dict):
            try:
                out.append(Campaign.from_wire(raw))
            except ValueError:
                continue
    return out
