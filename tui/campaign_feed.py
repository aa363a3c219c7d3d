"""Campaigns from two sources, in order: the progress events and the polled list.

Why: a campaign's figures reach the console two ways, ``campaign.progress`` events on
the stream and the ``campaign.list`` answer (and an action's answer), and neither
carries a stamp of when its figures were taken: the event's ``at`` is when the bus got
it, and the list has none. The two race. The daemon answers a call at once but writes a
subscriber's events in batches (every 10 ms), so a list can overtake an event published
before it was counted; and an event applied while the list is on its way may be newer
than the list. Applied in arrival order, a stale version made the log show transitions
that never happened (a campaign "paused → running" because an event from before the
pause came after the list that showed it paused) and the counts step backwards.

What orders them without a stamp:

- The events are in publication order among themselves (one stream): a later one is
  never older, so once one is taken after a list, those after it are taken as they come.
- Some counts only grow (:data:`GROWING`): a version with any of them lower than
  another's is the older one, with one higher and none lower the newer one.
- A list answer is newer than every event applied before it was asked for, and than the
  list before it (one is asked for at a time): it is taken whatever its counts say, so a
  count that went down after all (a delivered message Meta reports failed) sticks nowhere.

So a list (or an action's answer) leaves a campaign alone when an event for it was
applied while the list was on its way, unless its counts show it newer; and after a
list, an event that is older by its counts, or that says what the campaign was before
the list changed it without being newer by its counts, is stale: dropped, not logged.
A real change it hid shows with the next event or list (a few seconds), never wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.campaigns import Campaign, state_change
from tui.inbox import Changes
from tui.state import ConsoleState

__all__ = ["GROWING", "CampaignFeed", "newer", "older"]

Moves = list[tuple[Campaign | None, Campaign]]

GROWING = ("sent", "delivered", "read", "failed", "skipped", "refused", "dropped", "taps")
"""Counts that never go down for a campaign (pending, in flight and in doubt do; replied
counts open windows, which expire)."""


def older(a: Campaign, b: Campaign) -> bool:
    """Whether ``a``'s figures were taken before ``b``'s: some count that only grows is
    lower."""
    return any(getattr(a, f) < getattr(b, f) for f in GROWING)


def newer(a: Campaign, b: Campaign) -> bool:
    """Whether ``a``'s figures were taken after ``b``'s: none lower, one higher."""
    return not older(a, b) and any(getattr(a, f) > getattr(b, f) for f in GROWING)


@dataclass(slots=True)
class _Track:
    event_at: int = 0
    """The feed's count of progress events when the last one for this campaign applied."""
    listed: Campaign | None = None
    """The version a list (or an answer) set, until an event is taken after it."""
    before: str | None = None
    """The state that list moved the campaign from (what a stale event still says)."""


class CampaignFeed:
    """Applies both sources to ``state.campaigns`` and logs the campaigns' transitions."""

    def __init__(self, state: ConsoleState) -> None:
        self._state = state
        self._events = 0
        self._tracks: dict[str, _Track] = {}

    def mark(self) -> int:
        """Taken before asking for the list (or acting): what :meth:`listed` compares."""
        return self._events

    def progress(self, campaign: Campaign, at: float, changes: Changes) -> None:
        """A ``campaign.progress`` event: applied and logged unless stale."""
        self._events += 1
        track = self._tracks.setdefault(campaign.id, _Track())
        if track.listed is not None:
            if self._stale(campaign, track.listed, track.before):
                return
            track.listed, track.before = None, None
        track.event_at = self._events
        old = self._state.apply_campaign(campaign)
        self._log(old, campaign, at, changes)
        changes.campaigns = True

    def listed(self, campaigns: list[Campaign], mark: int, at: float) -> Changes:
        """A ``campaign.list`` answer, asked for at ``mark``: the campaigns are the ones
        listed, each at its newest version; the changes are logged unless this is the
        first list (where the console starts from, not news)."""
        known = self._state.campaigns_listed
        changes = Changes()
        taken, moved = self._take(campaigns, mark)
        self._state.set_campaigns(taken)
        self._tracks = {c.id: self._tracks.get(c.id, _Track()) for c in taken}
        if known:
            for old, new in moved:
                self._log(old, new, at, changes)
        return changes

    def answered(self, campaign: Campaign, mark: int) -> None:
        """An action's answer (the campaign after a pause, resume or cancel), asked for
        at ``mark``: applied as a list of one, not logged (the console logs the request)."""
        (taken,), _ = self._take([campaign], mark)
        self._state.apply_campaign(taken)

    def _take(self, campaigns: list[Campaign], mark: int) -> tuple[list[Campaign], Moves]:
        """Per campaign listed, the version to keep; and (before, after) for those the
        list's version replaced."""
        held = self._state.campaigns
        out: list[Campaign] = []
        moved: Moves = []
        for new in campaigns:
            old = held.get(new.id)
            track = self._tracks.setdefault(new.id, _Track())
            if old is not None and track.event_at > mark and not newer(new, old):
                out.append(old)  # an event as new or newer came meanwhile
                continue
            if old is not None and old.state != new.state:
                track.before = old.state
            track.listed = new
            out.append(new)
            moved.append((old, new))
        return out, moved

    @staticmethod
    def _stale(event: Campaign, listed: Campaign, before: str | None) -> bool:
        """An event after a list that is older than it, or that says what the campaign
        was before the list changed it and is not newer by its counts."""
        if older(event, listed):
            return True
        return event.state == before and not newer(event, listed)

    def _log(self, old: Campaign | None, new: Campaign, at: float, changes: Changes) -> None:
        """A campaign that started or changed state, whichever source shows it first (the
        other then sees no change)."""
        text = state_change(old, new, known=self._state.campaigns_listed)
        if text is not None:
            changes.entries.append(self._state.log(at, "info", "campaign", new.name, text))
