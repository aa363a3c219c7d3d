"""What a message costs: per-message prices by destination country and category.

Why this module exists: the system metad replaces priced messages from a map frozen at
import and guessed the category from substrings of the template name, so Portuguese
UTILITY templates (``julia_confirmacao_v1``) were billed as marketing, and it ignored the
``pricing`` object Meta puts on every status webhook (behaviour.md 7.6, 15.4 #21-22).

Here prices come from ``[pricing]`` in the config: one :class:`Rate` per calling-code
prefix (the longest prefix of the recipient's number wins, so ``1`` and ``1876`` can
differ), in USD, with the date the table took effect. Since 2025-07-01 Meta charges per
delivered template message (cloud-api.md 6), so:

* :meth:`PriceTable.estimate` is what a send is expected to cost *before* it goes, from
  the contact's windows: free-form (``service``) messages are free; utility templates are
  free inside an open customer-service window; inside an open free-entry-point window
  (click-to-WhatsApp) everything is free. The estimate is what the budget reserves.
* :meth:`PriceTable.settle` is what it did cost, from the ``pricing`` object of the
  status webhook: Meta's ``billable`` flag, ``type`` and ``category`` are authoritative;
  we only supply the price for Meta's category (the webhook carries no amount).

Unknown destinations: a number that matches no configured prefix raises
:class:`UnknownDestination` rather than falling back to some default rate. A wrong
price silently under-reserves the budget, while a refusal names the missing country and
is fixed by one line of config. Free messages never need a rate, so answers inside the
service window go to any country.

Contacts known only by their business-scoped user id (BSUID, ``BR.Xk9aZ81bQ``,
cloud-api.md 1) have no number, so no calling code to configure: refusing them asked
for config nobody could write, and such a contact could never get a paid template. They
are priced conservatively instead (:meth:`PriceTable.rate`): the rate of the country the
id names (its ISO prefix, through :mod:`actors.policy.calling_codes`), else the highest
configured rate of each category, so a budget is never under-reserved; the settlement
from Meta's ``pricing`` webhook books the category Meta charged.

Money is :class:`~decimal.Decimal` throughout; config floats are converted through their
shortest ``repr`` (``0.0068`` stays ``Decimal("0.0068")``, not a binary approximation).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal, Protocol, TypeAlias, cast

from actors.chip.contacts import is_bsuid
from actors.chip.window import CATEGORIES, WindowState
from actors.policy.calling_codes import calling_codes
from config.model import PriceRate, PricingConfig

__all__ = [
    "FREE_PRICING_TYPES",
    "ZERO",
    "Category",
    "PriceTable",
    "PricingInfo",
    "Rate",
    "UnknownDestination",
    "destination_digits",
    "parse_category",
    "to_decimal",
]

Category: TypeAlias = Literal[
    "marketing", "utility", "authentication", "authentication_international", "service"
]
"""Meta's pricing categories (lower case, as in the ``pricing`` object)."""

ZERO: Final = Decimal(0)

FREE_PRICING_TYPES: Final = frozenset({"free_customer_service", "free_entry_point"})
"""``pricing.type`` values meaning Meta did not charge the message."""

_SEPARATORS: Final = str.maketrans("", "", " -().")


class UnknownDestination(LookupError):
    """No configured rate matches the recipient's number (or it is not a phone number).

    Raised instead of guessing a price: see the module docstring.
    """

    def __init__(self, wa_id: str) -> None:
        self.wa_id = wa_id
        if is_bsuid(wa_id):
            # No calling code to name: priced from any rate at all, and there is none.
            advice = "[pricing] has no rates; add [[pricing.rates]] entries"
        else:
            advice = "add a [[pricing.rates]] entry for its calling code"
        super().__init__(f"no price for destination {wa_id!r}: {advice}")


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Money as Decimal; floats go through ``repr`` so ``0.0068`` stays exact."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def parse_category(raw: str) -> Category:
    """Meta's category in any case (templates say ``UTILITY``, webhooks ``utility``).

    Raises ValueError for anything that is not a pricing category.
    """
    text = raw.strip().lower()
    if text not in CATEGORIES:
        raise ValueError(f"unknown pricing category: {raw!r}")
    return cast(Category, text)


def destination_digits(wa_id: str) -> str:
    """The digits of a phone number or wa_id (``+55 (11) 98765-4321`` → ``5511987654321``).

    Raises :class:`UnknownDestination` for anything else, e.g. a business-scoped user id
    (``US.1349…``), which names no calling code.
    """
    text = wa_id.strip().translate(_SEPARATORS).removeprefix("+")
    if not text.isascii() or not text.isdigit():
        raise UnknownDestination(wa_id)
    return text


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per delivered message, by category, for one calling-code prefix."""

    prefix: str
    marketing: Decimal
    utility: Decimal
    authentication: Decimal
    authentication_international: Decimal
    service: Decimal

    @classmethod
    def from_config(cls, rate: PriceRate) -> Rate:
        """A config rate in Decimal. ``authentication_international`` defaults to the
        ``authentication`` price: most countries have no separate international rate."""
        auth = to_decimal(rate.authentication)
        intl = rate.authentication_international
        return cls(
            prefix=rate.prefix,
            marketing=to_decimal(rate.marketing),
            utility=to_decimal(rate.utility),
            authentication=auth,
            authentication_international=auth if intl is None else to_decimal(intl),
            service=to_decimal(rate.service),
        )

    def of(self, category: Category) -> Decimal:
        """The price of one message of ``category``."""
        match category:
            case "marketing":
                return self.marketing
            case "utility":
                return self.utility
            case "authentication":
                return self.authentication
            case "authentication_international":
                return self.authentication_international
            case "service":
                return self.service


def _ceiling(rates: list[Rate]) -> Rate:
    """One rate that charges, in each category, the most any of ``rates`` does."""
    if all(r == rates[0] for r in rates):
        return rates[0]
    return Rate(
        prefix="|".join(dict.fromkeys(r.prefix for r in rates)),
        marketing=max(r.marketing for r in rates),
        utility=max(r.utility for r in rates),
        authentication=max(r.authentication for r in rates),
        authentication_international=max(r.authentication_international for r in rates),
        service=max(r.service for r in rates),
    )


class PricingInfo(Protocol):
    """The ``pricing`` object of a status webhook, as parsed by the webhook layer.

    A protocol so that ``daemon.webhook.events.Pricing`` fits without this package
    importing the daemon.
    """

    @property
    def billable(self) -> bool | None: ...

    @property
    def pricing_model(self) -> str | None: ...

    @property
    def category(self) -> str | None: ...

    @property
    def type(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PriceTable:
    """The configured rate card. Build it with :meth:`from_config`."""

    rates: tuple[Rate, ...]
    """Longest prefix first, so the first match is the most specific."""
    effective_date: dt.date
    currency: str = "USD"

    @classmethod
    def from_config(cls, cfg: PricingConfig) -> PriceTable:
        """The table of ``[pricing]``. Raises ValueError on a duplicate prefix (the
        config loader reports those with line numbers first; this guards code-built
        configs, where the winner would otherwise be arbitrary)."""
        seen: set[str] = set()
        for r in cfg.rates:
            if r.prefix in seen:
                raise ValueError(f"duplicate pricing prefix {r.prefix!r}")
            seen.add(r.prefix)
        rates = sorted(
            (Rate.from_config(r) for r in cfg.rates), key=lambda r: (-len(r.prefix), r.prefix)
        )
        return cls(rates=tuple(rates), effective_date=cfg.effective_date, currency=cfg.currency)

    def rate(self, wa_id: str) -> Rate:
        """The rate of the longest prefix matching ``wa_id``'s digits; for a BSUID, see
        :meth:`user_id_rate`.

        Raises :class:`UnknownDestination` when none matches.
        """
        if is_bsuid(wa_id):
            return self.user_id_rate(wa_id)
        found = self._longest_match(destination_digits(wa_id))
        if found is None:
            raise UnknownDestination(wa_id)
        return found

    def user_id_rate(self, bsuid: str) -> Rate:
        """The rate of a contact known only by its BSUID: its country's, priced as a
        number of that country would be (the longest prefix its calling code starts
        with; the highest of them for a country with several codes); the highest
        configured rate of each category when the id names a country no rate covers
        (or one :mod:`actors.policy.calling_codes` does not know).

        Why the highest: Meta charges by the recipient's country, which metad cannot
        know here; reserving more than the message costs is corrected by its
        settlement, reserving less lets a budget cap be crossed.

        Raises :class:`UnknownDestination` only when no rate is configured at all.
        """
        country = bsuid.partition(".")[0]
        found = [r for c in calling_codes(country) if (r := self._longest_match(c)) is not None]
        if not found:
            found = list(self.rates)
        if not found:
            raise UnknownDestination(bsuid)
        return _ceiling(found)

    def _longest_match(self, digits: str) -> Rate | None:
        for r in self.rates:
            if digits.startswith(r.prefix):
                return r
        return None

    def price(self, wa_id: str, category: str) -> Decimal:
        """List price of one message of ``category`` to ``wa_id``, ignoring windows.

        Raises ValueError for an unknown category, :class:`UnknownDestination` for a
        number no rate covers.
        """
        return self.rate(wa_id).of(parse_category(category))

    def estimate(self, wa_id: str, category: str, window: WindowState) -> Decimal:
        """What sending a ``category`` message to ``wa_id`` now is expected to cost.

        Zero for ``service`` (free-form; it can only go inside the service window, where
        it is free), for ``utility`` inside an open service window, and for anything
        inside an open free-entry-point window. ``window`` must be taken with the safety
        margin applied (:meth:`actors.chip.window.WindowBook.state` does), so a window
        about to close is not counted on. Free cases never look up a rate, so they do
        not raise :class:`UnknownDestination`.
        """
        cat = parse_category(category)
        if cat == "service" or window.free_entry_open:
            return ZERO
        if cat == "utility" and window.service_open:
            return ZERO
        return self.rate(wa_id).of(cat)

    def settle(self, pricing: PricingInfo, wa_id: str) -> Decimal:
        """What a sent message really cost, from its status webhook's ``pricing``.

        ``billable: false`` or a free ``type`` (free_customer_service,
        free_entry_point) → 0. Otherwise the price of Meta's ``category`` (not the one
        we estimated: Meta may recategorise a template). ``billable`` absent counts as
        billable: assuming a cost keeps the budget on the safe side.

        ``pricing_model`` CBP (conversation-based, retired 2025-07-01) is priced per
        message like PMP: it can only over-count, which a budget tolerates.

        Raises ValueError when a billable message carries no or an unknown category,
        :class:`UnknownDestination` when no rate covers ``wa_id``; the caller then keeps
        the reserved estimate as the settled amount.
        """
        if pricing.billable is False:
            return ZERO
        kind = (pricing.type or "").strip().lower()
        if kind in FREE_PRICING_TYPES:
            return ZERO
        if pricing.category is None:
            raise ValueError("billable pricing without a category")
        return self.price(wa_id, pricing.category)
