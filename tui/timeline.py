"""Per chip, over the last hour: quality rating changes and sends per minute.

Why the console keeps it: the daemon streams the current chip (``chip`` events, each with
its rating and its cumulative ``accepted`` count) and no history; the console turns the
stream into minute buckets as it arrives. A snapshot (first connect, or a resync) sets
the counters' baseline and keeps the history: a restarted actor's counter starts again
from zero, which counts as that many new sends, never as a negative.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from tui.model import Chip

__all__ = ["BARS", "MINUTE_S", "QualityTimeline", "RatingChange", "parse_rating_changes", "spark"]

MINUTE_S = 60.0
BARS = "▁▂▃▄▅▆▇█"


def spark(values: Iterable[int]) -> str:
    """One block character per value in eighths of the largest (rounded up, so any send
    shows); a blank for none at all."""
    seq = list(values)
    top = max(seq, default=0)
    if top <= 0:
        return " " * len(seq)
    steps = len(BARS)
    return "".join(" " if v <= 0 else BARS[max(0, -(-v * steps // top) - 1)] for v in seq)


@dataclass(frozen=True, slots=True)
class RatingChange:
    at: float
    phone_number_id: str
    old: str
    new: str


def parse_rating_changes(raw: Iterable[object]) -> list[RatingChange]:
    """The rows of a ``quality.history`` answer; a malformed one is left out."""
    out: list[RatingChange] = []
    for row in raw:
        if not isinstance(row, dict):
            continue
        chip, at = row.get("chip"), row.get("at")
        old, new = row.get("from_rating"), row.get("to_rating")
        if (
            isinstance(chip, str)
            and isinstance(at, int | float)
            and not isinstance(at, bool)
            and isinstance(old, str)
            and isinstance(new, str)
        ):
            out.append(RatingChange(float(at), chip, old, new))
    return out


class QualityTimeline:
    def __init__(self, minutes: int = 60, max_changes: int = 2000) -> None:
        self.minutes = minutes
        self.changes: deque[RatingChange] = deque(maxlen=max_changes)
        self._sends: dict[str, dict[int, int]] = {}
        self._accepted: dict[str, int] = {}
        self._rating: dict[str, str] = {}

    @staticmethod
    def minute(at: float) -> int:
        return int(at // MINUTE_S)

    def baseline(self, chips: Iterable[Chip]) -> None:
        """A snapshot: counters start from here; a rating that moved meanwhile is not a
        change seen (when it happened is unknown), so it only updates the current one."""
        for chip in chips:
            self._accepted[chip.phone_number_id] = chip.accepted
            self._rating[chip.phone_number_id] = chip.quality_rating

    def seed(self, stored: Iterable[RatingChange]) -> int:
        """Rating changes from the chips' journal (``quality.history``), from before the
        console connected: the timeline starts with the last hour instead of the current
        rating. One also seen live (same chip and ratings, within a minute) is not added
        twice, nor one seeded at an earlier connection. Returns how many were added."""
        known = list(self.changes)

        def seen(c: RatingChange) -> bool:
            return any(
                k.phone_number_id == c.phone_number_id
                and (k.old, k.new) == (c.old, c.new)
                and abs(k.at - c.at) < MINUTE_S
                for k in known
            )

        added = [c for c in stored if not seen(c)]
        if added:
            merged = sorted([*known, *added], key=lambda c: c.at)
            self.changes = deque(merged, maxlen=self.changes.maxlen)
        return len(added)

    def observe(self, chip: Chip, at: float) -> None:
        """One chip event at daemon time ``at``."""
        pnid = chip.phone_number_id
        before = self._accepted.get(pnid)
        self._accepted[pnid] = chip.accepted
        if before is not None:
            sent = chip.accepted - before if chip.accepted >= before else chip.accepted
            if sent > 0:
                buckets = self._sends.setdefault(pnid, {})
                minute = self.minute(at)
                if minute not in buckets:
                    for old in [m for m in buckets if m <= minute - self.minutes]:
                        del buckets[old]
                buckets[minute] = buckets.get(minute, 0) + sent
        rating = self._rating.get(pnid)
        self._rating[pnid] = chip.quality_rating
        if rating is not None and rating != chip.quality_rating:
            self.changes.append(RatingChange(at, pnid, rating, chip.quality_rating))

    def sends_per_minute(self, pnid: str, now: float, minutes: int) -> list[int]:
        """Oldest first, the last one the current (partial) minute."""
        buckets = self._sends.get(pnid, {})
        end = self.minute(now)
        return [buckets.get(m, 0) for m in range(end - minutes + 1, end + 1)]

    def fleet_per_minute(self, now: float, minutes: int) -> list[int]:
        end = self.minute(now)
        totals = [0] * minutes
        for buckets in self._sends.values():
            for m, count in buckets.items():
                i = m - (end - minutes + 1)
                if 0 <= i < minutes:
                    totals[i] += count
        return totals

    def changes_of(self, pnid: str) -> list[RatingChange]:
        return [c for c in self.changes if c.phone_number_id == pnid]

    def ratings_per_minute(self, pnid: str, now: float, minutes: int) -> list[str]:
        """The rating at the end of each minute (oldest first): the current one, walked
        back through the changes seen; before the first change, the rating it left."""
        end = self.minute(now)
        current = self._rating.get(pnid, "UNKNOWN")
        changes = self.changes_of(pnid)
        out: list[str] = []
        for m in range(end - minutes + 1, end + 1):
            boundary = (m + 1) * MINUTE_S
            before = [c for c in changes if c.at < boundary]
            if before:
                out.append(before[-1].new)
            elif changes:
                out.append(changes[0].old)
            else:
                out.append(current)
        return out
