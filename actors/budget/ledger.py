"""Budget ledger: caps per day, week and month in the configured zone, as a send gate.

Why this module exists: the system metad replaces checked only a daily budget, on
server-local/UTC dates, once an hour, re-sent its Slack alert every hour once over 80 %,
had weekly/monthly tiers nobody called, and never blocked a send at "block"
(behaviour.md 7.6-7.7, 15.4 #23). Here the budget is a pre-send gate:

* **Periods** are local to the configured zone (America/Sao_Paulo by default): a day
  starts at local midnight, a week on Monday (ISO weeks, so the week of 2026-12-31 is
  ``2026-W53`` and runs into January), a month on the 1st.
  :func:`~actors.budget.periods.period_keys` names them
  (``day:2026-11-25``, ``week:2026-W48``, ``month:2026-11``).
* **Scopes**: every send counts in the global scope and, when given, in its WABA's and
  its campaign's. Each scope may have daily / weekly / monthly caps (:class:`Caps`);
  usage is tracked for every scope even without caps, for reports.
* **Reserve, then settle or release**: a paid send first :meth:`Ledger.reserve` s its
  estimated cost. The reservation checks ``spent + reserved + amount <= cap`` for every
  cap that applies and books all of them, or refuses naming the first cap it would
  cross and books nothing. A failed send :meth:`Ledger.release` s its reservation; the
  pricing webhook :meth:`Ledger.settle` s it at Meta's real price.
* **Concurrency**: the ledger is plain synchronous state owned by one coordinator actor,
  which serialises requests from all chips; each call checks and books in one step with
  nothing in between, so any number of chips reserving "at once" can never push a cap
  over. There is no lock because there is nothing to interleave.
* **Alerts** at ``alert_at`` fractions of each cap fire once per (scope, period,
  threshold): the usage (spent + reserved) reaching a threshold fires it, falling back
  under it and rising again in the same period does not, the next period starts afresh.
  100 % is always among the thresholds, whatever the config lists: reaching a cap is
  when sends start being refused, which the operator must hear about
  (:mod:`actors.budget.thresholds`).
* **Journal**: every change returns the :class:`LedgerEntry` to persist; a new ledger
  with the same caps rebuilds the same state (alert marks included) by
  :meth:`Ledger.replay` of the entries in order.

Settlement may overshoot a cap. Meta has already charged the message when the pricing
webhook arrives, so the ledger records what was spent even when the real price (a
recategorised template, an authentication-international rate, a window that closed in
flight) is above the estimate and the total then passes the cap. Refusing to record it
would make the ledger lie and let more sends through; recorded, the overrun is visible
(:attr:`Settlement.over_cap`, the 100 % alert) and every further paid send in that period
is refused. The overshoot is bounded by the estimate errors of the messages in flight.

A message belongs to the periods of its reservation (when it was sent), even when its
webhook arrives after midnight: the cap is about what we chose to spend in a period.

What the ledger holds (a bucket per scope and period, an item per message) and its
checkpoint form are :mod:`actors.budget.books`; which caps apply to a scope (configured,
and registered by a running campaign for one month) is :mod:`actors.budget.caps`.

Pure: no I/O, no clock. ``now`` is epoch seconds (float, UTC) as everywhere in actors;
the zone turns it into local periods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from actors.budget import books
from actors.budget.books import Bucket, BucketKey, Item, Route, key_seq
from actors.budget.caps import CapBook
from actors.budget.periods import PERIODS, PeriodKind, period_bounds, period_keys
from actors.budget.thresholds import DEFAULT_ALERT_AT, fire, fire_routes, thresholds
from actors.budget.values import (
    GLOBAL,
    NO_CAPS,
    ZERO,
    Alert,
    CapRef,
    Caps,
    LedgerEntry,
    Refusal,
    Release,
    Reservation,
    Scope,
    Settlement,
    Usage,
    money,
)
from config.model import BudgetConfig

__all__ = ["DEFAULT_ALERT_AT", "RETAIN_SETTLED_S", "UNPRICED_SETTLE_S", "Ledger"]

RETAIN_SETTLED_S: Final = 8 * 86400.0
"""How long :meth:`Ledger.prune` keeps settled messages: longer than Meta's 7 days of
webhook retries, so a late duplicate status adjusts the message instead of counting it
twice."""
UNPRICED_SETTLE_S: Final = 8 * 86400.0
"""The default of ``[budget] unpriced_settle_days`` (:attr:`Ledger.unpriced_settle_s`)."""


# --------------------------------------------------------------------------- the ledger


_ROUTES_MAX: Final = 4096
"""Bound on the remembered (waba, campaign) pairs; campaigns come and go."""


class Ledger:
    """Budget state of the whole fleet; owned and serialised by one coordinator actor.

    Build it with the global caps (:meth:`from_config`), add WABA and campaign caps with
    :meth:`set_caps`, :meth:`replay` the journal, then serve :meth:`reserve`,
    :meth:`release` and :meth:`settle`.
    """

    __slots__ = (
        "_buckets",
        "_caps",
        "_items",
        "_routes",
        "_thresholds",
        "_tz",
        "_unsettled",
        "unpriced_settle_s",
    )

    def __init__(
        self,
        *,
        tz: ZoneInfo,
        caps: Caps = NO_CAPS,
        alert_at: Iterable[Decimal | float] = DEFAULT_ALERT_AT,
        unpriced_settle_s: float = UNPRICED_SETTLE_S,
    ) -> None:
        self._tz = tz
        self.unpriced_settle_s = unpriced_settle_s
        """How long a reservation of a message Meta accepted waits for its price before
        the reconciliation settles it at its estimate (:func:`~actors.budget.reconcile.
        to_settle`, :meth:`settle_estimate`)."""
        self._caps = CapBook(caps)
        """Configured caps (:meth:`set_caps`), those a running campaign brings
        (:meth:`register_caps`), and what applies."""
        self._thresholds = thresholds(alert_at)
        self._buckets: dict[BucketKey, Bucket] = {}
        self._items: dict[str, Item] = {}
        self._unsettled: dict[str, Item] = {}
        """The items still reserved (neither settled nor released): a few in flight, and
        those the reconciliation is looking for, so it need not walk days of messages."""
        # The scopes and set caps of a (waba, campaign) pair, so a message does not
        # rebuild Scope objects and look its caps up each time. Caps change only through
        # set_caps and register_caps, which forget them.
        self._routes: dict[tuple[str | None, str | None], tuple[Route, ...]] = {}

    @classmethod
    def from_config(cls, cfg: BudgetConfig, tz: ZoneInfo | str) -> Ledger:
        """Global, per-WABA and per-campaign caps and the thresholds of ``[budget]``,
        periods in ``tz`` (the config's ``timezone``). 100 % is added to ``alert_at``
        (see the module docstring)."""
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        ledger = cls(
            tz=zone,
            caps=Caps.from_config(cfg),
            alert_at=cfg.alert_at,
            unpriced_settle_s=cfg.unpriced_settle_days * 86400.0,
        )
        for waba in cfg.wabas:
            ledger.set_caps(Scope.waba(waba.waba), Caps.from_config(waba))
        for campaign in cfg.campaigns:
            ledger.set_caps(Scope.campaign(campaign.campaign), Caps.from_config(campaign))
        return ledger

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def thresholds(self) -> tuple[Decimal, ...]:
        """Alert fractions, ascending, 1 always last."""
        return self._thresholds

    def caps(self, scope: Scope) -> Caps:
        return self._caps.of(scope)

    def set_caps(self, scope: Scope, caps: Caps) -> None:
        """Set (or with ``Caps()`` clear) the caps of ``scope``.

        Caps are configuration, not journal: set them again before :meth:`replay` after
        a restart. Lowering a cap refuses later reservations but never undoes booked
        ones; call :meth:`alerts` to hear about thresholds the new caps put behind.
        """
        self._caps.configure(scope, caps)
        self._routes.clear()

    def register_caps(self, scope: Scope, caps: Caps, *, month: str | None = None) -> None:
        """Add (or with ``Caps()`` withdraw) caps that a campaign brings itself, on top
        of the configured ones: where both cap a period, the lower one applies. Like
        :meth:`set_caps`, not journalled: registered again after a restart.

        ``month`` (a month key, ``month:2026-11``): the caps were counted for that month
        only; a paid send of the campaign in another month is refused with ``recount``
        until they are registered again (:class:`~actors.budget.values.Registered`)."""
        self._caps.register(scope, caps, month=month)
        self._routes.clear()

    # ------------------------------------------------------------------ queries

    def usage(self, scope: Scope, kind: PeriodKind, now: float) -> Usage:
        """What ``scope`` has booked in the ``kind`` period holding ``now``."""
        bucket = self._buckets.get((scope.kind, scope.id, period_keys(now, self._tz).of(kind)))
        cap = self.caps(scope).of(kind)
        if bucket is None:
            return Usage(ZERO, ZERO, cap)
        return Usage(bucket.spent, bucket.reserved, cap)

    def remaining(
        self, now: float, *, waba: str | None = None, campaign: str | None = None
    ) -> dict[str, Decimal]:
        """What is left under every cap a send in these scopes is subject to, by cap
        label (negative after an overshoot). Feed it to
        :meth:`actors.policy.cost.BudgetState.from_remaining`."""
        ks = key_seq(period_keys(now, self._tz))
        out: dict[str, Decimal] = {}
        for scope, sk, sid, capped in self._route(waba, campaign):
            for kind, i, cap in capped:
                bucket = self._buckets.get((sk, sid, ks[i]))
                used = ZERO if bucket is None else bucket.spent + bucket.reserved
                out[CapRef(scope, kind).label] = cap - used
        return out

    def replay_from(self, now: float) -> float:
        """Where rebuilding this ledger from the journal must start at ``now``.

        The oldest start of a current period (local day, ISO week, month): older entries
        only count in closed periods. And at least :data:`RETAIN_SETTLED_S` back, so a
        message still remembered for a late price has its reservation replayed with it
        (its price would otherwise count anew in today's periods). Why not a fixed 40
        days, as before: a daemon's start replays every entry since, about 5 µs each, so
        early in a month it now reads 8 days of history instead of 40.
        """
        starts = [period_bounds(now, self._tz, kind)[0] for kind in PERIODS]
        return min(*starts, now - RETAIN_SETTLED_S)

    def knows(self, reservation_id: str) -> bool:
        """Whether the ledger holds ``reservation_id`` (reserved, or settled and not yet
        forgotten)."""
        return reservation_id in self._items

    def remember_settled(
        self,
        reservation_id: str,
        amount: Decimal,
        booked_at: float,
        waba: str | None,
        campaign: str | None,
    ) -> None:
        """Remember a message settled at ``amount`` that this ledger's totals already
        count but that it does not hold (settled before a restore from a checkpoint, or
        forgotten by :meth:`prune`), as the journal says it was booked: a later price
        then replaces it instead of counting again. Nothing is booked; an id it holds is
        left as it is."""
        if reservation_id not in self._items:
            keys = period_keys(booked_at, self._tz)
            item = Item(money(amount, "amount"), booked_at, keys, waba, campaign, settled=True)
            self._items[reservation_id] = item

    def unbook(self, reservation_id: str) -> bool:
        """Take a settled message out, its price with it (False: not held settled): a
        daemon sharing caps settled it before learning of its reservation, which the
        journal has first; the coordinator applies both again in that order."""
        item = self._items.get(reservation_id)
        if item is None or not item.settled:
            return False
        del self._items[reservation_id]
        routes = self._route(item.waba, item.campaign)
        for bucket in books.held_buckets(self._buckets, routes, key_seq(item.keys)):
            bucket.spent -= item.amount
        return True

    def __len__(self) -> int:
        """How many messages the ledger remembers, reserved or settled."""
        return len(self._items)

    def reserved(self, reservation_id: str) -> Decimal | None:
        """The amount ``reservation_id`` holds while reserved; None otherwise."""
        item = self._items.get(reservation_id)
        return None if item is None or item.settled else item.amount

    def reserved_at(self, reservation_id: str) -> float | None:
        """When ``reservation_id`` was reserved while it is; None otherwise."""
        item = self._unsettled.get(reservation_id)
        return None if item is None else item.at

    def stale_reservations(self, before: float) -> list[str]:
        """Reservations made before ``before`` and neither settled nor released: sends
        whose outcome never came back, or came back outside the send path. The
        coordinator's reconciliation reads their outbox rows and releases those that
        can no longer be charged (:mod:`actors.budget.reconcile`)."""
        return sorted(i for i, it in self._unsettled.items() if it.at < before)

    def alerts(self, now: float) -> list[Alert]:
        """Thresholds of the current periods reached but not yet fired (e.g. after
        :meth:`set_caps` lowered a cap). Marks them fired."""
        ks = key_seq(period_keys(now, self._tz))
        out: list[Alert] = []
        for scope in sorted(self._caps.scopes(), key=lambda s: (s != GLOBAL, s)):
            fire(out, self._buckets, self._thresholds, self._route_of(scope), ks, now)
        return out

    # ------------------------------------------------------------------ changes

    def reserve(
        self,
        reservation_id: str,
        amount: Decimal,
        now: float,
        *,
        waba: str | None = None,
        campaign: str | None = None,
    ) -> Reservation | Refusal:
        """Book ``amount`` for a paid send at ``now`` if no cap that applies is crossed.

        All or nothing: every cap (global, the WABA's, the campaign's; daily, weekly,
        monthly) is checked before anything is booked. ``spent + reserved + amount ==
        cap`` still fits. A zero amount is always accepted (free messages go even when a
        cap is overrun). Raises ValueError for a negative amount or an id that is
        already held.
        """
        amount = money(amount, "amount")
        if reservation_id in self._items:
            raise ValueError(f"reservation {reservation_id!r} is already held")
        keys = period_keys(now, self._tz)
        if amount > ZERO:
            if campaign is not None and self._caps.recount(campaign, keys.month):
                return Refusal(
                    id=reservation_id,
                    amount=amount,
                    cap=CapRef(Scope.campaign(campaign), "month"),
                    cap_amount=ZERO,
                    used=ZERO,
                    period_key=keys.month,
                    recount=True,
                )
            ks = key_seq(keys)
            buckets = self._buckets
            for scope, sk, sid, capped in self._route(waba, campaign):
                for kind, i, cap in capped:
                    key = ks[i]
                    bucket = buckets.get((sk, sid, key))
                    used = ZERO if bucket is None else bucket.spent + bucket.reserved
                    if used + amount > cap:
                        return Refusal(
                            id=reservation_id,
                            amount=amount,
                            cap=CapRef(scope, kind),
                            cap_amount=cap,
                            used=used,
                            period_key=key,
                        )
        entry = LedgerEntry(
            op="reserve", id=reservation_id, amount=amount, at=now, waba=waba, campaign=campaign
        )
        alerts = self._apply_reserve(entry)
        return Reservation(
            id=reservation_id, amount=amount, periods=keys, alerts=tuple(alerts), entry=entry
        )

    def release(self, reservation_id: str, now: float) -> Release | None:
        """Free a reservation (the send failed or was never made).

        None when there is nothing to free: an unknown or already released id, or one
        already settled (Meta charged it; a settled cost is never released).
        """
        item = self._items.get(reservation_id)
        if item is None or item.settled:
            return None
        entry = LedgerEntry(
            op="release",
            id=reservation_id,
            amount=item.amount,
            at=now,
            waba=item.waba,
            campaign=item.campaign,
        )
        self._apply_release(entry)
        return Release(id=reservation_id, amount=entry.amount, entry=entry)

    def settle(
        self,
        reservation_id: str,
        actual: Decimal,
        now: float,
        *,
        waba: str | None = None,
        campaign: str | None = None,
    ) -> Settlement:
        """Record Meta's real price for a message, replacing its reservation.

        The amount moves from reserved to spent in the periods and scopes of the
        reservation (``waba``/``campaign`` are then ignored), even if it overshoots a cap
        (see the module docstring). A second settlement of the same id (a duplicate or
        later status) replaces the first, so webhooks never count twice. An id with no
        reservation (a message we thought free that Meta billed, or one released before
        its webhook) is booked as spent at ``now`` in the given scopes.
        Raises ValueError for a negative amount.
        """
        actual = money(actual, "actual")
        item = self._items.get(reservation_id)
        previous: Decimal | None = None
        if item is not None:
            previous = item.amount
            if item.settled and item.amount == actual:
                return Settlement(
                    id=reservation_id,
                    amount=actual,
                    previous=previous,
                    over_cap=self._over(item),
                    alerts=(),
                    entry=None,
                )
            waba, campaign = item.waba, item.campaign
        entry = LedgerEntry(
            op="settle",
            id=reservation_id,
            amount=actual,
            at=now,
            waba=waba,
            campaign=campaign,
            prev=previous if item is not None and item.settled else None,
            booked_at=None if item is None else item.at,
        )
        alerts = self._apply_settle(entry)
        return Settlement(
            id=reservation_id,
            amount=actual,
            previous=previous,
            over_cap=self._over(self._items[reservation_id]),
            alerts=tuple(alerts),
            entry=entry,
        )

    def settle_estimate(self, reservation_id: str) -> Settlement | None:
        """Settle a reservation at the amount it holds, for a message Meta accepted whose
        price never came (:func:`~actors.budget.reconcile.to_settle`); None when it is
        not held (released or settled meanwhile).

        The entry is stamped with the reservation's time, not now. Why: a start replays
        the journal from a time (:meth:`replay_from`), and this settlement comes days
        after its reservation; stamped now, a replay starting between the two would book
        it as a settlement without a reservation, in today's periods, where the running
        ledger never counted it. Stamped like its reservation, the two are replayed, or
        left out, together; and the message's periods are its reservation's anyway."""
        item = self._unsettled.get(reservation_id)
        if item is None:
            return None
        return self.settle(reservation_id, item.amount, item.at)

    # ------------------------------------------------------------------ journal

    def apply(self, entry: LedgerEntry) -> list[Alert]:
        """Apply one journaled change as it was made, without checking caps (they were
        checked when it was made, and may have changed since). Returns the alerts it
        fires, stamped with the entry's time. Raises ValueError for a reserve of an id
        already held (a corrupt journal)."""
        match entry.op:
            case "reserve":
                if entry.id in self._items:
                    raise ValueError(f"journal reserves {entry.id!r} twice")
                return self._apply_reserve(entry)
            case "release":
                item = self._items.get(entry.id)
                if item is not None and not item.settled:
                    self._apply_release(entry)
                return []
            case "settle":
                return self._apply_settle(entry)

    def replay(self, entries: Iterable[LedgerEntry]) -> int:
        """Rebuild from the journal, in the order written. Set caps first. Alerts the
        entries fire are marked fired and dropped: they were sent before the restart.
        Returns the number of entries applied."""
        n = 0
        for entry in entries:
            self.apply(entry)
            n += 1
        return n

    def checkpoint(self, now: float) -> dict[str, Any]:
        """The state a restart needs besides the journal after it, JSON-safe: the totals
        of the periods current at ``now`` (alerts fired included) and every reservation
        still held.

        Why: rebuilding from the journal alone replays every entry back to the oldest
        current period, up to a month of them. With a checkpoint taken when the ledger
        held exactly the journal's entries up to some position, :meth:`restore` needs
        only the entries after it. The settled messages it leaves out are not needed:
        a later price's entry says what it replaces (:class:`LedgerEntry`), and the
        coordinator recalls a message from the journal before settling it again
        (:meth:`remember_settled`).
        """
        return books.dump(self._tz, now, self._buckets, self._unsettled)

    def restore(self, checkpoint: Mapping[str, Any]) -> None:
        """Rebuild from a :meth:`checkpoint`; then :meth:`replay` the entries after it.
        Raises ValueError for a checkpoint of another time zone (its period keys name
        other days), of an older form (it relied on the days before it) or a malformed
        one."""
        if checkpoint.get("tz") != self._tz.key:
            raise ValueError(f"budget checkpoint of zone {checkpoint.get('tz')!r}")
        books.check_form(checkpoint)
        self._buckets = books.load_buckets(checkpoint)
        self._unsettled = books.load_held(checkpoint, self._tz)
        self._items = dict(self._unsettled)

    def prune(
        self,
        now: float,
        retain_s: float = RETAIN_SETTLED_S,
        forgotten: Callable[[str], None] | None = None,
    ) -> int:
        """Forget what no longer matters at ``now``: buckets of ended periods holding no
        reservation, and settled messages older than ``retain_s`` (each told to
        ``forgotten``). Open reservations are kept whatever their age. Returns how many
        buckets and messages were dropped. Later adjustments to a dropped period are not
        booked (it is closed).
        """
        dead_buckets = books.ended_buckets(self._buckets, set(key_seq(period_keys(now, self._tz))))
        for k in dead_buckets:
            del self._buckets[k]
        dead_items = books.settled_before(self._items, now - retain_s)
        for i in dead_items:
            del self._items[i]
            if forgotten is not None:
                forgotten(i)
        return len(dead_buckets) + len(dead_items)

    # ------------------------------------------------------------------ internals

    def _route_of(self, scope: Scope) -> Route:
        return (scope, scope.kind, scope.id, self._caps.capped(scope))

    def _route(self, waba: str | None, campaign: str | None) -> tuple[Route, ...]:
        routes = self._routes.get((waba, campaign))
        if routes is None:
            if len(self._routes) >= _ROUTES_MAX:
                self._routes.clear()
            routes = tuple(self._route_of(scope) for scope in books.scopes_of(waba, campaign))
            self._routes[(waba, campaign)] = routes
        return routes

    def _book_new(
        self, entry: LedgerEntry, *, settled: bool
    ) -> tuple[tuple[Route, ...], tuple[str, str, str]]:
        """Remember the message first seen in ``entry`` and add its amount to every bucket
        it opens: to what is reserved, or to what is spent when Meta's price comes first."""
        keys = period_keys(entry.at, self._tz)
        item = Item(entry.amount, entry.at, keys, entry.waba, entry.campaign, settled=settled)
        self._items[entry.id] = item
        if not settled:
            self._unsettled[entry.id] = item
        routes = self._route(entry.waba, entry.campaign)
        ks = key_seq(keys)
        for bucket in books.open_buckets(self._buckets, routes, ks):
            if settled:
                bucket.spent += entry.amount
            else:
                bucket.reserved += entry.amount
        return routes, ks

    def _apply_reserve(self, entry: LedgerEntry) -> list[Alert]:
        routes, ks = self._book_new(entry, settled=False)
        return fire_routes(self._buckets, self._thresholds, routes, ks, entry.at)

    def _apply_release(self, entry: LedgerEntry) -> None:
        item = self._items.pop(entry.id)
        self._unsettled.pop(entry.id, None)
        for bucket in books.held_buckets(
            self._buckets, self._route(item.waba, item.campaign), key_seq(item.keys)
        ):
            bucket.reserved -= item.amount

    def _apply_settle(self, entry: LedgerEntry) -> list[Alert]:
        item = self._items.get(entry.id)
        if item is None and entry.prev is not None and entry.booked_at is not None:
            # It replaces a price this ledger counted (from a checkpoint, or before it
            # forgot the message): remember the message as it was, then adjust.
            self.remember_settled(entry.id, entry.prev, entry.booked_at, entry.waba, entry.campaign)
            item = self._items[entry.id]
        if item is None:
            routes, ks = self._book_new(entry, settled=True)
        else:
            routes = self._route(item.waba, item.campaign)
            ks = key_seq(item.keys)
            for bucket in books.held_buckets(self._buckets, routes, ks):
                if item.settled:
                    bucket.spent += entry.amount - item.amount
                else:
                    bucket.reserved -= item.amount
                    bucket.spent += entry.amount
            item.amount = entry.amount
            item.settled = True
            self._unsettled.pop(entry.id, None)
        return fire_routes(self._buckets, self._thresholds, routes, ks, entry.at)

    def _over(self, item: Item) -> tuple[CapRef, ...]:
        routes = self._route(item.waba, item.campaign)
        return books.over_caps(self._buckets, routes, key_seq(item.keys))
