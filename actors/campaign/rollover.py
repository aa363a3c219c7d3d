"""When a campaign that a budget cap paused may go on by itself: the cap's period is over.

Why: a day, week or month cap (the fleet's, a WABA's, or one of ``[[budget.campaigns]]``)
pauses
a campaign larger than what the cap allows in one period, say 200,000 messages under
$50 a day. Making the operator resume it every morning is what nobody would do, and the
campaign would sit paused while the cap is fresh again. The pause reason names the
period (the budget's refusal ends with its key, ``day:2026-11-26``); once the current key
of that kind is another, the cap has room again and the coordinator resumes the
campaign. If it is still over (another cap), the next send is refused before any money
moves and it pauses again.

Not resumed: a pause of the campaign's own monthly cap (its file's ``budget_usd``, what
the operator set as the most this campaign may spend in all: a new month has only what
is left of it, see :class:`~actors.budget.values.Registered`), and any pause that is
not the budget's. Pure: reason, time and zone in.
"""

from __future__ import annotations

import re
from typing import Final, cast
from zoneinfo import ZoneInfo

from actors.budget.periods import PeriodKind, period_keys

__all__ = ["period_over"]

_PERIOD: Final = re.compile(r", ((day|week|month):[0-9W-]+)\)$")


def period_over(campaign_id: str, reason: str | None, now: float, tz: ZoneInfo) -> str | None:
    """The period key a budget cap paused the campaign in, once that period is over;
    None when it is not such a pause or the period goes on."""
    if not reason or not reason.startswith("budget:"):
        return None
    if reason.startswith(f"budget: campaign {campaign_id} monthly cap"):
        return None
    found = _PERIOD.search(reason)
    if found is None:
        return None
    key, kind = found.group(1), cast(PeriodKind, found.group(2))
    return key if period_keys(now, tz).of(kind) != key else None
