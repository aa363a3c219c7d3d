"""Campaigns from two sources, the newest figures shown: progress events and the list.

Why: a campaign's figures reach the console two ways, ``campaign.progress`` events on
the stream and the ``campaign.list`` answer (or an action's answer), and the two race.
The daemon answers a call at once but writes a subscriber's events in batches (every
10 ms), so a list can overtake an event published before it, and an event can come while
a list is on its way with figures newer than the list's. Applied in arrival order, a
stale version logged transitions that never happened (a campaign "paused → running"
because an event from before the pause came after the list that showed it paused) and
stepped the counts back.

The rule: the daemon stamps every version with ``as_of``, when its figures were taken
(``CampaignCoordinator.status``: a later stamp never shows older figures). The console
shows, per campaign, the version with the latest stamp so far: one stamped earlier than
the version shown is stale, neither applied nor logged; one stamped the same or later is
applied and its transition logged, whichever source brings it (an action's answer is
not logged: the console logs the request). A version without a stamp (an older
daemon's), or for a campaign shown without one, is applied as it comes.
"""

from __future__ import annotations

from tui.campaigns import Campaign, state_change
from tui.inbox import Changes
from tui.state import ConsoleState

__all__ = ["CampaignFeed", "stale"]


def stale(new: Campaign, shown: Campaign | None) -> bool:
    """Whether ``new``'s figures were taken before those of the version shown (never
    when either has no stamp: then arrival order is all there is)."""
    if shown is None or new.as_of is None or shown.as_of is None:
        return False
    return new.as_of < shown.as_of


class CampaignFeed:
    """Applies both sources to ``state.campaigns`` and logs the campaigns' transitions."""

    def __init__(self, state: ConsoleState) -> None:
        self._state = state

    def progress(self, campaign: Campaign, at: float, changes: Changes) -> None:
        """A ``campaign.progress`` event: applied and logged unless stale."""
        old = self._state.campaigns.get(campaign.id)
        if stale(campaign, old):
            return
        self._state.apply_campaign(campaign)
        self._log(old, campaign, at, changes)
        changes.campaigns = True

    def listed(self, campaigns: list[Campaign], at: float) -> Changes:
        """A ``campaign.list`` answer: the campaigns are the ones listed, each at its
        newest version; the changes are logged unless this is the first list (where the
        console starts from, not news)."""
        known = self._state.campaigns_listed
        held = self._state.campaigns
        changes = Changes()
        taken: list[Campaign] = []
        for new in campaigns:
            old = held.get(new.id)
            if old is not None and stale(new, old):
                taken.append(old)
                continue
            taken.append(new)
            if known:
                self._log(old, new, at, changes)
        self._state.set_campaigns(taken)
        return changes

    def answered(self, campaign: Campaign) -> None:
        """An action's answer (the campaign after a pause, resume or cancel): applied
        unless stale, not logged (the console logs the request)."""
        if not stale(campaign, self._state.campaigns.get(campaign.id)):
            self._state.apply_campaign(campaign)

    def _log(self, old: Campaign | None, new: Campaign, at: float, changes: Changes) -> None:
        """A campaign that started or changed state, whichever source shows it first (the
        other then sees no change)."""
        text = state_change(old, new, known=self._state.campaigns_listed)
        if text is not None:
            changes.entries.append(self._state.log(at, "info", "campaign", new.name, text))
