"""Which caps apply to a scope: the configured ones and those a campaign brings itself.

Why apart from the ledger's rules (:mod:`actors.budget.ledger`): a campaign's caps come
from two sources. The configuration's ``[budget]`` tables (:meth:`CapBook.configure`)
and, while it runs, the campaign itself (:meth:`CapBook.register`: its file's
``budget_usd``). Neither replaces the other: per period, the tightest of the two applies
(:meth:`~actors.budget.values.Caps.tightest`), and withdrawing one leaves the other.

And a campaign's ``budget_usd`` is what it may spend in all, while the ledger only knows
periods: the runner registers what is left of it as the campaign's monthly cap, pinned
to the month it was counted for (:class:`~actors.budget.values.Registered`). In another
month the campaign's paid sends are refused as to be recounted (:meth:`CapBook.recount`)
until it registers again, so it neither gets its budget afresh nor runs on last month's
figure.

Caps are configuration, not journal: the book is filled again after a restart, before
the journal is replayed. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable

from actors.budget.books import Capped
from actors.budget.periods import PERIODS
from actors.budget.values import GLOBAL, NO_CAPS, Caps, Scope

__all__ = ["CapBook"]


class CapBook:
    """The caps of every scope, as configured, as registered, and as they apply.

    The global scope always has an entry (``Caps()`` when uncapped); other scopes only
    while something caps them."""

    __slots__ = ("_caps", "_configured", "_pins", "_registered")

    def __init__(self, caps: Caps = NO_CAPS) -> None:
        self._configured: dict[Scope, Caps] = {GLOBAL: caps}
        """Caps from the configuration (:meth:`configure`)."""
        self._registered: dict[Scope, Caps] = {}
        """Caps a running campaign brings (:meth:`register`: its file's budget)."""
        self._pins: dict[str, str] = {}
        """Campaign id -> the month key its registered caps were counted for."""
        self._caps: dict[Scope, Caps] = {GLOBAL: caps}
        """What applies: per scope and period, the tightest of the two above."""

    def of(self, scope: Scope) -> Caps:
        """The caps that apply to ``scope`` (``Caps()`` when none)."""
        return self._caps.get(scope, NO_CAPS)

    def configure(self, scope: Scope, caps: Caps) -> None:
        """Set (or with ``Caps()`` clear) the configured caps of ``scope``."""
        self._put(self._configured, scope, caps)

    def register(self, scope: Scope, caps: Caps, *, month: str | None = None) -> None:
        """Set (or with ``Caps()`` withdraw) the caps a campaign brings itself; ``month``
        (a month key, ``month:2026-11``): they were counted for that month only."""
        self._put(self._registered, scope, caps)
        if month is None or caps == NO_CAPS:
            self._pins.pop(scope.id, None)
        else:
            self._pins[scope.id] = month

    def capped(self, scope: Scope) -> Capped:
        """The periods ``scope`` has a cap for: (kind, index in ``PERIODS``, cap)."""
        caps = self._caps.get(scope)
        if caps is None:
            return ()
        return tuple(
            (kind, i, cap) for i, kind in enumerate(PERIODS) if (cap := caps.of(kind)) is not None
        )

    def scopes(self) -> Iterable[Scope]:
        """The scopes with caps that apply (the global scope always among them)."""
        return self._caps.keys()

    def recount(self, campaign: str, month_key: str) -> bool:
        """Whether ``campaign``'s registered caps were counted for a month other than
        ``month_key``: its paid sends wait until it registers them again. Cheap when no
        campaign is pinned (a send's path asks it each time)."""
        pins = self._pins
        if not pins:
            return False
        pinned = pins.get(campaign)
        return pinned is not None and pinned != month_key

    def _put(self, layer: dict[Scope, Caps], scope: Scope, caps: Caps) -> None:
        if caps == NO_CAPS and scope != GLOBAL:
            layer.pop(scope, None)
        else:
            layer[scope] = caps
        applied = self._configured.get(scope, NO_CAPS).tightest(
            self._registered.get(scope, NO_CAPS)
        )
        if applied == NO_CAPS and scope != GLOBAL:
            self._caps.pop(scope, None)
        else:
            self._caps[scope] = applied
