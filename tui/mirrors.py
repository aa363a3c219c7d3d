"""Log lines the daemon also publishes as a structured event: one line in the console.

Why: the daemon mirrors every warning it logs onto the bus as a ``log`` event, and two
of its warnings announce what it publishes as an event of its own too: a budget alert
(``budget alert: …`` from ``metad.budget``, then the ``budget`` event) and a chip's
rating falling (``chip … quality …`` from ``metad.chip``, then the ``chip`` event,
within a second). The events log showed each twice.

The structured event's line is kept (its source and level say more), and the mirror is
held until it comes: then the mirror is dropped, a chip line taking the mirror's cause
and reason, which the chip event has not got. A mirror whose twin never comes is logged
after all once its hold ends (another daemon of the fleet announced the alert, or the
connection ended before the chip event), so nothing is lost.

The daemon's backlog (``events.recent``) keeps both of a budget alert's pair but never a
chip event: there a mirror is left out when its twin is in the same batch.

Across a reconnection the same happening can come twice and a pair can be split: what
the daemon published after the new subscription began is both in the backlog and live,
and a pair straddling the subscription has one half in each (the mirror only in the
backlog, its twin in both). Pairing within one batch, or within the live stream, misses
these, so :class:`Shown` remembers, for the console's whole life (never reset by a
reconnection): which happenings were logged, by identity (the same bus event has the
same kind, stamp and data in both copies), and when a line was last shown per pairing
key, so a mirror and its twin make one line whichever comes first and from wherever.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass

from tui.client import ControlEvent

__all__ = ["PAIR_WINDOW_S", "HappeningId", "HeldMirrors", "Mirror", "MirrorKey", "Shown",
           "budget_twin", "chip_twin", "happening_id", "mirror_of", "without_paired"]  # fmt: skip

MirrorKey = tuple[str, str]
"""What pairs a mirror with its twin: ("budget", the alert's message) or ("chip", id)."""
HappeningId = tuple[str, float, str]
"""One bus event: its kind, its stamp and its data (as canonical JSON)."""

PAIR_WINDOW_S = 30.0
"""A mirror and its twin are stamped this close at most (the daemon's clock): a budget
alert's within a millisecond, a chip's rating change within the chip poll (1 s)."""

BUDGET_ALERT = "budget alert: "
_CHIP_QUALITY = re.compile(r"^chip (?P<pnid>\S+) quality \S+ → \S+ (?P<detail>\(.*)$", re.S)
"""``chip <id> quality A/MODE → B/MODE (<cause>): <reason>`` (actors.chip.actor)."""


@dataclass(frozen=True, slots=True)
class Mirror:
    key: MirrorKey
    detail: str = ""
    """What the mirror says that its twin's line does not (a rating change's cause)."""


def mirror_of(event: ControlEvent) -> Mirror | None:
    """The pairing of a ``log`` event that mirrors a structured one; None for any other."""
    if event.kind != "log":
        return None
    logger, message = str(event.data.get("logger", "")), str(event.data.get("message", ""))
    if logger == "metad.budget" and message.startswith(BUDGET_ALERT):
        return Mirror(("budget", message.removeprefix(BUDGET_ALERT)))
    if logger == "metad.chip" and (match := _CHIP_QUALITY.match(message)):
        return Mirror(("chip", match["pnid"]), match["detail"])
    return None


def budget_twin(event: ControlEvent) -> MirrorKey:
    """The key a ``budget`` event pairs with its mirror by."""
    return ("budget", str(event.data.get("message", "")))


def chip_twin(phone_number_id: str) -> MirrorKey:
    """The key a chip's rating or mode change pairs with its mirror by."""
    return ("chip", phone_number_id)


def without_paired(events: list[ControlEvent]) -> list[ControlEvent]:
    """A backlog batch without the mirrors whose twin is in it."""
    twins = {budget_twin(e) for e in events if e.kind == "budget"}
    return [e for e in events if (m := mirror_of(e)) is None or m.key not in twins]


class HeldMirrors:
    """Mirrors received live, waiting for their twin (one per key: a newer mirror of the
    same key displaces the older, which is then logged)."""

    def __init__(self) -> None:
        self._held: dict[MirrorKey, tuple[ControlEvent, Mirror]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, event: ControlEvent, mirror: Mirror) -> ControlEvent | None:
        """Hold ``event``; the one it displaced, to be logged now, if any."""
        before = self._held.get(mirror.key)
        self._held[mirror.key] = (event, mirror)
        return before[0] if before is not None else None

    def take(self, key: MirrorKey) -> Mirror | None:
        """The twin of ``key`` came: the mirror held for it (now dropped), if any."""
        held = self._held.pop(key, None)
        return held[1] if held is not None else None

    def release(self, key: MirrorKey, event: ControlEvent) -> bool:
        """``event``'s hold ended: True if it is still held (its twin never came), and
        it is no longer."""
        held = self._held.get(key)
        if held is None or held[0] is not event:
            return False
        del self._held[key]
        return True


def happening_id(event: ControlEvent) -> HappeningId:
    """What is the same for a bus event in the backlog and live (both copies are encoded
    from the one event by the daemon)."""
    data = json.dumps(event.data, sort_keys=True, separators=(",", ":"), default=str)
    return (event.kind, event.at, data)


class Shown:
    """What the log has shown, kept across reconnections (bounded)."""

    def __init__(self, max_ids: int = 4096, max_keys: int = 4096) -> None:
        self._ids: OrderedDict[HappeningId, None] = OrderedDict()
        self._keys: OrderedDict[MirrorKey, float] = OrderedDict()
        self._max_ids = max_ids
        self._max_keys = max_keys

    def first_time(self, event: ControlEvent) -> bool:
        """True the first time ``event`` is offered (live or in a backlog), then False."""
        ident = happening_id(event)
        if ident in self._ids:
            return False
        self._ids[ident] = None
        if len(self._ids) > self._max_ids:
            self._ids.popitem(last=False)
        return True

    def paired(self, key: MirrorKey, at: float) -> bool:
        """Whether a line of ``key`` (a mirror or its twin) was shown for a happening
        stamped ``at``, within :data:`PAIR_WINDOW_S`."""
        last = self._keys.get(key)
        return last is not None and abs(at - last) <= PAIR_WINDOW_S

    def mark(self, key: MirrorKey, at: float) -> None:
        """A line of ``key`` was shown for a happening stamped ``at``."""
        self._keys.pop(key, None)
        self._keys[key] = at
        if len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)
