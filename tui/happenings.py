"""The events log's lines for the daemon's happenings, live and from its backlog.

Why apart from the app: the app wires screens, the client and the frame loop; deciding
which happening becomes a line (once, whether it came live, in the ``events.recent``
backlog or both, and one line per mirrored pair: see :mod:`tui.mirrors`) is a set of
rules a reader looks for together, tested without a terminal. The app gives it a way to
run a callback later (the mirror's hold), to deliver a batch of changes to the screens
and to refresh the budget when an alert comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from tui.client import ControlEvent
from tui.inbox import Changes
from tui.mirrors import Mirror, MirrorKey, budget_twin, chip_twin, mirror_of, without_paired
from tui.model import Chip
from tui.state import ConsoleState

__all__ = ["HappeningLog"]

Later = Callable[[float, Callable[[], None]], object]


class HappeningLog:
    def __init__(
        self,
        state: ConsoleState,
        *,
        hold_s: float,
        later: Later,
        deliver: Callable[[Changes], None],
        budget_moved: Callable[[], None],
    ) -> None:
        """``hold_s``: how long a mirror waits for its twin; ``later(delay, callback)``
        runs the end of the hold; ``budget_moved`` refreshes the gauges after an alert."""
        self._state = state
        self._hold_s = hold_s
        self._later = later
        self._deliver = deliver
        self._budget_moved = budget_moved

    def live(self, event: ControlEvent, changes: Changes) -> None:
        """An actor, budget, log, config or tap event from the stream."""
        self._state.note_live(event)
        if not self._state.shown.first_time(event):
            return  # the backlog had it (published after the subscription began)
        mirror = mirror_of(event)
        if mirror is None:
            self._log(event, changes)
        elif not self._state.shown.paired(mirror.key, event.at):
            self._hold(event, mirror, changes)

    def backlog(self, events: Iterable[ControlEvent], now: float) -> Changes:
        """What ``events.recent`` answered: logged once, in time order, after a line that
        says so (none if nothing in it is new)."""
        state = self._state
        fresh = [e for e in state.new_in_backlog(events) if state.shown.first_time(e)]
        news: list[ControlEvent] = []
        changes = Changes()
        for event in without_paired(fresh):
            if not self._shown_twin(event):
                news.append(event)
            elif event.kind == "budget":
                self._log(event, changes)  # no line (its mirror's showed it): its alert
        if not news:
            return changes
        since = time.strftime("%H:%M:%S", time.localtime(news[0].at))
        count = f"{len(news)} earlier event{'' if len(news) == 1 else 's'}"
        text = f"{count} from the daemon, since {since}:"
        changes.entries.append(state.log(now, "info", "console", "console", text))
        for event in news:
            self._log(event, changes)
        return changes

    def chip_detail(self, old: Chip | None, chip: Chip, at: float) -> str | None:
        """What a chip's change line adds: its mirror's cause and reason (held live), ""
        for none, None when its mirror was shown as a line already (no second line)."""
        if old is None or (old.quality_rating, old.mode) == (chip.quality_rating, chip.mode):
            return ""
        key = chip_twin(chip.phone_number_id)
        mirror = self._state.mirrors.take(key)
        if mirror is not None:
            return f" {mirror.detail}" if mirror.detail else ""
        return None if self._state.shown.paired(key, at) else ""

    def _shown_twin(self, event: ControlEvent) -> bool:
        """A mirror or a budget alert whose pair's line was shown already."""
        mirror = mirror_of(event)
        key = mirror.key if mirror is not None else None
        if event.kind == "budget":
            key = budget_twin(event)
        return key is not None and self._state.shown.paired(key, event.at)

    def _log(self, event: ControlEvent, changes: Changes) -> None:
        """A line for ``event`` (none for a pair's second half), and a refresh of the
        budget for an alert."""
        state = self._state
        mirror = mirror_of(event)
        if mirror is not None:
            if state.shown.paired(mirror.key, event.at):
                return
            state.shown.mark(mirror.key, event.at)
        if event.kind == "budget":
            key = budget_twin(event)
            state.mirrors.take(key)  # its mirrored log line, held: dropped
            if state.shown.paired(key, event.at):
                state.budget_alert(event)  # its mirror is the line
            else:
                state.shown.mark(key, event.at)
                entry = state.entry_for_event(event)
                changes.entries.extend(() if entry is None else (entry,))
            changes.budget = True
            self._budget_moved()  # the gauges move with the alert
            return
        entry = state.entry_for_event(event)
        if entry is not None:
            changes.entries.append(entry)

    def _hold(self, event: ControlEvent, mirror: Mirror, changes: Changes) -> None:
        """A mirror waits for its twin; one it displaced is logged now."""
        displaced = self._state.mirrors.hold(event, mirror)
        if displaced is not None:
            self._log(displaced, changes)
        self._later(self._hold_s, lambda: self._unpaired(mirror.key, event))

    def _unpaired(self, key: MirrorKey, event: ControlEvent) -> None:
        """The hold ended: a mirror whose twin never came is logged after all."""
        if self._state.mirrors.release(key, event):
            changes = Changes()
            self._log(event, changes)
            self._deliver(changes)
